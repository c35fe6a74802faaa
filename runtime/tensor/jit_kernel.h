/* The kernel description the tensor engine hands to the JIT module, and the
 * module's entry points. No LLVM here: runtime/jit/ (libnsjit.so, opened
 * with dlopen on the first compile, tensor_graph.c) is the only code that
 * includes LLVM headers.
 *
 * A kernel is one fused loop nest: an iteration space of up to NS_MAX_DIMS
 * dims (already collapsed: size-1 dims dropped, dims contiguous across
 * every operand merged), a list of operands (pointers with a dtype and a
 * stride per dim, in elements; stride 0 = broadcast), and a straight-line
 * program run once per element:
 *
 *   KI_LOAD   dst = operand[a] at the element            (dtype of the operand)
 *   KI_ARG    dst = args[a], converted to `dtype`        (a scalar that may change per call)
 *   KI_OP     dst = op(v[a], v[b], v[c]) with the scalar meaning of the op's
 *             row in tensor_scalar.def (ELEM); `dtype` is the result's dtype
 *             (BOOL for comparisons). The operands already have the dtype
 *             the row computes in (F32 or F64; WHERE's condition is BOOL):
 *             the engine never mixes them. UN ops take their attributes
 *             A0, A1 from args[arg], args[arg + 1]; CAST converts v[a] to
 *             `dtype` (F32, F64 or BOOL, from any of the three)
 *   KI_STORE  operand[a] at the element = v[b]          (converted to the operand's dtype)
 *
 * Values are numbered by instruction (v[i] is the value of instruction i).
 * dtypes are DT_F32, DT_F64 and DT_BOOL (a byte, 0 or 1); a BOOL value fed
 * to S_SELECT is "!= 0". Results must equal the C kernels' (tensor_kernels.c)
 * except exp, log, tanh, sigmoid and what uses them (gelu, silu), which may
 * use vectorized approximations within 1e-6 relative of libm (f32) and
 * 1e-12 (f64), and a store of an operand read in the same element: every
 * load of an operand happens before any store in the same element, and an
 * operand that is both loaded and stored is one the caller guarantees is the
 * very same view (each element read, then written, at the same place).
 *
 * The compiled function runs the elements whose index along dim 0 is in
 * [lo, hi) (the caller splits dim 0 across threads):
 *
 *   void kernel(char *const *ptrs, const double *args, int64_t lo, int64_t hi)
 *
 * ptrs[k] is operand k's address of element (0, ..., 0). */
#ifndef NS_JIT_KERNEL_H
#define NS_JIT_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

#define KDESC_MAX_OPERANDS 32
#define KDESC_MAX_INSTRS 256
#define KDESC_MAX_ARGS 64

typedef enum { KI_LOAD, KI_ARG, KI_OP, KI_STORE } KInstrKind;

typedef struct {
  uint8_t kind;  /* KInstrKind */
  uint8_t dtype; /* DType of the value (KI_STORE: unused) */
  uint16_t op;   /* KI_OP: TensorOp */
  int16_t a, b, c; /* operands: value numbers (KI_OP, KI_STORE's b), operand index (KI_LOAD, KI_STORE's a), arg index (KI_ARG) */
  int16_t arg;   /* KI_OP of a UN op: index of A0 in args (A1 = arg + 1); -1: none */
} KInstr;

typedef struct {
  int ndim;                      /* >= 1 */
  int64_t shape[NS_MAX_DIMS];
  int noperands;
  uint8_t operand_dtype[KDESC_MAX_OPERANDS];
  int64_t strides[KDESC_MAX_OPERANDS][NS_MAX_DIMS]; /* in elements */
  int ninstrs;
  KInstr instrs[KDESC_MAX_INSTRS];
  int nargs;
} KDesc;

typedef void (*NsKernelFn)(char *const *ptrs, const double *args, int64_t lo, int64_t hi);

/* What libnsjit.so exports: ns_jit_api() returns this table. */
#define NS_JIT_ABI 1
typedef struct NsJitApi {
  int abi; /* NS_JIT_ABI */
  /* A JIT for the host CPU (its name and features: AVX2, FMA, AVX-512
   * where present). dump_dir non-NULL: every module compiled writes
   * DIR/<name>.ll (the IR after optimisation) and DIR/<name>.s. NULL and a
   * message in err when LLVM cannot be set up. */
  void *(*create)(const char *dump_dir, char *err, size_t errlen);
  /* Compile n kernels as one module named `name` (unique per call) and
   * store their entry points in fns[0..n). false and a message in err when
   * the module fails (LLVMVerifyModule in debug builds, codegen, lookup);
   * nothing is leaked and the JIT stays usable. */
  bool (*compile)(void *jit, const char *name, const KDesc *const *kernels, int n, NsKernelFn *fns,
                  char *err, size_t errlen);
  /* The host CPU, e.g. "znver4 +avx2,+fma,+avx512f,...". */
  const char *(*host)(void *jit);
  void (*destroy)(void *jit);
} NsJitApi;

const NsJitApi *ns_jit_api(void);

#endif
