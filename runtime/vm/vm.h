/* The register VM: state, calls, errors, and the interface natives use. */
#ifndef NS_VM_H
#define NS_VM_H

#include <stdio.h>

#include "arith_op.h"
#include "bytecode.h"
#include "gc.h"
#include "range.h"
#include "value.h"

#define NS_MAX_FRAMES 20000   /* "recursion too deep" beyond this */
#ifndef NS_STACK_SLOTS /* the fuzz build makes it small: ASan's calloc clears every byte */
#define NS_STACK_SLOTS (1u << 22)
#endif
#define NS_MAX_NATIVE_DEPTH 200

typedef struct CallFrame {
  ObjClosure *closure;
  const uint32_t *pc;
  Value *base; /* R[0] */
  Value *ret;  /* where RETURN stores the result */
  bool stop;   /* returning from this frame returns from vm_execute (native re-entry) */
} CallFrame;

/* One entry of a runtime error's stack trace. */
typedef struct {
  char *function;
  char *path;   /* NULL for a native function (shown without a position) */
  int line, col;
  Source *src;  /* for printing the source line; owned by the VM */
} TraceEntry;

typedef enum { NS_OK = 0, NS_RUNTIME_ERROR = 1, NS_COMPILE_ERROR = 2 } NsStatus;

/* What the interpreter hands to the layer above it (runtime/lang), which
 * defines the prelude, formatting and the value types the VM does not
 * know (tensors). Filled in by builtins_init. */
typedef struct {
  /* Display form (debug: the {:?} form) and a format spec such as ">8",
   * ".4f" (format.c); NULL after vm_error */
  ObjString *(*format_value)(VM *vm, Value v, bool debug);
  ObjString *(*format_spec)(VM *vm, Value v, const char *spec, size_t speclen);
  Value (*clone)(VM *vm, Value v); /* x.clone(): a deep copy (builtins.c) */
  /* The language's view of tensors (lib_tensor.c): operators with a tensor
   * operand (op as arith_binary's), `.T`/`.shape`/`.grad`, x[i], x[a:b, :],
   * x[mask] and assignment to them; false after vm_error */
  bool (*tensor_binary)(VM *vm, ArithOp op, Value a, Value b, Value *out);
  bool (*tensor_inplace)(VM *vm, ArithOp op, Value a, Value b, Value *out);
  bool (*tensor_unary)(VM *vm, ArithOp op, Value a, Value *out);
  bool (*tensor_get_field)(VM *vm, Value obj, ObjString *name, Value *out);
  bool (*tensor_set_field)(VM *vm, Value obj, ObjString *name, Value v);
  bool (*tensor_get_index)(VM *vm, Value obj, Value idx, Value *out);
  bool (*tensor_set_index)(VM *vm, Value obj, Value idx, Value v);
  /* Operators and fields of quantities with units (lib_units.c) */
  bool (*quantity_binary)(VM *vm, ArithOp op, Value a, Value b, Value *out);
  bool (*quantity_unary)(VM *vm, ArithOp op, Value a, Value *out);
  bool (*quantity_compare)(VM *vm, ArithOp op, Value a, Value b, bool *out);
  bool (*quantity_get_field)(VM *vm, Value q, ObjString *name, Value *out);
  /* the shortest text that reads back as d, with a decimal point (format.c) */
  void (*format_float)(char *buf, size_t size, double d);
  /* A runtime error left the interpreter loop: reset what the blocks it
   * left had set (grad mode inside no_grad). May be NULL. */
  void (*error_unwind)(VM *vm);
  void (*free)(VM *vm); /* vm_free: release the layer's own state */
} LangHooks;

struct VM {
  Heap heap; /* first: core code reaches it as HEAP(vm) (gc.h) */
  Value *stack, *stack_end;
  CallFrame *frames;
  int nframes;
  ObjUpvalue *open_upvalues;

  int native_depth;      /* natives on the C stack (limits C recursion) */
  ObjNative *native;     /* the native being entered (FFI natives read their data) */
  int gc_unsafe;         /* natives on the C stack that may hold unrooted
                            values: collect only at 0 (see gc.c) */

  /* modules */
  ObjModule *prelude;    /* builtins every module sees */
  ObjModule *main_module;
  ObjMap *modules;       /* path string -> module */
  Source **sources;      /* every source compiled, freed with the VM */
  int nsources, capsources;
  char *script_dir;      /* directory of the main script, for imports */

  /* built-in classes: methods of values that are not struct instances */
  ObjClass *class_of_type[VAL_OBJ + 1];   /* unit, bool, int, float, char */
  ObjClass *class_of_obj[OBJ__COUNT];     /* string, list, tuple, range, map, ... */
  ObjClass *option_class, *result_class;  /* the prelude's Option and Result */

  /* errors */
  bool has_error;
  char error[1024];      /* message of the pending runtime error */
  TraceEntry *trace;     /* innermost first */
  int ntrace;
  FILE *err;             /* where errors are printed (stderr) */
  FILE *out;             /* program output (stdout) */
  bool out_midline;      /* the last print to `out` did not end its line */
  bool color;

  /* the tensor engine's context (runtime/tensor), made by lib_tensor_init */
  struct TCtx *tc;
  LangHooks lang;        /* the layer above: see LangHooks */
  /* BC_IMPORT: load, compile and run the module named by `path` ("math",
   * "nn::layers", "./util.ns") once, relative to the importing module;
   * false on an error (a cycle, a missing file, a compile error). Set by
   * the embedding API (runtime/api/api.c), which holds the compiler; NULL:
   * importing is an error. */
  bool (*import)(VM *vm, ObjString *path, ObjModule *from, Value *out);

  /* options */
  ObjList *args;         /* script arguments, `args()` */
  Value last_value;      /* REPL: value of the last expression statement */
  bool repl;

  /* Limits for running untrusted programs (the fuzz target), off unless
   * vm_set_limits (builtins.h) turned them on; checked at the interpreter's safe points
   * (every loop iteration, every call). */
  bool limited;
  uint64_t budget;         /* safe points a program may pass; 0 = no limit */
  uint64_t steps;          /* safe points passed so far */
  size_t max_tensor_bytes; /* tensor storage alive at once; 0 = no limit */
};

/* The interpreter alone, without the prelude and built-in classes:
 * programs run in lang_vm_new() (runtime/lang/builtins.h), which adds them. */
VM *vm_new(void);
void vm_free(VM *vm);

/* Runtime errors: record the message (printf-style) and return false so a
 * native can `return vm_error(vm, ...)`. The trace is captured when the
 * error reaches the interpreter loop. */
bool vm_error(VM *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vm_print_error(VM *vm); /* file:line:col: runtime error: ... + trace */
/* Before writing to `to` (stderr) after program output: flush the output
 * and, when both go to the same terminal or file and the output stopped in
 * the middle of a line, end that line so the message starts on its own. */
void vm_end_output_line(VM *vm, FILE *to);
void vm_clear_error(VM *vm);

/* Run a compiled top-level chunk (a closure of a module's <module> proto). */
NsStatus vm_run(VM *vm, ObjClosure *chunk, Value *result);
/* Call any callable with arguments from C (natives use this for callbacks);
 * false on a runtime error. */
bool vm_call(VM *vm, Value callee, Value *args, int argc, Value *out);
/* Find a method of a value's class (its struct/enum, or the built-in class
 * of its type); false if none. Call it with the receiver as the first
 * argument. Fields holding functions are not methods and are not found. */
bool vm_find_method(VM *vm, Value receiver, ObjString *name, Value *out);
ObjClass *vm_class_of(VM *vm, Value v);



/* Sources compiled by this VM live as long as it (protos point into them). */
void vm_add_source(VM *vm, Source *src);



/* Slow-path operators (arith.c): every type combination the fast paths in
 * vm.c do not handle. false on error. */
bool arith_binary(VM *vm, ArithOp op, Value a, Value b, Value *out);
/* `a op= b`: a tensor leaf a is updated in place (outside autograd) and
 * returned; everything else as arith_binary. */
bool arith_inplace(VM *vm, ArithOp op, Value a, Value b, Value *out);
bool arith_unary(VM *vm, ArithOp op, Value a, Value *out);
bool arith_compare(VM *vm, ArithOp op, Value a, Value b, bool *out); /* AOP_LT .. AOP_GE */
bool arith_cast(VM *vm, Value v, ObjString *type, Value *out);
/* a == b through the `eq` method of a struct or enum operand's type, else
 * value_equal; false on error. */
bool arith_user_equal(VM *vm, Value a, Value b, bool *out);
/* The method `name` of v's struct or enum type when that type implements
 * the prelude trait `trait` (NULL: any method of that name); false for
 * other values. */
bool arith_user_method(VM *vm, Value v, const char *trait, const char *name, Value *out);
/* Calls an operator method in a nested interpreter loop, counted as native
 * depth, so a method that applies its own operator ends in an error. */
bool arith_call_user(VM *vm, Value f, Value *args, int argc, Value *out);

/* Type annotation check: true if v conforms (converting int -> float when
 * the annotation asks for a float); else vm_error with both types. */
bool vm_check_type(VM *vm, ObjTypeSpec *ts, Value *v);


#endif
