/* The bytecode compiler: resolves names (locals, upvalues, module globals,
 * the prelude), checks what can be checked before running (undefined names,
 * assignment to immutable bindings, enum match exhaustiveness, struct
 * literal fields) and emits register bytecode (runtime/bytecode/opcodes.def). */
#ifndef NS_COMPILER_H
#define NS_COMPILER_H

#include "ast.h"
#include "vm.h"

enum {
  COMPILE_REPL = 1 /* the last expression statement's value becomes the
                      chunk's result (the REPL prints it) */
};

/* Compile a parsed module into its top-level proto ("<module>"), declaring
 * its globals in `mod`. NULL if any error was added to diags. */
ObjProto *compile_module(VM *vm, ObjModule *mod, Source *src, const Ast *ast,
                         DiagList *diags, int flags);

#endif
