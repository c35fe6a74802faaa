/* The bytecode compiler: resolves names (locals, upvalues, module globals,
 * the prelude), checks what can be checked before running (undefined names,
 * assignment to immutable bindings, enum match exhaustiveness, struct
 * literal fields) and emits register bytecode (runtime/bytecode/opcodes.def). */
#ifndef NS_COMPILER_H
#define NS_COMPILER_H

#include "ast.h"
#include "bytecode.h"
#include "gc.h"
#include "value.h"

enum {
  COMPILE_REPL = 1 /* the last expression statement's value becomes the
                      chunk's result (the REPL prints it) */
};

/* What the compiler needs from the program that embeds it: the names every
 * module sees, and the FFI for `extern` blocks (runtime/lang/cffi.c), which
 * binds C functions while compiling. */
typedef struct {
  ObjModule *prelude;
  int flags; /* COMPILE_* */
  /* dlopen a library once per name ("C": the running process); NULL with
   * a message in err. NULL: `extern` blocks are refused (a VM with
   * limits, where C code would run outside their accounting). */
  void *(*ffi_open)(const char *lib, char *err, size_t errlen);
  /* A native calling symbol `name` of `handle` with signature `sig` (see
   * cffi_native_new); NULL with a message in err. */
  ObjNative *(*ffi_native)(VM *vm, void *handle, const char *lib, const char *name, const char *sig,
                           const char *const *params, int nparams, char *err, size_t errlen);
  /* A name the module does not have: true if it belongs to the part of the
   * prelude compiled on first use, which is now in the prelude and bound in
   * `mod`. NULL: no such part (compiling the prelude itself). */
  bool (*prelude_more)(VM *vm, ObjModule *mod, const char *name);
} CompileEnv;

/* Compile a parsed module into its top-level proto ("<module>"), declaring
 * its globals in `mod`. NULL if any error was added to diags. */
ObjProto *compile_module(VM *vm, ObjModule *mod, Source *src, const Ast *ast, DiagList *diags,
                         const CompileEnv *env);

#endif
