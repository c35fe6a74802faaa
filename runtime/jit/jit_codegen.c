/* Kernel code generation: one KDesc -> one LLVM function
 *
 *   void kernel(ptr ptrs, ptr args, i64 lo, i64 hi)
 *
 * a loop nest over the kernel's dims (dim 0 from lo to hi, the others in
 * full) whose innermost dim runs in two loops: a vector loop of `lanes`
 * elements per iteration, then a scalar loop for the rest. Both run the
 * same per-element program, emitted twice by emit_program(): once with
 * vector values, once with scalars.
 *
 * Each KI_OP is its op's row of tensor_scalar.def, expanded below with the
 * primitives defined as IR builder calls (S_ADD -> fadd, S_MAX -> the
 * NaN-propagating compare-and-select, S_EXP -> jit_math.c's exp...). No
 * fast-math flags: + - * / and sqrt are the IEEE operations the C kernels
 * do, so their results are the same bits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit_int.h"

/* ---- IR helpers ---- */

LLVMValueRef jit_const_f(LLVMTypeRef ty, double c) {
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return LLVMConstReal(ty, c);
  unsigned n = LLVMGetVectorSize(ty);
  LLVMValueRef e = LLVMConstReal(LLVMGetElementType(ty), c), el[64];
  for (unsigned i = 0; i < n; i++) el[i] = e;
  return LLVMConstVector(el, n);
}

LLVMValueRef jit_const_i(LLVMTypeRef ty, long long c) {
  if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind) return LLVMConstInt(ty, (unsigned long long)c, 1);
  unsigned n = LLVMGetVectorSize(ty);
  LLVMValueRef e = LLVMConstInt(LLVMGetElementType(ty), (unsigned long long)c, 1), el[64];
  for (unsigned i = 0; i < n; i++) el[i] = e;
  return LLVMConstVector(el, n);
}

LLVMValueRef jit_splat(LLVMBuilderRef b, LLVMValueRef s, unsigned lanes) {
  if (lanes <= 1) return s;
  LLVMTypeRef st = LLVMTypeOf(s), vt = LLVMVectorType(st, lanes);
  LLVMContextRef ctx = LLVMGetTypeContext(st);
  LLVMValueRef zero = LLVMConstInt(LLVMInt32TypeInContext(ctx), 0, 0);
  LLVMValueRef v = LLVMBuildInsertElement(b, LLVMGetPoison(vt), s, zero, "");
  return LLVMBuildShuffleVector(b, v, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(LLVMInt32TypeInContext(ctx), lanes)), "");
}

/* A call of the intrinsic `name` overloaded on its first argument's type. */
LLVMValueRef jit_intrinsic(LLVMModuleRef mod, LLVMBuilderRef b, const char *name, LLVMValueRef *args,
                           unsigned nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMTypeRef ty = LLVMTypeOf(args[0]);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(mod, id, &ty, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(LLVMGetModuleContext(mod), id, &ty, 1);
  return LLVMBuildCall2(b, fty, fn, args, nargs, "");
}

/* ---- the primitives ---- */

typedef struct {
  LLVMModuleRef mod;
  LLVMContextRef ctx;
  LLVMBuilderRef bld;
  unsigned lanes; /* of the loop being emitted: 1 or the vector width */
  int ct, rt;     /* the dtype the row computes in (S_K); the result dtype (S_CONVERT) */
  LLVMValueRef a0, a1;
} Gen;

static LLVMTypeRef scalar_type(LLVMContextRef ctx, int dt) {
  return dt == DT_F64 ? LLVMDoubleTypeInContext(ctx) : dt == DT_F32 ? LLVMFloatTypeInContext(ctx) : LLVMInt1TypeInContext(ctx);
}
static LLVMTypeRef value_type(Gen *g, int dt, unsigned lanes) {
  LLVMTypeRef t = scalar_type(g->ctx, dt);
  return lanes > 1 ? LLVMVectorType(t, lanes) : t;
}
static int dtype_of(LLVMValueRef v) {
  LLVMTypeRef t = LLVMTypeOf(v);
  if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) t = LLVMGetElementType(t);
  switch (LLVMGetTypeKind(t)) {
  case LLVMFloatTypeKind: return DT_F32;
  case LLVMDoubleTypeKind: return DT_F64;
  default: return DT_BOOL;
  }
}
static unsigned lanes_of(LLVMValueRef v) {
  LLVMTypeRef t = LLVMTypeOf(v);
  return LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetVectorSize(t) : 1;
}

/* S_CONVERT and every implicit conversion: as C converts numbers, with
 * bool = (x != 0) (so NaN is true) and a bool read as 0 or 1. */
static LLVMValueRef convert(Gen *g, LLVMValueRef v, int to) {
  int from = dtype_of(v);
  unsigned lanes = lanes_of(v);
  if (from == to) return v;
  if (to == DT_BOOL) return LLVMBuildFCmp(g->bld, LLVMRealUNE, v, jit_const_f(LLVMTypeOf(v), 0.0), "");
  LLVMTypeRef ty = value_type(g, to, lanes);
  if (from == DT_BOOL) return LLVMBuildUIToFP(g->bld, v, ty, "");
  return to == DT_F64 ? LLVMBuildFPExt(g->bld, v, ty, "") : LLVMBuildFPTrunc(g->bld, v, ty, "");
}

/* FMAX(x, y) = (x > y || x != x) ? x : y, as tensor_kernels.c */
static LLVMValueRef fmax_nan(Gen *g, LLVMValueRef x, LLVMValueRef y, LLVMRealPredicate pick) {
  LLVMValueRef c = LLVMBuildOr(g->bld, LLVMBuildFCmp(g->bld, pick, x, y, ""),
                               LLVMBuildFCmp(g->bld, LLVMRealUNE, x, x, ""), "");
  return LLVMBuildSelect(g->bld, c, x, y, "");
}

static LLVMValueRef select_(Gen *g, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildSelect(g->bld, convert(g, c, DT_BOOL), x, y, "");
}

/* pow, sin, cos: the C library's, one call per lane (the same function
 * the C kernels call, so the same bits). */
static LLVMValueRef libm(Gen *g, const char *f32, const char *f64, LLVMValueRef x, LLVMValueRef y) {
  LLVMTypeRef st = scalar_type(g->ctx, dtype_of(x)), params[2] = {st, st};
  const char *name = dtype_of(x) == DT_F64 ? f64 : f32;
  unsigned nargs = y ? 2 : 1, lanes = lanes_of(x);
  LLVMTypeRef fty = LLVMFunctionType(st, params, nargs, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(g->mod, name);
  if (!fn) fn = LLVMAddFunction(g->mod, name, fty);
  if (lanes == 1) {
    LLVMValueRef args[2] = {x, y};
    return LLVMBuildCall2(g->bld, fty, fn, args, nargs, "");
  }
  LLVMValueRef r = LLVMGetPoison(LLVMTypeOf(x));
  LLVMTypeRef i32 = LLVMInt32TypeInContext(g->ctx);
  for (unsigned l = 0; l < lanes; l++) {
    LLVMValueRef li = LLVMConstInt(i32, l, 0);
    LLVMValueRef args[2] = {LLVMBuildExtractElement(g->bld, x, li, ""),
                            y ? LLVMBuildExtractElement(g->bld, y, li, "") : NULL};
    r = LLVMBuildInsertElement(g->bld, r, LLVMBuildCall2(g->bld, fty, fn, args, nargs, ""), li, "");
  }
  return r;
}

static LLVMValueRef intrinsic1(Gen *g, const char *name, LLVMValueRef x) {
  return jit_intrinsic(g->mod, g->bld, name, &x, 1);
}

/* The rows' expressions: X0 X1 X2 the (converted) operands, A0 A1 the
 * attrs in the computation dtype. */
#define X0 x0
#define X1 x1
#define X2 x2
#define A0 g->a0
#define A1 g->a1
#define S_K(c) jit_const_f(value_type(g, g->ct, g->lanes), c)
#define S_ADD(p, q) LLVMBuildFAdd(g->bld, p, q, "")
#define S_SUB(p, q) LLVMBuildFSub(g->bld, p, q, "")
#define S_MUL(p, q) LLVMBuildFMul(g->bld, p, q, "")
#define S_DIV(p, q) LLVMBuildFDiv(g->bld, p, q, "")
#define S_NEG(p) LLVMBuildFNeg(g->bld, p, "")
#define S_POW(p, q) libm(g, "powf", "pow", p, q)
#define S_MAX(p, q) fmax_nan(g, p, q, LLVMRealOGT)
#define S_MIN(p, q) fmax_nan(g, p, q, LLVMRealOLT)
#define S_ABS(p) intrinsic1(g, "llvm.fabs", p)
#define S_EXP(p) jit_math_exp(g->mod, g->bld, p)
#define S_LOG(p) jit_math_log(g->mod, g->bld, p)
#define S_SQRT(p) intrinsic1(g, "llvm.sqrt", p)
#define S_SIN(p) libm(g, "sinf", "sin", p, NULL)
#define S_COS(p) libm(g, "cosf", "cos", p, NULL)
#define S_TANH(p) jit_math_tanh(g->mod, g->bld, p)
#define S_EQ(p, q) LLVMBuildFCmp(g->bld, LLVMRealOEQ, p, q, "")
#define S_NE(p, q) LLVMBuildFCmp(g->bld, LLVMRealUNE, p, q, "")
#define S_LT(p, q) LLVMBuildFCmp(g->bld, LLVMRealOLT, p, q, "")
#define S_LE(p, q) LLVMBuildFCmp(g->bld, LLVMRealOLE, p, q, "")
#define S_GT(p, q) LLVMBuildFCmp(g->bld, LLVMRealOGT, p, q, "")
#define S_GE(p, q) LLVMBuildFCmp(g->bld, LLVMRealOGE, p, q, "")
#define S_SELECT(c, p, q) select_(g, c, p, q)
#define S_CONVERT(p) convert(g, p, g->rt)

static LLVMValueRef elem(Gen *g, int op, LLVMValueRef x0, LLVMValueRef x1, LLVMValueRef x2) {
  (void)x1;
  (void)x2;
  switch (op) {
#define ELEM(NAME, LOOP, TYPES, RES, EXPR)                                                         \
  case TOP_##NAME: return EXPR;
#include "tensor_scalar.def"
#undef ELEM
  default: return NULL; /* jit_check refused it */
  }
}

#include "tensor_scalar_undef.h"

/* ---- the kernel ---- */

typedef struct {
  Gen g;
  const KDesc *kd;
  const JitShape *sh;
  unsigned W;
  LLVMValueRef fn, lo, hi;
  LLVMTypeRef i64;
  LLVMValueRef base[KDESC_MAX_OPERANDS];
  bool hoist[KDESC_MAX_OPERANDS];                  /* inner stride 0, never stored: loaded once per row */
  LLVMValueRef row_value[2][KDESC_MAX_OPERANDS];   /* [scalar, vector] of a hoisted operand */
  LLVMValueRef arg_value[2][KDESC_MAX_INSTRS];     /* KI_ARG */
  LLVMValueRef attr[2][KDESC_MAX_INSTRS][2];       /* A0, A1 of a KI_OP */
  LLVMValueRef val[KDESC_MAX_INSTRS];
} Kern;

static unsigned dt_size(int dt) { return dt == DT_F64 ? 8 : dt == DT_F32 ? 4 : 1; }

static LLVMTypeRef mem_type(Kern *K, int dt) {
  return dt == DT_BOOL ? LLVMInt8TypeInContext(K->g.ctx) : scalar_type(K->g.ctx, dt);
}

/* Element index of operand k at inner index j + lane: off[k] + (j + lane) * stride. */
static LLVMValueRef elem_index(Kern *K, int k, LLVMValueRef off, LLVMValueRef j, unsigned lane) {
  LLVMBuilderRef b = K->g.bld;
  int64_t s = K->kd->strides[k][K->kd->ndim - 1];
  LLVMValueRef jl = lane ? LLVMBuildAdd(b, j, LLVMConstInt(K->i64, lane, 0), "") : j;
  return LLVMBuildAdd(b, off, LLVMBuildMul(b, jl, LLVMConstInt(K->i64, (unsigned long long)s, 1), ""), "");
}

static LLVMValueRef load_at(Kern *K, int k, LLVMTypeRef ty, LLVMValueRef idx) {
  LLVMBuilderRef b = K->g.bld;
  int dt = K->kd->operand_dtype[k];
  LLVMValueRef p = LLVMBuildGEP2(b, mem_type(K, dt), K->base[k], &idx, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(b, ty, p, "");
  LLVMSetAlignment(v, dt_size(dt));
  return v;
}

static LLVMValueRef as_bool(Kern *K, LLVMValueRef v) {
  return LLVMBuildICmp(K->g.bld, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), "");
}

/* Operand k at the element(s): a vector load when its inner stride is 1,
 * one load per lane otherwise. */
static LLVMValueRef emit_load(Kern *K, int k, unsigned lanes, LLVMValueRef j, LLVMValueRef off) {
  if (K->hoist[k]) return K->row_value[lanes > 1][k];
  int dt = K->kd->operand_dtype[k];
  LLVMTypeRef mt = mem_type(K, dt);
  int64_t s = K->kd->strides[k][K->kd->ndim - 1];
  LLVMValueRef v;
  if (lanes == 1 || s == 1) {
    v = load_at(K, k, lanes > 1 ? LLVMVectorType(mt, lanes) : mt, elem_index(K, k, off, j, 0));
  } else {
    v = LLVMGetPoison(LLVMVectorType(mt, lanes));
    LLVMTypeRef i32 = LLVMInt32TypeInContext(K->g.ctx);
    for (unsigned l = 0; l < lanes; l++)
      v = LLVMBuildInsertElement(K->g.bld, v, load_at(K, k, mt, elem_index(K, k, off, j, l)),
                                 LLVMConstInt(i32, l, 0), "");
  }
  return dt == DT_BOOL ? as_bool(K, v) : v;
}

/* v converted to operand k's dtype, stored at the element(s): a vector
 * store when the inner stride is 1, lane by lane in order otherwise (so
 * an operand whose inner stride is 0 ends with the last lane's value, as
 * the C loops leave it). */
static void emit_store(Kern *K, int k, LLVMValueRef v, unsigned lanes, LLVMValueRef j, LLVMValueRef off) {
  LLVMBuilderRef b = K->g.bld;
  int dt = K->kd->operand_dtype[k];
  LLVMTypeRef mt = mem_type(K, dt);
  v = convert(&K->g, v, dt);
  if (dt == DT_BOOL) v = LLVMBuildZExt(b, v, lanes > 1 ? LLVMVectorType(mt, lanes) : mt, "");
  int64_t s = K->kd->strides[k][K->kd->ndim - 1];
  LLVMTypeRef i32 = LLVMInt32TypeInContext(K->g.ctx);
  for (unsigned l = 0; l < ((lanes == 1 || s == 1) ? 1 : lanes); l++) {
    LLVMValueRef idx = elem_index(K, k, off, j, l);
    LLVMValueRef x = (lanes == 1 || s == 1) ? v : LLVMBuildExtractElement(b, v, LLVMConstInt(i32, l, 0), "");
    LLVMValueRef p = LLVMBuildGEP2(b, mt, K->base[k], &idx, 1, "");
    LLVMSetAlignment(LLVMBuildStore(b, x, p), dt_size(dt));
  }
}

/* The per-element program at inner index j (lanes elements from j). */
static void emit_program(Kern *K, unsigned lanes, LLVMValueRef j, LLVMValueRef *off) {
  const KDesc *kd = K->kd;
  Gen *g = &K->g;
  int vi = lanes > 1;
  g->lanes = lanes;
  for (int i = 0; i < kd->ninstrs; i++) {
    const KInstr *in = &kd->instrs[i];
    switch (in->kind) {
    case KI_LOAD: K->val[i] = emit_load(K, in->a, lanes, j, off[in->a]); break;
    case KI_ARG: K->val[i] = K->arg_value[vi][i]; break;
    case KI_OP: {
      const JitRow *row = &jit_rows[in->op];
      const int16_t xs[3] = {in->a, in->b, in->c};
      LLVMValueRef x[3] = {NULL, NULL, NULL};
      g->ct = K->sh->cdt[i];
      g->rt = in->dtype;
      g->a0 = K->attr[vi][i][0];
      g->a1 = K->attr[vi][i][1];
      for (int n = 0; n < 3; n++) {
        if (!(row->uses & (USE_X0 << n))) continue;
        x[n] = K->val[xs[n]];
        /* operands are converted to the computation dtype, except where's
         * condition (S_SELECT reads it as != 0) and a cast's input */
        if (row->loop != ROW_CVT && !(row->loop == ROW_SEL && n == 0)) x[n] = convert(g, x[n], g->ct);
      }
      K->val[i] = elem(g, in->op, x[0], x[1], x[2]);
      break;
    }
    case KI_STORE: emit_store(K, in->a, K->val[in->b], lanes, j, off[in->a]); break;
    default: break;
    }
  }
}

/* A counted loop: for (iv = start; iv + step <= end; iv += step) when
 * step > 1, iv < end when step is 1. loop_begin leaves the builder in the
 * body, loop_end after the loop; iv then holds the first index not run. */
typedef struct {
  LLVMBasicBlockRef head, exit;
  LLVMValueRef iv;
  unsigned step;
} Loop;

static LLVMValueRef loop_begin(Kern *K, Loop *L, LLVMValueRef start, LLVMValueRef end, unsigned step) {
  LLVMBuilderRef b = K->g.bld;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
  L->head = LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "body");
  L->exit = LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "done");
  L->step = step;
  LLVMBuildBr(b, L->head);
  LLVMPositionBuilderAtEnd(b, L->head);
  L->iv = LLVMBuildPhi(b, K->i64, "i");
  LLVMAddIncoming(L->iv, &start, &pre, 1);
  LLVMValueRef more = step == 1 ? LLVMBuildICmp(b, LLVMIntSLT, L->iv, end, "")
                                : LLVMBuildICmp(b, LLVMIntSLE, LLVMBuildNSWAdd(b, L->iv, LLVMConstInt(K->i64, step, 0), ""), end, "");
  LLVMBuildCondBr(b, more, body, L->exit);
  LLVMPositionBuilderAtEnd(b, body);
  return L->iv;
}

static void loop_end(Kern *K, Loop *L) {
  LLVMBuilderRef b = K->g.bld;
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
  LLVMValueRef next = LLVMBuildNSWAdd(b, L->iv, LLVMConstInt(K->i64, L->step, 0), "");
  LLVMBuildBr(b, L->head);
  LLVMAddIncoming(L->iv, &next, &latch, 1);
  LLVMPositionBuilderAtEnd(b, L->exit);
}

/* The innermost dim from start to end: the row's broadcast operands, the
 * vector loop, the scalar loop. */
static void emit_inner(Kern *K, LLVMValueRef start, LLVMValueRef end, LLVMValueRef *off) {
  /* only a row with elements reads its broadcast operands (an empty one
   * may have none to read) */
  LLVMBuilderRef b = K->g.bld;
  LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "row");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "rowdone");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, start, end, ""), row, join);
  LLVMPositionBuilderAtEnd(b, row);
  for (int k = 0; k < K->kd->noperands; k++) {
    if (!K->hoist[k]) continue;
    int dt = K->kd->operand_dtype[k];
    LLVMValueRef v = load_at(K, k, mem_type(K, dt), off[k]);
    if (dt == DT_BOOL) v = as_bool(K, v);
    K->row_value[0][k] = v;
    K->row_value[1][k] = jit_splat(K->g.bld, v, K->W);
  }
  Loop V, S;
  LLVMValueRef j = loop_begin(K, &V, start, end, K->W);
  emit_program(K, K->W, j, off);
  loop_end(K, &V);
  /* the rest, (end - start) mod W elements (W is a power of two):
   * counted from 0 to a bound LLVM sees is below W, so its loop
   * vectorizer leaves this loop scalar */
  LLVMValueRef rest = LLVMBuildAnd(b, LLVMBuildSub(b, end, start, ""), LLVMConstInt(K->i64, K->W - 1, 0), "");
  LLVMValueRef r = loop_begin(K, &S, LLVMConstInt(K->i64, 0, 0), rest, 1);
  emit_program(K, 1, LLVMBuildNSWAdd(b, V.iv, r, ""), off);
  loop_end(K, &S);
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
}

/* Dims d.. of the nest; off[k] = operand k's element offset of the
 * enclosing indices. Dim 0 runs from lo to hi. */
static void emit_dims(Kern *K, int d, LLVMValueRef *off) {
  const KDesc *kd = K->kd;
  LLVMValueRef start = d == 0 ? K->lo : LLVMConstInt(K->i64, 0, 0);
  LLVMValueRef end = d == 0 ? K->hi : LLVMConstInt(K->i64, (unsigned long long)kd->shape[d], 1);
  if (d == kd->ndim - 1) {
    emit_inner(K, start, end, off);
    return;
  }
  Loop L;
  LLVMValueRef i = loop_begin(K, &L, start, end, 1);
  LLVMValueRef inner[KDESC_MAX_OPERANDS];
  for (int k = 0; k < kd->noperands; k++) {
    int64_t s = kd->strides[k][d];
    inner[k] = s == 0 ? off[k]
                      : LLVMBuildAdd(K->g.bld, off[k], LLVMBuildMul(K->g.bld, i, LLVMConstInt(K->i64, (unsigned long long)s, 1), ""), "");
  }
  emit_dims(K, d + 1, inner);
  loop_end(K, &L);
}

/* A0, A1 of instruction i: args[arg], args[arg + 1] in its computation dtype. */
static LLVMValueRef load_arg(Kern *K, LLVMValueRef args, int a, int dt) {
  LLVMTypeRef dbl = LLVMDoubleTypeInContext(K->g.ctx);
  LLVMValueRef idx = LLVMConstInt(K->i64, (unsigned long long)a, 0);
  LLVMValueRef v = LLVMBuildLoad2(K->g.bld, dbl, LLVMBuildGEP2(K->g.bld, dbl, args, &idx, 1, ""), "");
  return convert(&K->g, v, dt);
}

bool jit_emit_kernel(LLVMModuleRef mod, const char *name, const KDesc *kd, const JitShape *sh, unsigned lanes) {
  Kern *K = calloc(1, sizeof *K);
  if (!K) return false;
  K->g.mod = mod;
  K->g.ctx = LLVMGetModuleContext(mod);
  K->g.bld = LLVMCreateBuilderInContext(K->g.ctx);
  K->kd = kd;
  K->sh = sh;
  K->W = lanes;
  K->i64 = LLVMInt64TypeInContext(K->g.ctx);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(K->g.ctx, 0);
  LLVMTypeRef params[4] = {ptr, ptr, K->i64, K->i64};
  K->fn = LLVMAddFunction(mod, name, LLVMFunctionType(LLVMVoidTypeInContext(K->g.ctx), params, 4, 0));
  /* ptrs and args are read-only arrays the tensor data never overlaps */
  const char *attrs[] = {"noalias", "nocapture", "readonly"};
  for (unsigned p = 1; p <= 2; p++)
    for (unsigned a = 0; a < 3; a++)
      LLVMAddAttributeAtIndex(K->fn, p, LLVMCreateEnumAttribute(K->g.ctx, LLVMGetEnumAttributeKindForName(attrs[a], strlen(attrs[a])), 0));
  LLVMAddAttributeAtIndex(K->fn, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(K->g.ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
  LLVMValueRef ptrs = LLVMGetParam(K->fn, 0), args = LLVMGetParam(K->fn, 1);
  K->lo = LLVMGetParam(K->fn, 2);
  K->hi = LLVMGetParam(K->fn, 3);
  LLVMPositionBuilderAtEnd(K->g.bld, LLVMAppendBasicBlockInContext(K->g.ctx, K->fn, "entry"));
  LLVMBuilderRef b = K->g.bld;
  K->g.lanes = 1;

  LLVMValueRef off[KDESC_MAX_OPERANDS];
  for (int k = 0; k < kd->noperands; k++) {
    LLVMValueRef idx = LLVMConstInt(K->i64, (unsigned long long)k, 0);
    K->base[k] = LLVMBuildLoad2(b, ptr, LLVMBuildGEP2(b, ptr, ptrs, &idx, 1, ""), "");
    K->hoist[k] = kd->strides[k][kd->ndim - 1] == 0 && !sh->stored[k];
    off[k] = LLVMConstInt(K->i64, 0, 0);
  }
  /* args are the same for every element: converted once, here */
  for (int i = 0; i < kd->ninstrs; i++) {
    const KInstr *in = &kd->instrs[i];
    if (in->kind == KI_ARG) {
      K->arg_value[0][i] = load_arg(K, args, in->a, in->dtype);
      K->arg_value[1][i] = jit_splat(b, K->arg_value[0][i], lanes);
    } else if (in->kind == KI_OP) {
      uint8_t uses = jit_rows[in->op].uses;
      for (int a = 0; a < 2; a++) {
        if (!(uses & (USE_A0 << a))) continue;
        K->attr[0][i][a] = load_arg(K, args, in->arg + a, sh->cdt[i]);
        K->attr[1][i][a] = jit_splat(b, K->attr[0][i][a], lanes);
      }
    }
  }
  emit_dims(K, 0, off);
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  free(K);
  return true;
}
