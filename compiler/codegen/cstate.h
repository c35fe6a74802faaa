/* Internal state shared by the compiler's files: emit.c (instructions,
 * registers, jumps), resolve.c (scopes and names), compiler.c (expressions,
 * functions), stmt.c (statements), literal.c (list, tuple, struct literals,
 * f-strings), pattern.c (match patterns) and items.c (module items, type
 * annotations). */
#ifndef NS_CSTATE_H
#define NS_CSTATE_H

#include "arith_op.h"
#include "compiler.h"
#include "verify.h"

#define NO_REG (-1)
#define MAX_REGS 250
#define MAX_LOCALS 200
#define MAX_UPVALS 250
#define MAX_CALL_ARGS 200 /* arguments of one call (they take consecutive registers) */

typedef struct {
  const char *name; /* NULL for hidden slots (loop state, pattern temps) */
  int reg;
  int depth;
  bool is_mut;     /* `let mut` */
  bool mut_target; /* may have fields/elements assigned: mut, &mut, untyped param */
  bool captured;
  bool has_unit;   /* annotated with a unit type: dimensions known statically */
  int8_t unit_dim[7];
  Span span;       /* where it was declared */
  int live;        /* its entry in FuncState.live (for the verifier) */
} Local;

typedef struct {
  const char *name;
  uint8_t index;
  bool in_stack;
  bool is_mut, mut_target;
  Span span;
} Upval;

/* A jump list: instruction indices of JMPs waiting for a target. */
typedef struct {
  int *at;
  int len, cap;
} Jumps;

typedef struct Loop {
  struct Loop *outer;
  const char *label;
  int dst;         /* register for `break value`, or NO_REG */
  int depth;       /* scope depth outside the loop body */
  int base_reg;    /* first register of the loop's locals (closed on exit) */
  Jumps breaks;
  Jumps continues;
} Loop;

typedef struct FuncState {
  struct FuncState *enclosing;
  ObjProto *proto;
  Local locals[MAX_LOCALS];
  int nlocals;
  Upval upvals[MAX_UPVALS];
  int nupvals;
  int depth;
  int freereg;
  int floor;             /* registers below this belong to an enclosing
                            expression (a block's destination) */
  Loop *loop;
  ObjTypeSpec *ret_spec; /* checked on every return, or NULL */
  bool is_toplevel;      /* the module chunk: depth-0 lets are globals */
  bool no_grad;          /* the closure of a no_grad block: return/break cannot leave it */
  bool out_of_regs;      /* "needs more than MAX_REGS registers" was reported */
  VerifyLocal *live;     /* every local's register and live range, for the verifier */
  int nlive, caplive;
} FuncState;

/* What the compiler knows about a module-level name at compile time. */
typedef struct ItemInfo {
  const char *name;
  Node *node;       /* STRUCT, ENUM, TRAIT, TYPE_ALIAS, FN, CONST */
  struct ItemInfo *next;
} ItemInfo;

typedef struct Compiler {
  VM *vm;
  const CompileEnv *env;
  ObjModule *mod;
  Source *src;
  DiagList *diags;
  Arena arena;
  FuncState *fs;
  int flags;
  ItemInfo *items;       /* type aliases and generic names in scope */
  NodeList *generics[8]; /* generic parameter lists of the enclosing items */
  int ngenerics;
  ObjClass *self_class;  /* inside impl/trait: the class `Self` means */
  uint32_t self_slot;
  const char *fn_name;   /* for "argument `x` of `f`" */
} Compiler;

/* emit.c: diagnostics, instructions, constants, registers, jumps */
Diag *c_error(Compiler *c, Span sp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
Diag *c_note(Compiler *c, Span sp, const char *msg);
int c_emit(Compiler *c, uint32_t ins, Span sp);
int c_const(Compiler *c, Value v, Span sp);
int c_str_const(Compiler *c, const char *s, Span sp);
void c_emit_k8(Compiler *c, OpCode op, int a, int b, int k, Span sp);
int c_alloc_reg(Compiler *c, Span sp);
/* Release the temporaries from register r up. Never below the live locals:
 * a local's register stays allocated until its scope ends. */
void c_free_to(Compiler *c, int r);
int c_locals_top(FuncState *fs);
int c_active_top(FuncState *fs);
/* The runtime's operator for a parser operator (AOP__COUNT if the runtime
 * has none: && || ∉ and * are compiled to jumps and other opcodes). */
ArithOp c_arith_op(OpKind op);
int c_jump(Compiler *c, Span sp);
int c_here(Compiler *c);
void c_patch_to(Compiler *c, int at, int target);
void c_patch_here(Compiler *c, Jumps *j);
void c_jumps_push(Compiler *c, Jumps *j, int at);

/* expect.c: compile e as the initialiser of a value annotated `expect`
 * (NULL: none), so `Matrix::zeros()` takes its shape from
 * `Matrix<f32, 3, 4>` */
void c_expr_for(Compiler *c, Node *e, int dst, const ObjTypeSpec *expect);
/* The tensor annotation of the parameter that argument i of a call of
 * `callee` (NULL: a method) fills, when that argument is a constructor
 * that takes its shape from one; else NULL. */
const ObjTypeSpec *c_param_expect(Compiler *c, Node *callee, NodeList *args, int i);

/* items.c: the item (fn, struct, alias, ...) of this module named `name` */
ItemInfo *c_find_item(Compiler *c, const char *name);
/* Tensor dtype names in DType order (runtime/tensor/tensor.h) */
extern const char *const c_tensor_dtypes[4];

/* resolve.c: scopes, locals, upvalues, globals, paths, assignability */
int c_add_local(Compiler *c, const char *name, int reg, bool is_mut, Span sp);
void c_enter_scope(Compiler *c);
void c_exit_scope(Compiler *c);
/* End the locals above the first n (their live ranges end here). */
void c_pop_locals(Compiler *c, int n);
/* The local's live range starts here (after code that initializes it). */
void c_local_starts_here(Compiler *c, int local);
/* A new entry of the verifier's table of locals and assignments. */
VerifyLocal *c_live_entry(Compiler *c);
/* The innermost local of fs named `name` (its index in fs->locals), or -1. */
int c_local_index(FuncState *fs, const char *name);
Local *c_find_local(Compiler *c, const char *name);
/* fs's upvalue for `name`, captured from the enclosing functions (and
 * added to each on the way) if needed; -1 if no enclosing local has it. */
int c_upval_index(Compiler *c, FuncState *fs, const char *name);
int c_resolve_global(Compiler *c, const char *name);
typedef enum { NAME_LOCAL, NAME_UPVAL, NAME_GLOBAL, NAME_NONE } NameKind;
/* What `name` is here (its local, upvalue or global index in *index). */
NameKind c_resolve(Compiler *c, const char *name, int *index);
/* Load the variable `name` into dst ("cannot find" with a hint if none). */
void c_load_name(Compiler *c, const char *name, Span sp, int dst);
/* Store register r into variable `name`, which must be assignable. */
void c_store_name(Compiler *c, const char *name, Span sp, int r);
/* The compile-time value of a module global (a class, a variant value), or
 * UNDEF. Resolves IDENT and PATH nodes. */
Value c_static_value(Compiler *c, Node *path);
/* Member `name` of a compile-time value (a class's variant or method, a
 * module's global), or UNDEF. */
Value c_static_member(Compiler *c, Value v, const char *name);
const char *c_path_text(Compiler *c, Node *path);
/* The variable at the root of a place expression (`p` in `p.a[1].b`). */
Node *c_place_root(Node *e);
/* Assigning to a part of target (a field or element) needs a mutable root. */
void c_check_mutable_root(Compiler *c, Node *target);
void c_assign_error_immutable(Compiler *c, const char *name, Span sp, Span decl, bool is_const);

/* compiler.c: expressions, conditions, functions, modules */
void c_expr(Compiler *c, Node *e, int dst);
int c_expr_any(Compiler *c, Node *e);
void c_load_path(Compiler *c, Node *path, int dst);
void c_cond_jump(Compiler *c, Node *e, bool jump_if, Jumps *out);

/* literal.c */
/* List or tuple (op NEWLIST / NEWTUPLE) of the elements into dst; `whole`
 * is the list literal node when LISTK may load it as one constant. */
void c_sequence(Compiler *c, NodeList *elems, OpCode op, int dst, Span sp, Node *whole);
void c_fstring(Compiler *c, Node *f, int dst);
void c_struct_lit(Compiler *c, Node *e, int dst);

/* stmt.c */
void c_stmt(Compiler *c, Node *s);
void c_block(Compiler *c, Node *b, int dst);
void c_if(Compiler *c, Node *e, int dst);
void c_while(Compiler *c, Node *e, int dst);
void c_for(Compiler *c, Node *e, int dst);
void c_break(Compiler *c, Node *e, bool is_continue);
void c_big_op(Compiler *c, Node *e, int dst);
/* RETURN r (r < 0: unit), checking the declared return type. */
void c_emit_return(Compiler *c, int r, Span sp);

/* quantity.c */
void c_quantity_literal(Compiler *c, Node *e, int dst);
/* A dimension mismatch in + - or a comparison of compile-time quantities. */
void c_check_units(Compiler *c, Node *binary);
/* Record on local `i` the dimensions of its unit-type annotation `type`
 * (no-op for other types), for compile-time unit checks. */
void c_note_local_unit(Compiler *c, int local, Node *type);
bool c_is_unit_type(Compiler *c, Node *type);
ObjTypeSpec *c_unit_typespec(Compiler *c, Node *type, const char *what);

/* pattern.c */
/* Emit tests of R[reg] against pat, adding jumps taken on mismatch to
 * fails, and declare the pattern's bindings as locals. */
void c_pattern(Compiler *c, Node *pat, int reg, Jumps *fails);
/* True if the pattern is a plain name binding (no `@`, not a constant or
 * unit variant it would compare against). */
bool c_pattern_is_binding(Compiler *c, Node *pat);
/* True if the pattern matches every value (no test emitted). */
bool c_pattern_irrefutable(Compiler *c, Node *pat);
/* True if the pattern only takes values apart (tuples, structs, bindings):
 * its shape is checked at run time instead of being a refutable pattern. */
bool c_pattern_destructures(Compiler *c, Node *pat);
/* After c_pattern: route its mismatches to a runtime "pattern did not
 * match" error, or report a compile error if the pattern can legitimately
 * fail (`what` names the construct). */
void c_pattern_must_match(Compiler *c, Node *pat, int reg, Jumps *fails, const char *what);
void c_match(Compiler *c, Node *e, int dst);

/* items.c */
ObjTypeSpec *c_typespec(Compiler *c, Node *type, const char *what);
void c_declare_items(Compiler *c, NodeList *items);
void c_define_items(Compiler *c, NodeList *items);
void c_item_runtime(Compiler *c, Node *item); /* use/const code at its place */
ObjProto *c_function(Compiler *c, Node *fn, const char *name);
ObjProto *c_closure_proto(Compiler *c, Node *closure);

/* extern.c */
/* Open the library of an `extern` block and set each of its fns (already
 * declared as globals) to a native calling the C symbol. */
void c_extern_block(Compiler *c, Node *ext);

#endif
