/* The KDesc check, done before any IR is built: a bad description is an
 * error message, never a crash inside LLVM. Also reads tensor_scalar.def
 * once more, with the primitives defined as bit masks, to learn which
 * operands and attrs each row's expression uses. */
#include <stdio.h>
#include <string.h>

#include "jit_int.h"

/* The rows as masks of the leaves their expression reads. */
#define X0 USE_X0
#define X1 USE_X1
#define X2 USE_X2
#define A0 USE_A0
#define A1 USE_A1
#define S_K(c) 0
#define S_ADD(a, b) ((a) | (b))
#define S_SUB(a, b) ((a) | (b))
#define S_MUL(a, b) ((a) | (b))
#define S_DIV(a, b) ((a) | (b))
#define S_POW(a, b) ((a) | (b))
#define S_MAX(a, b) ((a) | (b))
#define S_MIN(a, b) ((a) | (b))
#define S_EQ(a, b) ((a) | (b))
#define S_NE(a, b) ((a) | (b))
#define S_LT(a, b) ((a) | (b))
#define S_LE(a, b) ((a) | (b))
#define S_GT(a, b) ((a) | (b))
#define S_GE(a, b) ((a) | (b))
#define S_NEG(a) (a)
#define S_ABS(a) (a)
#define S_EXP(a) (a)
#define S_LOG(a) (a)
#define S_SQRT(a) (a)
#define S_SIN(a) (a)
#define S_COS(a) (a)
#define S_TANH(a) (a)
#define S_CONVERT(a) (a)
#define S_SELECT(c, a, b) ((c) | (a) | (b))
#define ELEM(NAME, LOOP, TYPES, RES, EXPR)                                                         \
  [TOP_##NAME] = {true, ROW_##LOOP, RES_##RES##_, (uint8_t)(EXPR), #NAME},
const JitRow jit_rows[TOP__COUNT] = {
#include "tensor_scalar.def"
};
#include "tensor_scalar_undef.h"

static const char *const dt_names[] = {"f32", "f64", "i64", "bool"};

static bool jit_dtype(int dt) { return dt == DT_F32 || dt == DT_F64 || dt == DT_BOOL; }
static const char *dt_name(int dt) { return dt >= 0 && dt < DT__COUNT ? dt_names[dt] : "an unknown dtype"; }

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    snprintf(err, errlen, __VA_ARGS__);                                                            \
    return false;                                                                                  \
  } while (0)

/* Operand x of instruction i (value number v) must be an earlier value. */
static bool value_ok(const KDesc *kd, int i, int v) {
  return v >= 0 && v < i && kd->instrs[v].kind != KI_STORE;
}

bool jit_check(const KDesc *kd, JitShape *sh, char *err, size_t errlen) {
  memset(sh, 0, sizeof *sh);
  if (kd->ndim < 1 || kd->ndim > NS_MAX_DIMS) FAIL("kernel has %d dims (1 to %d)", kd->ndim, NS_MAX_DIMS);
  for (int d = 0; d < kd->ndim; d++)
    if (kd->shape[d] < 0) FAIL("dim %d has negative size %lld", d, (long long)kd->shape[d]);
  if (kd->noperands < 0 || kd->noperands > KDESC_MAX_OPERANDS)
    FAIL("kernel has %d operands (at most %d)", kd->noperands, KDESC_MAX_OPERANDS);
  if (kd->ninstrs < 0 || kd->ninstrs > KDESC_MAX_INSTRS)
    FAIL("kernel has %d instructions (at most %d)", kd->ninstrs, KDESC_MAX_INSTRS);
  if (kd->nargs < 0 || kd->nargs > KDESC_MAX_ARGS) FAIL("kernel has %d args (at most %d)", kd->nargs, KDESC_MAX_ARGS);
  for (int k = 0; k < kd->noperands; k++) {
    int dt = kd->operand_dtype[k];
    if (!jit_dtype(dt)) FAIL("operand %d is %s (the JIT computes f32, f64 and bool)", k, dt_name(dt));
    sh->wide = sh->wide || dt == DT_F64;
  }
  for (int i = 0; i < kd->ninstrs; i++) {
    const KInstr *in = &kd->instrs[i];
    int dt = in->dtype;
    switch (in->kind) {
    case KI_LOAD:
      if (in->a < 0 || in->a >= kd->noperands) FAIL("instr %d: load of operand %d (%d operands)", i, in->a, kd->noperands);
      if (dt != kd->operand_dtype[in->a])
        FAIL("instr %d: load as %s of operand %d, which is %s", i, dt_name(dt), in->a, dt_name(kd->operand_dtype[in->a]));
      break;
    case KI_ARG:
      if (in->a < 0 || in->a >= kd->nargs) FAIL("instr %d: arg %d (%d args)", i, in->a, kd->nargs);
      if (!jit_dtype(dt)) FAIL("instr %d: arg as %s", i, dt_name(dt));
      break;
    case KI_OP: {
      if (in->op >= TOP__COUNT || !jit_rows[in->op].present)
        FAIL("instr %d: op %d has no row in tensor_scalar.def", i, in->op);
      const JitRow *row = &jit_rows[in->op];
      if (!jit_dtype(dt)) FAIL("instr %d: %s as %s", i, row->name, dt_name(dt));
      const int16_t xs[3] = {in->a, in->b, in->c};
      int cdt = dt;
      for (int x = 0; x < 3; x++) {
        if (!(row->uses & (USE_X0 << x))) continue;
        if (!value_ok(kd, i, xs[x])) FAIL("instr %d: %s operand %d is value %d, not an earlier value", i, row->name, x, xs[x]);
      }
      if ((row->uses & (USE_A0 | USE_A1)) &&
          (in->arg < 0 || in->arg + ((row->uses & USE_A1) ? 1 : 0) >= kd->nargs))
        FAIL("instr %d: %s attrs at arg %d (%d args)", i, row->name, in->arg, kd->nargs);
      if (row->res == RES_BOOL_) {
        /* a comparison: computed in the wider of its operands' dtypes
         * (bools compare as f32, the same 0 and 1) */
        if (dt != DT_BOOL) FAIL("instr %d: %s gives bool, not %s", i, row->name, dt_name(dt));
        cdt = DT_F32;
        for (int x = 0; x < 3; x++)
          if ((row->uses & (USE_X0 << x)) && sh->vdt[xs[x]] == DT_F64) cdt = DT_F64;
      } else if (row->res == RES_TARGET_) {
        cdt = sh->vdt[in->a]; /* a conversion from its operand's dtype */
      } else if (dt == DT_BOOL && row->loop != ROW_SEL) {
        FAIL("instr %d: %s computed as bool (the JIT computes it in f32 or f64)", i, row->name);
      }
      sh->cdt[i] = (uint8_t)cdt;
      sh->wide = sh->wide || cdt == DT_F64;
      break;
    }
    case KI_STORE:
      if (in->a < 0 || in->a >= kd->noperands) FAIL("instr %d: store to operand %d (%d operands)", i, in->a, kd->noperands);
      if (!value_ok(kd, i, in->b)) FAIL("instr %d: store of value %d, not an earlier value", i, in->b);
      sh->stored[in->a] = true;
      break;
    default: FAIL("instr %d: unknown kind %d", i, in->kind);
    }
    sh->vdt[i] = (uint8_t)dt;
    sh->wide = sh->wide || (in->kind != KI_STORE && dt == DT_F64);
  }
  return true;
}
