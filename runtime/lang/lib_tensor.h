/* The natives that give the language its tensors (lib_tensor.c, lib_data.c,
 * lib_checkpoint.c, lib_rng.c), and the entry points arith.c and access.c
 * use for operators, fields and indexing with a tensor operand. */
#ifndef NS_LIB_TENSOR_H
#define NS_LIB_TENSOR_H

#include "tensor.h"

void lib_tensor_init(VM *vm);
/* The language's view of tensors, for arith.c and access.c: operators with
 * a tensor operand (op is an ArithOp; comparisons give bool tensors, `∇`
 * runs backward), `.T`/`.shape`/`.grad`/`.requires_grad`, x[i], x[a:b, :],
 * x[mask] and assignments to them. Each returns false after vm_error(). */
bool lib_tensor_binary(VM *vm, ArithOp op, Value a, Value b, Value *out);
/* `a op= b` with a a tensor: a leaf (no grad_fn) is updated in place
 * without recording autograd, so `model.w -= lr × g.w` trains the tensor
 * the model and its optimizer share; a non-leaf gets a new tensor. */
bool lib_tensor_inplace(VM *vm, ArithOp op, Value a, Value b, Value *out);
bool lib_tensor_unary(VM *vm, ArithOp op, Value a, Value *out);
bool lib_tensor_get_field(VM *vm, Value obj, ObjString *name, Value *out);
bool lib_tensor_set_field(VM *vm, Value obj, ObjString *name, Value v);
bool lib_tensor_get_index(VM *vm, Value obj, Value idx, Value *out);
bool lib_tensor_set_index(VM *vm, Value obj, Value idx, Value v);
/* exp, ln/log, sqrt, abs, sin, cos, tanh of the prelude on a tensor. */
bool lib_tensor_math1(VM *vm, const char *name, Value x, Value *out);
/* load_idx, load_npy, save_npy, load_csv (lib_data.c) */
void lib_data_init(VM *vm);
/* save_safetensors, load_safetensors, is_tty, flush (lib_checkpoint.c); also
 * registers the RNG natives. */
void lib_checkpoint_init(VM *vm);

/* rng_state(), set_rng_state(list): the state as a value (lib_rng.c). */
void rng_natives_init(VM *vm);

#endif
