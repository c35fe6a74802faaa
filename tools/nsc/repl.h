/* The interactive read-eval-print loop of `nsc` / `nsc repl`. */
#ifndef NSC_REPL_H
#define NSC_REPL_H

#include <stdbool.h>

#include "neuralscript.h"

/* Reads entries until EOF or :quit and runs each in vm's main module.
 * interactive: stdin is a terminal, so show a banner and prompts and edit
 * lines with libedit (history in ~/.nsc_history); otherwise read plain
 * lines silently. Errors are printed and the loop carries on; returns
 * NS_EXIT_OK. */
int repl_run(NsVM *vm, bool interactive);

#endif
