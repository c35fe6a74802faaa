/* The JIT module's internals: the KDesc check (jit_check.c), the kernel
 * code generator (jit_codegen.c), the vectorizable math functions
 * (jit_math.c) and the LLJIT driver (jit.c). Only runtime/jit/ includes
 * LLVM headers. */
#ifndef NS_JIT_INT_H
#define NS_JIT_INT_H

#include <llvm-c/Core.h>

#include "jit_kernel.h"

/* What tensor_scalar.def says about one op, read from its row: the loop
 * kind, the result class and which of X0 X1 X2 A0 A1 the expression uses. */
enum { ROW_BIN, ROW_UN, ROW_SEL, ROW_CVT };
enum { RES_SAME_, RES_BOOL_, RES_TARGET_ };
enum { USE_X0 = 1, USE_X1 = 2, USE_X2 = 4, USE_A0 = 8, USE_A1 = 16 };
typedef struct {
  bool present;
  uint8_t loop, res, uses;
  const char *name;
} JitRow;
extern const JitRow jit_rows[TOP__COUNT];

/* What the check works out about a valid kernel: every value's dtype, the
 * dtype each KI_OP computes in, which operands are stored, and the vector
 * width in bytes of an element of its widest dtype. */
typedef struct {
  uint8_t vdt[KDESC_MAX_INSTRS]; /* the value's dtype */
  uint8_t cdt[KDESC_MAX_INSTRS]; /* KI_OP: the dtype the row's expression computes in */
  bool stored[KDESC_MAX_OPERANDS];
  bool wide; /* an f64 anywhere: lanes of 8 bytes */
} JitShape;

/* false and a message naming the instruction when kd is not a kernel this
 * module compiles (bad numbers, dtypes other than f32/f64/bool, ops
 * without a row, values used before they exist). */
bool jit_check(const KDesc *kd, JitShape *out, char *err, size_t errlen);

/* Emit kernel `kd` as function `name` of mod: void(ptr, ptr, i64, i64),
 * lanes = the vector loop's width (a power of two). false: out of memory. */
bool jit_emit_kernel(LLVMModuleRef mod, const char *name, const KDesc *kd, const JitShape *sh,
                     unsigned lanes);

/* jit_math.c: exp, log and tanh of x (float or double, scalar or vector)
 * as calls to internal functions of mod built on first use. */
LLVMValueRef jit_math_exp(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef jit_math_log(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef jit_math_tanh(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x);

/* Small IR helpers shared by the code generator and the math functions. */
LLVMValueRef jit_splat(LLVMBuilderRef b, LLVMValueRef scalar, unsigned lanes);
LLVMValueRef jit_const_f(LLVMTypeRef ty, double c);   /* ty float/double or a vector of them */
LLVMValueRef jit_const_i(LLVMTypeRef ty, long long c); /* ty an integer or a vector of them */
LLVMValueRef jit_intrinsic(LLVMModuleRef mod, LLVMBuilderRef b, const char *name, LLVMValueRef *args,
                           unsigned nargs);

#endif
