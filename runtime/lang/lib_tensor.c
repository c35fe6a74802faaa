/* Tensors in the language: the prelude's creation functions and tensor
 * versions of the activations, the methods of the Tensor class, field
 * access (`.T`, `.shape`, `.grad`, `.requires_grad`), indexing and slicing,
 * and the operators arith.c forwards here.
 *
 * Everything goes through tensor_apply so that autograd records it, and
 * every write into an existing tensor (index assignment, in-place updates)
 * through its in-place form tensor_apply_into, which records nothing (an
 * index assignment into a tensor with history is recorded here as an
 * index_put node) and bumps the storage's version, which backward()
 * checks. Natives take optional named arguments
 * (`axis:`, `keepdim:`, `dtype:`) through ObjNative.params; an absent one
 * arrives as UNDEF or unit. Collection cannot run while a native is on the
 * C stack, so intermediate tensors need no roots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtins.h"
#include "lib_tensor.h"

static Value tval(ObjTensor *t) { return OBJ_VAL(t); }
static bool absent(Value v) { return IS_UNDEF(v) || IS_UNIT(v); }
static Value arg(Value *a, int argc, int i) { return i < argc ? a[i] : UNDEF_VAL; }

/* ---- arguments ---- */

static bool dtype_arg(VM *vm, Value v, DType *out) {
  const char *name = NULL;
  if (IS_STRING(v)) name = AS_STRING(v)->chars;
  else if (IS_CLASS(v)) name = AS_CLASS(v)->name->chars;
  if (name) {
    for (int d = 0; d < DT__COUNT; d++)
      if (!strcmp(name, tensor_dtype_names[d])) {
        *out = (DType)d;
        return true;
      }
    if (!strcmp(name, "float")) return *out = DT_F32, true;
    if (!strcmp(name, "int")) return *out = DT_I64, true;
    return vm_error(vm, "unknown dtype `%s` (expected f32, f64, i64 or bool)", name);
  }
  return vm_error(vm, "dtype must be a string such as \"f32\", got %s", value_type_name(v));
}

static bool tensor_arg(VM *vm, Value v, const char *who, ObjTensor **out) {
  *out = NULL;
  if (IS_TENSOR(v)) {
    *out = AS_TENSOR(v);
    return true;
  }
  return vm_error(vm, "%s expects a Tensor, got %s", who, value_type_name(v));
}

/* The dtype a number takes when it meets a tensor of dtype dt. */
static DType scalar_dtype(DType dt, Value v) {
  if (IS_FLOAT(v) && (dt == DT_I64 || dt == DT_BOOL)) return DT_F32;
  if (IS_INT(v) && dt == DT_BOOL) return DT_I64;
  return dt;
}

/* A tensor operand: a tensor itself, a number or bool (0-dim, dtype from
 * `like`), or a nested list. */
static bool operand(VM *vm, Value v, const ObjTensor *like, const char *who, ObjTensor **out) {
  *out = NULL;
  if (IS_TENSOR(v)) {
    *out = AS_TENSOR(v);
    return true;
  }
  if (IS_NUM(v) || IS_BOOL(v)) {
    DType dt = like ? scalar_dtype(like->dtype, v) : IS_BOOL(v) ? DT_BOOL : IS_INT(v) ? DT_I64 : DT_F32;
    if (IS_BOOL(v)) dt = like && like->dtype != DT_BOOL ? like->dtype : DT_BOOL;
    *out = tensor_scalar(vm->tc, dt, IS_BOOL(v) ? (double)v.as.b : AS_NUM(v));
    return *out != NULL;
  }
  if (IS_LIST(v) || IS_TUPLE(v)) return tensor_from_value(vm->tc, v, like ? like->dtype : DT__COUNT, out);
  return vm_error(vm, "%s expects a Tensor or a number, got %s", who, value_type_name(v));
}

/* A shape: ints as separate arguments, or one list/tuple of ints. */
static bool shape_of_args(VM *vm, Value *a, int argc, const char *who, int *ndim, int64_t *shape) {
  const Value *xs = a;
  int n = argc;
  if (argc == 1 && (IS_LIST(a[0]) || IS_TUPLE(a[0]))) {
    xs = IS_LIST(a[0]) ? AS_LIST(a[0])->items : AS_TUPLE(a[0])->items;
    n = (int)(IS_LIST(a[0]) ? AS_LIST(a[0])->len : AS_TUPLE(a[0])->len);
  }
  if (n > NS_MAX_DIMS) return vm_error(vm, "%s: at most %d dimensions, got %d", who, NS_MAX_DIMS, n);
  for (int i = 0; i < n; i++) {
    if (!IS_INT(xs[i]))
      return vm_error(vm, "%s: a shape is made of ints, got %s", who, value_type_name(xs[i]));
    if (xs[i].as.i < -1) return vm_error(vm, "%s: negative dimension %lld", who, (long long)xs[i].as.i);
    shape[i] = xs[i].as.i;
  }
  *ndim = n;
  return true;
}

static bool axis_norm(VM *vm, int64_t ax, int ndim, const char *who, int *out) {
  *out = 0;
  int64_t n = ndim ? ndim : 1;
  if (ax < -n || ax >= n)
    return vm_error(vm, "%s: axis %lld is out of range for a tensor with %d dimension%s", who,
                    (long long)ax, ndim, ndim == 1 ? "" : "s");
  *out = (int)(ax < 0 ? ax + n : ax);
  return true;
}

/* Reduction axes: absent (all), an int or a list of ints, as a bit mask. */
static bool axes_arg(VM *vm, Value v, int ndim, const char *who, uint32_t *mask) {
  *mask = 0;
  if (absent(v)) return true;
  if (IS_INT(v)) {
    int ax;
    if (!axis_norm(vm, v.as.i, ndim, who, &ax)) return false;
    *mask = 1u << ax;
    return true;
  }
  if (IS_LIST(v) || IS_TUPLE(v)) {
    uint32_t n = IS_LIST(v) ? AS_LIST(v)->len : AS_TUPLE(v)->len;
    Value *xs = IS_LIST(v) ? AS_LIST(v)->items : AS_TUPLE(v)->items;
    for (uint32_t i = 0; i < n; i++) {
      int ax;
      if (!IS_INT(xs[i])) return vm_error(vm, "%s: axes must be ints, got %s", who, value_type_name(xs[i]));
      if (!axis_norm(vm, xs[i].as.i, ndim, who, &ax)) return false;
      if (*mask & (1u << ax))
        return vm_error(vm, "%s: axis %d appears more than once in the axis list", who, ax);
      *mask |= 1u << ax;
    }
    return true;
  }
  return vm_error(vm, "%s: axis must be an int or a list of ints, got %s", who, value_type_name(v));
}

static bool bool_arg(VM *vm, Value v, const char *who, bool dflt, bool *out) {
  if (absent(v)) return *out = dflt, true;
  if (!IS_BOOL(v)) return vm_error(vm, "%s expects a bool, got %s", who, value_type_name(v));
  *out = v.as.b;
  return true;
}

/* ---- running ops ---- */

static bool run(VM *vm, TensorOp op, ObjTensor **in, int n, const TAttrs *at, Value *out) {
  TAttrs zero = {0};
  ObjTensor *r;
  if (!tensor_apply(vm->tc, op, in, n, at ? at : &zero, &r)) return false;
  *out = tval(r);
  return true;
}

static bool run1(VM *vm, TensorOp op, ObjTensor *x, const TAttrs *at, ObjTensor **out) {
  TAttrs zero = {0};
  return tensor_apply(vm->tc, op, &x, 1, at ? at : &zero, out);
}

static bool run2(VM *vm, TensorOp op, ObjTensor *x, ObjTensor *y, ObjTensor **out) {
  TAttrs zero = {0};
  ObjTensor *in[2] = {x, y};
  return tensor_apply(vm->tc, op, in, 2, &zero, out);
}

static bool reshape_to(VM *vm, ObjTensor *x, int ndim, const int64_t *shape, ObjTensor **out) {
  TAttrs at = {0};
  for (int i = 0; i < ndim; i++) at.ints[i] = shape[i];
  at.nints = ndim;
  return run1(vm, TOP_RESHAPE, x, &at, out);
}

static bool cast_to(VM *vm, ObjTensor *x, DType dt, ObjTensor **out) {
  if (x->dtype == dt) {
    *out = x;
    return true;
  }
  TAttrs at = {0};
  at.dtype = dt;
  return run1(vm, TOP_CAST, x, &at, out);
}

static bool transpose2(VM *vm, ObjTensor *x, int a, int b, ObjTensor **out) {
  TAttrs at = {0};
  for (int i = 0; i < x->ndim; i++) at.ints[i] = i;
  at.ints[a] = b;
  at.ints[b] = a;
  at.nints = x->ndim;
  return run1(vm, TOP_PERMUTE, x, &at, out);
}

/* .T: reversed axes (a matrix's transpose; vectors and scalars unchanged). */
static bool tensor_T(VM *vm, ObjTensor *x, ObjTensor **out) {
  if (x->ndim < 2) {
    *out = x;
    return true;
  }
  TAttrs at = {0};
  for (int i = 0; i < x->ndim; i++) at.ints[i] = x->ndim - 1 - i;
  at.nints = x->ndim;
  return run1(vm, TOP_PERMUTE, x, &at, out);
}

/* ---- element copies (no autograd) ---- */

static void store_elem(ObjTensor *t, int64_t off, double v) {
  char *base = (char *)t->storage->data;
  switch (t->dtype) {
  case DT_F32: ((float *)base)[off] = (float)v; break;
  case DT_F64: ((double *)base)[off] = v; break;
  case DT_I64: ((int64_t *)base)[off] = (int64_t)v; break;
  default: ((uint8_t *)base)[off] = v != 0; break;
  }
}

/* dst[...] = src broadcast to dst's shape and converted to its dtype: a
 * cast to dst's dtype written into dst (tensor_apply_into reads a source
 * sharing dst's storage first and bumps the version). */
static bool copy_into(VM *vm, ObjTensor *dst, ObjTensor *src) {
  TAttrs at = {.dtype = dst->dtype};
  return tensor_apply_into(vm->tc, TOP_CAST, &src, 1, &at, dst);
}

/* ---- indexing: ints select, ranges slice, a bool tensor masks ---- */

typedef struct {
  int64_t start, stop, step;
  bool drop; /* an int index: the dimension disappears */
} DimSel;

static bool dim_sel(VM *vm, Value v, int64_t len, int dim, DimSel *s) {
  if (IS_INT(v)) {
    int64_t i = v.as.i < 0 ? v.as.i + len : v.as.i;
    if (i < 0 || i >= len)
      return vm_error(vm, "index %lld is out of range for dimension %d of size %lld", (long long)v.as.i,
                      dim, (long long)len);
    *s = (DimSel){i, i + 1, 1, true};
    return true;
  }
  if (IS_OBJ_TYPE(v, OBJ_RANGE)) {
    ObjRange *r = AS_RANGE(v);
    int64_t step = (r->flags & RANGE_HAS_STEP) ? r->step : 1;
    if (step <= 0) return vm_error(vm, "tensor slices need a positive step, got %lld", (long long)step);
    int64_t lo = (r->flags & RANGE_HAS_LO) ? r->lo : 0;
    int64_t hi = (r->flags & RANGE_HAS_HI) ? r->hi + ((r->flags & RANGE_INCLUSIVE) ? 1 : 0) : len;
    if (lo < 0) lo += len;
    if (hi < 0 && (r->flags & RANGE_HAS_HI)) hi += len;
    if (lo < 0) lo = 0;
    if (hi > len) hi = len;
    if (lo > len) lo = len;
    if (hi < lo) hi = lo;
    *s = (DimSel){lo, hi, step, false};
    return true;
  }
  return vm_error(vm, "tensor indices must be ints, ranges or a bool tensor, got %s", value_type_name(v));
}

/* The view x[idx] (idx: int, range or tuple of those). */
static bool index_view(VM *vm, ObjTensor *x, Value idx, ObjTensor **out) {
  const Value *parts = &idx;
  int n = 1;
  if (IS_TUPLE(idx)) {
    parts = AS_TUPLE(idx)->items;
    n = (int)AS_TUPLE(idx)->len;
  }
  if (n > x->ndim)
    return vm_error(vm, "too many indices for a tensor with %d dimension%s: %d", x->ndim,
                    x->ndim == 1 ? "" : "s", n);
  DimSel sel[NS_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    if (d < n) {
      if (!dim_sel(vm, parts[d], x->shape[d], d, &sel[d])) return false;
    } else {
      sel[d] = (DimSel){0, x->shape[d], 1, false};
    }
  }
  if (!(vm->tc->grad_enabled > 0 && (x->requires_grad || x->grad_fn))) {
    /* nothing to record: the view itself, so that writes reach x */
    int64_t shape[NS_MAX_DIMS], strides[NS_MAX_DIMS], off = x->offset;
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
      off += sel[d].start * x->strides[d];
      if (sel[d].drop) continue;
      shape[nd] = (sel[d].stop - sel[d].start + sel[d].step - 1) / sel[d].step;
      strides[nd++] = x->strides[d] * sel[d].step;
    }
    *out = tensor_view(vm->tc, x, nd, shape, strides, off);
    return *out != NULL;
  }
  if (x->ndim * 3 > NS_MAX_DIMS * 2) return vm_error(vm, "slicing supports tensors of up to 5 dimensions");
  TAttrs at = {0};
  for (int d = 0; d < x->ndim; d++) {
    at.ints[3 * d] = sel[d].start;
    at.ints[3 * d + 1] = sel[d].stop;
    at.ints[3 * d + 2] = sel[d].step;
  }
  at.nints = 3 * x->ndim;
  at.axis = x->ndim;
  ObjTensor *v;
  if (!run1(vm, TOP_SLICE, x, &at, &v)) return false;
  int64_t shape[NS_MAX_DIMS];
  int nd = 0;
  bool dropped = false;
  for (int d = 0; d < x->ndim; d++) {
    if (sel[d].drop) dropped = true;
    else shape[nd++] = v->shape[d];
  }
  if (!dropped) {
    *out = v;
    return true;
  }
  return reshape_to(vm, v, nd, shape, out);
}

/* x[mask] for a bool mask of x's shape: the selected elements, 1-D. */
static bool mask_select(VM *vm, ObjTensor *x, ObjTensor *mask, ObjTensor **out) {
  char a[64], b[64];
  if (mask->ndim != x->ndim || memcmp(mask->shape, x->shape, sizeof(int64_t) * x->ndim))
    return vm_error(vm, "mask: shapes %s and %s differ", tensor_shape_str(x, a, sizeof a),
                    tensor_shape_str(mask, b, sizeof b));
  int64_t count = 0;
  for (int64_t i = 0; i < mask->numel; i++) count += tensor_get(mask, i) != 0;
  ObjTensor *idx = tensor_new(vm->tc, DT_I64, 1, &count);
  if (!idx) return false;
  int64_t *p = tensor_data(idx), k = 0;
  for (int64_t i = 0; i < mask->numel; i++)
    if (tensor_get(mask, i) != 0) p[k++] = i;
  ObjTensor *flat;
  int64_t all = -1;
  if (!reshape_to(vm, x, 1, &all, &flat)) return false;
  ObjTensor *in[2] = {flat, idx};
  TAttrs at = {0};
  at.axis = 0;
  return tensor_apply(vm->tc, TOP_INDEX_SELECT, in, 2, &at, out);
}

/* x[[i, j, ...]]: a list of ints as an i64 index tensor (an empty list
 * selects nothing; floats are not rounded). */
static bool int_list_index(VM *vm, Value idx, ObjTensor **out) {
  if (!tensor_from_value(vm->tc, idx, DT__COUNT, out)) return false;
  if ((*out)->numel == 0) return cast_to(vm, *out, DT_I64, out);
  if ((*out)->dtype != DT_I64)
    return vm_error(vm, "a list index must hold ints, got %s elements", (*out)->dtype == DT_BOOL ? "bool" : "float");
  return true;
}

bool lib_tensor_get_index(VM *vm, Value obj, Value idx, Value *out) {
  ObjTensor *x = AS_TENSOR(obj), *r;
  if (IS_TENSOR(idx)) {
    ObjTensor *ix = AS_TENSOR(idx);
    if (ix->dtype == DT_BOOL) {
      if (!mask_select(vm, x, ix, &r)) return false;
    } else {
      ObjTensor *in[2] = {x, ix};
      TAttrs at = {0};
      if (ix->dtype != DT_I64)
        return vm_error(vm, "a tensor index must be an i64 tensor or a bool mask, got %s",
                        tensor_dtype_names[ix->dtype]);
      if (!tensor_apply(vm->tc, TOP_INDEX_SELECT, in, 2, &at, &r)) return false;
    }
  } else if (IS_LIST(idx)) {
    ObjTensor *ix;
    if (!int_list_index(vm, idx, &ix)) return false;
    ObjTensor *in[2] = {x, ix};
    TAttrs at = {0};
    if (!tensor_apply(vm->tc, TOP_INDEX_SELECT, in, 2, &at, &r)) return false;
  } else if (x->ndim == 0) {
    return vm_error(vm, "cannot index a 0-dimensional tensor (use .item())");
  } else if (!index_view(vm, x, idx, &r)) {
    return false;
  }
  *out = tval(r);
  return true;
}

/* Row-major positions 0 .. numel-1 in x's shape (i64). */
static ObjTensor *positions_of(VM *vm, const ObjTensor *x) {
  ObjTensor *p = tensor_new(vm->tc, DT_I64, x->ndim, x->shape);
  if (p == NULL) return NULL;
  int64_t *d = tensor_data(p);
  for (int64_t i = 0; i < p->numel; i++) d[i] = i;
  return p;
}

/* The row-major positions in x of the elements x[idx] selects, as an i64
 * tensor shaped like the selection; the index is checked as the read
 * x[idx] checks it (it is that read, on a tensor of positions). An index
 * tensor selects along axis 0, so only the selected rows are built. Grad
 * mode is off. */
static bool index_positions(VM *vm, ObjTensor *x, Value idx, ObjTensor **pos) {
  bool index_tensor = IS_LIST(idx) || (IS_TENSOR(idx) && AS_TENSOR(idx)->dtype != DT_BOOL);
  if (!index_tensor || x->ndim == 0) {
    ObjTensor *p = positions_of(vm, x);
    Value r;
    if (p == NULL) return vm_error(vm, "out of memory");
    if (!lib_tensor_get_index(vm, tval(p), idx, &r)) return false;
    *pos = AS_TENSOR(r);
    return true;
  }
  /* rows = x's row numbers at idx ([idx shape]), then
   * pos = rows * inner + (0 .. inner) over x's other dims */
  int64_t rows_n = x->shape[0], inner = x->shape[0] ? x->numel / x->shape[0] : 0;
  ObjTensor *rows = tensor_new(vm->tc, DT_I64, 1, &rows_n), *r;
  if (rows == NULL) return vm_error(vm, "out of memory");
  for (int64_t i = 0; i < rows_n; i++) ((int64_t *)tensor_data(rows))[i] = i;
  Value sel;
  if (!lib_tensor_get_index(vm, tval(rows), idx, &sel)) return false;
  ObjTensor *s = AS_TENSOR(sel);
  if (s->ndim + x->ndim - 1 > NS_MAX_DIMS)
    return vm_error(vm, "index assignment: more than %d dimensions", NS_MAX_DIMS);
  int64_t shape[NS_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < s->ndim; d++) shape[nd++] = s->shape[d];
  for (int d = 1; d < x->ndim; d++) shape[nd++] = 1;
  ObjTensor *scale = tensor_scalar(vm->tc, DT_I64, (double)inner);
  ObjTensor *cols = tensor_new(vm->tc, DT_I64, x->ndim - 1, x->shape + 1);
  if (scale == NULL || cols == NULL) return vm_error(vm, "out of memory");
  for (int64_t i = 0; i < cols->numel; i++) ((int64_t *)tensor_data(cols))[i] = i;
  if (!reshape_to(vm, s, nd, shape, &r) || !run2(vm, TOP_MUL, r, scale, &r) || !run2(vm, TOP_ADD, r, cols, &r))
    return false;
  *pos = r;
  return true;
}

/* The tensor a chain of recorded views of x starts from (x itself when x
 * was not made by a view op sharing its input's storage). Writing into a
 * view of a tensor with history would change that tensor's values behind
 * its grad_fn's back. */
static const ObjTensor *view_base(const ObjTensor *x) {
  const ObjTensor *t = x;
  for (;;) {
    const GradNode *g = t->grad_fn;
    if (g == NULL || g->ninputs < 1 || g->inputs[0] == NULL || g->inputs[0]->storage != t->storage) return t;
    if (tensor_ops[g->op].fclass != FUSE_VIEW && g->op != TOP_CONTIGUOUS) return t;
    t = g->inputs[0];
  }
}

/* x[idx] = v. The index is any the read x[idx] takes (ints, ranges, a
 * tuple of those, an i64 index tensor or a list of ints selecting along
 * axis 0, a bool mask); v broadcasts to the selection's shape and takes
 * x's dtype. As in PyTorch, a leaf that requires grad (or a view of one)
 * cannot be changed in place while grad mode is on, and an assignment into a tensor with
 * history (or of a value that requires grad) is recorded: x's grad_fn
 * becomes an index_put node whose input 0 is x's previous history, so
 * gradients flow to the unchanged elements of x and to v. Ints, ranges
 * and their tuples write through a view; the others through positions. */
bool lib_tensor_set_index(VM *vm, Value obj, Value idx, Value v) {
  ObjTensor *x = AS_TENSOR(obj), *dst, *src, *pos = NULL;
  if (vm->tc->grad_enabled > 0 && x->requires_grad && x->grad_fn == NULL)
    return vm_error(vm, "index assignment: a leaf tensor that requires grad cannot be changed in place "
                        "(assign inside no_grad { }, or to .detach())");
  if (!operand(vm, v, x, "index assignment", &src)) return false;
  bool floats = x->dtype == DT_F32 || x->dtype == DT_F64;
  bool record = vm->tc->grad_enabled > 0 && floats && (x->grad_fn != NULL || src->requires_grad);
  int saved = vm->tc->grad_enabled;
  vm->tc->grad_enabled = 0;
  bool ok;
  if (!record && !IS_TENSOR(idx) && !IS_LIST(idx)) {
    if (x->ndim == 0) ok = vm_error(vm, "cannot index a 0-dimensional tensor");
    else ok = index_view(vm, x, idx, &dst) && copy_into(vm, dst, src);
    vm->tc->grad_enabled = saved;
    return ok;
  }
  ok = index_positions(vm, x, idx, &pos);
  vm->tc->grad_enabled = saved;
  if (!ok) return false;
  if (!record) {
    ObjTensor *in[3] = {x, pos, src};
    return tensor_apply_into(vm->tc, TOP_INDEX_PUT, in, 3, NULL, x);
  }
  const ObjTensor *base = view_base(x);
  if (base != x && base->grad_fn == NULL)
    return vm_error(vm, "index assignment: a view of a leaf tensor that requires grad cannot be changed in place "
                        "(assign inside no_grad { }, or to .detach())");
  if (base != x)
    return vm_error(vm, "index assignment into a view of a tensor with history would not reach that tensor's "
                        "gradient; assign into the tensor itself, or into a clone() of the view");
  /* x's history so far, under a header of its own: x itself will be the
   * result of the index_put */
  ObjTensor *old = tensor_view(vm->tc, x, x->ndim, x->shape, x->strides, x->offset), *r;
  if (old == NULL) return vm_error(vm, "out of memory");
  old->grad_fn = x->grad_fn;
  old->requires_grad = x->requires_grad;
  ObjTensor *in[3] = {old, pos, src};
  TAttrs at = {0};
  if (!tensor_apply(vm->tc, TOP_INDEX_PUT, in, 3, &at, &r) || !copy_into(vm, x, r)) return false;
  x->grad_fn = r->grad_fn;
  x->requires_grad = true;
  return true;
}

/* ---- fields ---- */

static Value shape_list(VM *vm, const ObjTensor *t) {
  ObjList *l = list_new(vm, t->ndim);
  for (int i = 0; i < t->ndim; i++) list_push(vm, l, INT_VAL(t->shape[i]));
  return OBJ_VAL(l);
}

bool lib_tensor_get_field(VM *vm, Value obj, ObjString *name, Value *out) {
  ObjTensor *t = AS_TENSOR(obj), *r;
  const char *n = name->chars;
  if (!strcmp(n, "T")) {
    if (!tensor_T(vm, t, &r)) return false;
    *out = tval(r);
    return true;
  }
  if (!strcmp(n, "shape")) return *out = shape_list(vm, t), true;
  if (!strcmp(n, "dtype")) return *out = OBJ_VAL(str_cstr(vm, tensor_dtype_names[t->dtype])), true;
  if (!strcmp(n, "ndim")) return *out = INT_VAL(t->ndim), true;
  if (!strcmp(n, "grad")) {
    if (t->grad) *out = tval(t->grad);
    else *out = UNIT_VAL;
    return true;
  }
  if (!strcmp(n, "requires_grad")) return *out = BOOL_VAL(t->requires_grad), true;
  Value m;
  if (vm_find_method(vm, obj, name, &m)) {
    *out = OBJ_VAL(bound_new(vm, obj, m));
    return true;
  }
  return vm_error(vm, "no field `%s` on Tensor", n);
}

static bool set_requires_grad(VM *vm, ObjTensor *t, bool on) {
  if (on && t->dtype != DT_F32 && t->dtype != DT_F64)
    return vm_error(vm, "only f32 and f64 tensors can require gradients, got %s",
                    tensor_dtype_names[t->dtype]);
  if (!on && t->grad_fn)
    return vm_error(vm, "requires_grad can only be turned off on a leaf tensor (use .detach())");
  t->requires_grad = on;
  return true;
}

bool lib_tensor_set_field(VM *vm, Value obj, ObjString *name, Value v) {
  ObjTensor *t = AS_TENSOR(obj);
  if (!strcmp(name->chars, "requires_grad")) {
    if (!IS_BOOL(v)) return vm_error(vm, "requires_grad must be a bool, got %s", value_type_name(v));
    return set_requires_grad(vm, t, v.as.b);
  }
  if (!strcmp(name->chars, "grad")) {
    if (IS_UNIT(v)) {
      t->grad = NULL;
      return true;
    }
    if (!IS_TENSOR(v)) return vm_error(vm, "grad must be a Tensor or (), got %s", value_type_name(v));
    t->grad = AS_TENSOR(v);
    return true;
  }
  return vm_error(vm, "cannot assign to field `%s` of Tensor", name->chars);
}

/* ---- operators (arith.c) ---- */

static bool binop(VM *vm, TensorOp op, Value a, Value b, Value *out) {
  ObjTensor *x, *y;
  const ObjTensor *like = IS_TENSOR(a) ? AS_TENSOR(a) : IS_TENSOR(b) ? AS_TENSOR(b) : NULL;
  const char *who = tensor_ops[op].name;
  if (!operand(vm, a, like, who, &x) || !operand(vm, b, like, who, &y)) return false;
  ObjTensor *in[2] = {x, y};
  return run(vm, op, in, 2, NULL, out);
}

static bool bool_const(VM *vm, bool v, ObjTensor **out) {
  *out = tensor_scalar(vm->tc, DT_BOOL, v);
  return *out != NULL;
}

static bool logic(VM *vm, bool is_and, Value a, Value b, Value *out) {
  ObjTensor *x, *y, *c;
  if (!operand(vm, a, NULL, is_and ? "&" : "|", &x) || !operand(vm, b, NULL, is_and ? "&" : "|", &y))
    return false;
  if (x->dtype != DT_BOOL || y->dtype != DT_BOOL)
    return vm_error(vm, "`%s` on tensors needs bool tensors, got %s and %s", is_and ? "&" : "|",
                    tensor_dtype_names[x->dtype], tensor_dtype_names[y->dtype]);
  if (!bool_const(vm, !is_and, &c)) return false;
  ObjTensor *in[3] = {x, is_and ? y : c, is_and ? c : y};
  return run(vm, TOP_WHERE, in, 3, NULL, out);
}

/* Integer x % y, exactly (the float route below rounds past 2^24), with
 * the dividend's sign as C's %; x % -1 is 0 (INT64_MIN % -1 would trap). */
static bool int_mod(VM *vm, ObjTensor *x, ObjTensor *y, Value *out) {
  int nd = x->ndim > y->ndim ? x->ndim : y->ndim;
  TAttrs at = {0};
  for (int i = 0; i < nd; i++) {
    int64_t dx = i < nd - x->ndim ? 1 : x->shape[i - (nd - x->ndim)];
    int64_t dy = i < nd - y->ndim ? 1 : y->shape[i - (nd - y->ndim)];
    if (dx != dy && dx != 1 && dy != 1) {
      char sa[128], sb[128];
      return vm_error(vm, "%%: shapes %s and %s cannot broadcast", tensor_shape_str(x, sa, sizeof sa),
                      tensor_shape_str(y, sb, sizeof sb));
    }
    at.ints[i] = dx == 1 ? dy : dx;
  }
  at.nints = nd;
  ObjTensor *xc, *yc, *r;
  if (!run1(vm, TOP_EXPAND, x, &at, &xc) || !run1(vm, TOP_EXPAND, y, &at, &yc) || !cast_to(vm, xc, DT_I64, &xc) ||
      !cast_to(vm, yc, DT_I64, &yc))
    return false;
  xc = tensor_contiguous(vm->tc, xc);
  yc = tensor_contiguous(vm->tc, yc);
  r = tensor_new(vm->tc, DT_I64, nd, at.ints);
  if (!xc || !yc || !r) return false;
  const int64_t *xd = tensor_data(xc), *yd = tensor_data(yc);
  int64_t *rd = tensor_data(r);
  for (int64_t i = 0; i < r->numel; i++) {
    if (yd[i] == 0) return vm_error(vm, "division by zero");
    rd[i] = yd[i] == -1 ? 0 : xd[i] % yd[i];
  }
  *out = tval(r);
  return true;
}

/* x % y with the dividend's sign: x - y * trunc(x / y) for floats. */
static bool fmod_op(VM *vm, Value a, Value b, Value *out) {
  ObjTensor *x, *y, *q, *t;
  const ObjTensor *like = IS_TENSOR(a) ? AS_TENSOR(a) : AS_TENSOR(b);
  if (!operand(vm, a, like, "%", &x) || !operand(vm, b, like, "%", &y)) return false;
  DType dt = x->dtype > y->dtype && x->dtype != DT_BOOL ? x->dtype : y->dtype;
  if (dt == DT_BOOL) dt = DT_I64;
  if (dt == DT_I64) return int_mod(vm, x, y, out);
  if (!run2(vm, TOP_DIV, x, y, &q) || !cast_to(vm, q, DT_I64, &t) || !cast_to(vm, t, dt, &t) ||
      !run2(vm, TOP_MUL, y, t, &t) || !run2(vm, TOP_SUB, x, t, &t))
    return false;
  if (!cast_to(vm, t, dt, &t)) return false;
  *out = tval(t);
  return true;
}

bool lib_tensor_binary(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  switch (op) {
  case AOP_ADD: return binop(vm, TOP_ADD, a, b, out);
  case AOP_SUB: return binop(vm, TOP_SUB, a, b, out);
  case AOP_MUL: return binop(vm, TOP_MUL, a, b, out);
  case AOP_DIV: return binop(vm, TOP_DIV, a, b, out);
  case AOP_POW: return binop(vm, TOP_POW, a, b, out);
  case AOP_MOD: return fmod_op(vm, a, b, out);
  case AOP_MATMUL:
  case AOP_DOT: return binop(vm, TOP_MATMUL, a, b, out);
  case AOP_OUTER: {
    ObjTensor *x, *y, *xc, *yr;
    const ObjTensor *like = IS_TENSOR(a) ? AS_TENSOR(a) : AS_TENSOR(b);
    if (!operand(vm, a, like, "outer", &x) || !operand(vm, b, like, "outer", &y)) return false;
    int64_t col[2] = {-1, 1}, row[2] = {1, -1};
    if (!reshape_to(vm, x, 2, col, &xc) || !reshape_to(vm, y, 2, row, &yr)) return false;
    ObjTensor *in[2] = {xc, yr};
    return run(vm, TOP_MUL, in, 2, NULL, out);
  }
  case AOP_EQ: return binop(vm, TOP_EQ, a, b, out);
  case AOP_NE: return binop(vm, TOP_NE, a, b, out);
  case AOP_LT: return binop(vm, TOP_LT, a, b, out);
  case AOP_LE: return binop(vm, TOP_LE, a, b, out);
  case AOP_GT: return binop(vm, TOP_GT, a, b, out);
  case AOP_GE: return binop(vm, TOP_GE, a, b, out);
  case AOP_BITAND: return logic(vm, true, a, b, out);
  case AOP_BITOR: return logic(vm, false, a, b, out);
  case AOP_APPROX: {
    Value d, tol;
    ObjTensor *x, *y;
    const ObjTensor *like = IS_TENSOR(a) ? AS_TENSOR(a) : AS_TENSOR(b);
    if (!operand(vm, a, like, "≈", &x) || !operand(vm, b, like, "≈", &y)) return false;
    if (!lib_tensor_binary(vm, AOP_SUB, tval(x), tval(y), &d)) return false;
    if (!lib_tensor_unary(vm, AOP_ABS, d, &d)) return false;
    if (!lib_tensor_unary(vm, AOP_ABS, tval(y), &tol)) return false;
    if (!lib_tensor_binary(vm, AOP_MUL, tol, FLOAT_VAL(1e-5), &tol)) return false;
    if (!lib_tensor_binary(vm, AOP_ADD, tol, FLOAT_VAL(1e-6), &tol)) return false;
    if (!lib_tensor_binary(vm, AOP_LE, d, tol, &d)) return false;
    ObjTensor *m = AS_TENSOR(d);
    bool all = true;
    for (int64_t i = 0; i < m->numel && all; i++) all = tensor_get(m, i) != 0;
    *out = BOOL_VAL(all);
    return true;
  }
  default: break;
  }
  return vm_error(vm, "unsupported operand types for `%s`: %s and %s", arith_op_name(op),
                  value_type_name(a), value_type_name(b));
}

/* Gradients of loss with respect to the tensor fields of a struct (nested
 * structs recursed, other fields copied): an instance of the same class. */
static bool grads_like(VM *vm, Value v, int depth, Value *out) {
  if (IS_TENSOR(v)) {
    ObjTensor *t = AS_TENSOR(v);
    if (t->grad) *out = tval(t->grad);
    else {
      ObjTensor *z = tensor_zeros(vm->tc, t->dtype, t->ndim, t->shape);
      if (!z) return false;
      *out = tval(z);
    }
    return true;
  }
  if (IS_INSTANCE(v) && depth < 64) {
    ObjInstance *in = AS_INSTANCE(v), *g = instance_new(vm, in->cls);
    for (int i = 0; i < in->cls->nfields; i++) g->fields[i] = in->fields[i];
    *out = OBJ_VAL(g);
    for (int i = 0; i < in->cls->nfields; i++)
      if (!grads_like(vm, in->fields[i], depth + 1, &g->fields[i])) return false;
    return true;
  }
  if (IS_LIST(v) && depth < 64) {
    ObjList *l = AS_LIST(v), *g = list_new(vm, l->len);
    for (uint32_t i = 0; i < l->len; i++) list_push(vm, g, l->items[i]);
    *out = OBJ_VAL(g);
    for (uint32_t i = 0; i < l->len; i++)
      if (!grads_like(vm, l->items[i], depth + 1, &g->items[i])) return false;
    return true;
  }
  *out = v;
  return true;
}

/* The backward pass runs protected, like each forward kernel: a rule's
 * allocation failing is the error of the backward() call. */
typedef struct {
  ObjTensor *root, *gradient;
  bool retain_graph;
} Backward;

static bool run_backward(TCtx *tc, void *ctx) {
  Backward *b = ctx;
  return autograd_backward(tc, b->root, b->gradient, b->retain_graph);
}

static bool backward(VM *vm, ObjTensor *t, ObjTensor *gradient, bool retain_graph) {
  if (!gradient && t->numel != 1) {
    char b[64];
    return vm_error(vm, "backward: the tensor has shape %s; backward() without a gradient needs a "
                        "single-element tensor (a loss)",
                    tensor_shape_str(t, b, sizeof b));
  }
  if (!t->requires_grad && !t->grad_fn)
    return vm_error(vm, "backward: the tensor does not require grad (no input had requires_grad = true)");
  Backward b = {t, gradient, retain_graph};
  return tensor_protected(vm->tc, run_backward, &b);
}

static bool nabla(VM *vm, Value a, Value *out) {
  if (IS_TENSOR(a)) {
    *out = UNIT_VAL;
    return backward(vm, AS_TENSOR(a), NULL, false);
  }
  if (IS_TUPLE(a) && AS_TUPLE(a)->len == 2 && IS_TENSOR(AS_TUPLE(a)->items[0])) {
    if (!backward(vm, AS_TENSOR(AS_TUPLE(a)->items[0]), NULL, false)) return false;
    return grads_like(vm, AS_TUPLE(a)->items[1], 0, out);
  }
  return vm_error(vm, "`∇` expects a tensor (∇loss) or (loss, parameters), got %s", value_type_name(a));
}

static bool sum_all(VM *vm, ObjTensor *x, Value *out) {
  TAttrs at = {0};
  return run(vm, TOP_SUM, &x, 1, &at, out);
}

bool lib_tensor_unary(VM *vm, ArithOp op, Value a, Value *out) {
  if (op == AOP_GRAD) return nabla(vm, a, out);
  ObjTensor *x = AS_TENSOR(a);
  switch (op) {
  case AOP_NEG: return run(vm, TOP_NEG, &x, 1, NULL, out);
  case AOP_SQRT: return run(vm, TOP_SQRT, &x, 1, NULL, out);
  case AOP_ABS: return run(vm, TOP_ABS, &x, 1, NULL, out);
  case AOP_SUM: return sum_all(vm, x, out);
  case AOP_PROD: {
    /* a 0-dim tensor of x's dtype; the product is not recorded for ∇ */
    double p = 1.0;
    for (int64_t i = 0; i < x->numel; i++) p *= tensor_get(x, i);
    ObjTensor *r = tensor_scalar(vm->tc, x->dtype == DT_BOOL ? DT_I64 : x->dtype, p);
    if (!r) return false;
    *out = OBJ_VAL(r);
    return true;
  }
  case AOP_NOT: {
    ObjTensor *f;
    if (x->dtype != DT_BOOL) return vm_error(vm, "`!` on a tensor needs a bool tensor, got %s", tensor_dtype_names[x->dtype]);
    if (!bool_const(vm, false, &f)) return false;
    ObjTensor *in[2] = {x, f};
    return run(vm, TOP_EQ, in, 2, NULL, out);
  }
  case AOP_CBRT: {
    ObjTensor *e = tensor_scalar(vm->tc, x->dtype == DT_F64 ? DT_F64 : DT_F32, 1.0 / 3.0);
    if (!e) return false;
    ObjTensor *in[2] = {x, e};
    return run(vm, TOP_POW, in, 2, NULL, out);
  }
  default: break;
  }
  return vm_error(vm, "`%s` does not apply to tensors", arith_op_name(op));
}

/* ---- creation ---- */

static bool dtype_or(VM *vm, Value v, DType dflt, DType *out) {
  if (absent(v)) return *out = dflt, true;
  return dtype_arg(vm, v, out);
}

static bool n_tensor(VM *vm, Value *a, int argc, Value *out) {
  DType dt = DT__COUNT;
  if (!absent(arg(a, argc, 1)) && !dtype_arg(vm, a[1], &dt)) return false;
  ObjTensor *t;
  if (IS_TENSOR(a[0])) {
    if (!cast_to(vm, AS_TENSOR(a[0]), dt == DT__COUNT ? AS_TENSOR(a[0])->dtype : dt, &t)) return false;
    if (t == AS_TENSOR(a[0]) && !(t = tensor_contiguous(vm->tc, t))) return false;
    *out = tval(t);
    return true;
  }
  if (!tensor_from_value(vm->tc, a[0], dt, &t)) return false;
  *out = tval(t);
  return true;
}

/* zeros(2, 3), zeros([2, 3]), zeros([2, 3], dtype: "f64") */
static bool shape_and_dtype(VM *vm, Value *a, int argc, const char *who, int *nd, int64_t *shape, DType *dt) {
  int n = argc;
  *dt = DT_F32;
  if (n > 0 && (IS_STRING(a[n - 1]) || IS_CLASS(a[n - 1]) || absent(a[n - 1]))) {
    if (!absent(a[n - 1]) && !dtype_arg(vm, a[n - 1], dt)) return false;
    n--;
  }
  if (!shape_of_args(vm, a, n, who, nd, shape)) return false;
  for (int i = 0; i < *nd; i++)
    if (shape[i] < 0) return vm_error(vm, "%s: negative dimension %lld", who, (long long)shape[i]);
  return true;
}

static bool filled(VM *vm, int nd, const int64_t *shape, DType dt, double v, Value *out) {
  ObjTensor *t = tensor_new(vm->tc, dt, nd, shape);
  if (!t) return false;
  for (int64_t i = 0; i < t->numel; i++) store_elem(t, t->offset + i, v);
  *out = tval(t);
  return true;
}

static bool n_zeros(VM *vm, Value *a, int argc, Value *out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  DType dt;
  return shape_and_dtype(vm, a, argc, "zeros", &nd, shape, &dt) && filled(vm, nd, shape, dt, 0, out);
}

static bool n_ones(VM *vm, Value *a, int argc, Value *out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  DType dt;
  return shape_and_dtype(vm, a, argc, "ones", &nd, shape, &dt) && filled(vm, nd, shape, dt, 1, out);
}

static bool n_full(VM *vm, Value *a, int argc, Value *out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  double v;
  DType dt = IS_INT(a[1]) ? DT_I64 : IS_BOOL(a[1]) ? DT_BOOL : DT_F32;
  if (!absent(arg(a, argc, 2)) && !dtype_arg(vm, a[2], &dt)) return false;
  if (IS_BOOL(a[1])) v = a[1].as.b;
  else if (!lib_num_arg(vm, a[1], "full", &v)) return false;
  return shape_of_args(vm, a, 1, "full", &nd, shape) && filled(vm, nd, shape, dt, v, out);
}

static bool n_arange(VM *vm, Value *a, int argc, Value *out) {
  double lo = 0, hi, step = 1;
  int n = argc;
  DType dt = DT__COUNT;
  if (n > 0 && (IS_STRING(a[n - 1]) || IS_CLASS(a[n - 1]) || absent(a[n - 1]))) {
    if (!absent(a[n - 1]) && !dtype_arg(vm, a[n - 1], &dt)) return false;
    n--;
  }
  bool all_int = true;
  for (int i = 0; i < n; i++) all_int = all_int && IS_INT(a[i]);
  if (n == 0) return vm_error(vm, "arange expects 1 to 3 numbers");
  if (n == 1) {
    if (!lib_num_arg(vm, a[0], "arange", &hi)) return false;
  } else if (!lib_num_arg(vm, a[0], "arange", &lo) || !lib_num_arg(vm, a[1], "arange", &hi)) {
    return false;
  }
  if (n >= 3 && !lib_num_arg(vm, a[2], "arange", &step)) return false;
  if (step == 0) return vm_error(vm, "arange: the step cannot be zero");
  double cnt = ceil((hi - lo) / step);
  if (!(cnt >= 0)) cnt = 0;
  if (cnt >= 0x1p63) return vm_error(vm, "arange: %.17g elements are too many", cnt);
  if (dt == DT__COUNT) dt = all_int ? DT_I64 : DT_F32;
  int64_t len = (int64_t)cnt;
  ObjTensor *t = tensor_new(vm->tc, dt, 1, &len);
  if (!t) return false;
  for (int64_t i = 0; i < len; i++) store_elem(t, t->offset + i, lo + (double)i * step);
  *out = tval(t);
  return true;
}

static bool n_linspace(VM *vm, Value *a, int argc, Value *out) {
  double lo, hi;
  int64_t n;
  DType dt = DT_F32;
  if (!lib_num_arg(vm, a[0], "linspace", &lo) || !lib_num_arg(vm, a[1], "linspace", &hi) ||
      !lib_int_arg(vm, a[2], "linspace", &n) || !dtype_or(vm, arg(a, argc, 3), DT_F32, &dt))
    return false;
  if (n < 0) return vm_error(vm, "linspace: negative count %lld", (long long)n);
  ObjTensor *t = tensor_new(vm->tc, dt, 1, &n);
  if (!t) return false;
  for (int64_t i = 0; i < n; i++)
    store_elem(t, t->offset + i, n == 1 ? lo : lo + (hi - lo) * (double)i / (double)(n - 1));
  *out = tval(t);
  return true;
}

static bool n_eye(VM *vm, Value *a, int argc, Value *out) {
  int64_t n, m;
  DType dt;
  if (!lib_int_arg(vm, a[0], "eye", &n)) return false;
  m = n;
  int di = 1;
  if (argc > 1 && IS_INT(a[1])) {
    m = a[1].as.i;
    di = 2;
  }
  if (!dtype_or(vm, arg(a, argc, di), DT_F32, &dt)) return false;
  if (n < 0 || m < 0) return vm_error(vm, "eye: negative size");
  int64_t shape[2] = {n, m};
  if (!filled(vm, 2, shape, dt, 0, out)) return false;
  ObjTensor *t = AS_TENSOR(*out);
  for (int64_t i = 0; i < n && i < m; i++) store_elem(t, t->offset + i * m + i, 1);
  return true;
}

typedef enum { R_UNIFORM, R_NORMAL } RandKind;

static bool random_fill(VM *vm, Value *a, int argc, const char *who, RandKind k, Value *out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  DType dt;
  if (!shape_and_dtype(vm, a, argc, who, &nd, shape, &dt)) return false;
  if (dt != DT_F32 && dt != DT_F64) return vm_error(vm, "%s makes f32 or f64 tensors", who);
  ObjTensor *t = tensor_new(vm->tc, dt, nd, shape);
  if (!t) return false;
  for (int64_t i = 0; i < t->numel; i++)
    store_elem(t, t->offset + i, k == R_UNIFORM ? rng_uniform() : rng_normal());
  *out = tval(t);
  return true;
}

static bool n_rand(VM *vm, Value *a, int argc, Value *out) { return random_fill(vm, a, argc, "rand", R_UNIFORM, out); }
static bool n_randn(VM *vm, Value *a, int argc, Value *out) { return random_fill(vm, a, argc, "randn", R_NORMAL, out); }

static bool n_randint(VM *vm, Value *a, int argc, Value *out) {
  int64_t lo, hi;
  int nd;
  int64_t shape[NS_MAX_DIMS];
  if (!lib_int_arg(vm, a[0], "randint", &lo) || !lib_int_arg(vm, a[1], "randint", &hi)) return false;
  if (hi <= lo) return vm_error(vm, "randint: empty range %lld..%lld", (long long)lo, (long long)hi);
  if (!shape_of_args(vm, a + 2, argc - 2, "randint", &nd, shape)) return false;
  ObjTensor *t = tensor_new(vm->tc, DT_I64, nd, shape);
  if (!t) return false;
  uint64_t span = (uint64_t)(hi - lo);
  int64_t *p = tensor_data(t);
  for (int64_t i = 0; i < t->numel; i++) p[i] = lo + (int64_t)(rng_next() % span);
  *out = tval(t);
  return true;
}

static bool like_shape(VM *vm, Value *a, int argc, const char *who, Value *shape, DType *dt) {
  ObjTensor *x;
  if (!tensor_arg(vm, a[0], who, &x)) return false;
  *shape = shape_list(vm, x);
  return dtype_or(vm, arg(a, argc, 1), x->dtype, dt);
}

#define LIKE(name, fn)                                                          \
  static bool n_##name(VM *vm, Value *a, int argc, Value *out) {                \
    Value args[2];                                                              \
    DType dt;                                                                   \
    if (!like_shape(vm, a, argc, #name, &args[0], &dt)) return false;           \
    args[1] = OBJ_VAL(str_cstr(vm, tensor_dtype_names[dt]));                    \
    return fn(vm, args, 2, out);                                                \
  }
LIKE(zeros_like, n_zeros)
LIKE(ones_like, n_ones)
LIKE(rand_like, n_rand)
LIKE(randn_like, n_randn)

static bool n_seed(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  int64_t s;
  if (!lib_int_arg(vm, a[0], "seed", &s)) return false;
  rng_seed((uint64_t)s);
  *out = UNIT_VAL;
  return true;
}

static bool n_where(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  ObjTensor *c, *x, *y;
  if (!operand(vm, a[0], NULL, "where", &c)) return false;
  if (c->dtype != DT_BOOL) return vm_error(vm, "where: the condition must be a bool tensor, got %s", tensor_dtype_names[c->dtype]);
  const ObjTensor *like = IS_TENSOR(a[1]) ? AS_TENSOR(a[1]) : IS_TENSOR(a[2]) ? AS_TENSOR(a[2]) : NULL;
  if (!operand(vm, a[1], like, "where", &x) || !operand(vm, a[2], like, "where", &y)) return false;
  ObjTensor *in[3] = {c, x, y};
  return run(vm, TOP_WHERE, in, 3, NULL, out);
}

static bool tensor_list(VM *vm, Value v, const char *who, ObjTensor **ts, int *n) {
  ObjList *l;
  if (!lib_to_list(vm, v, who, &l)) return false;
  if (l->len == 0) return vm_error(vm, "%s of an empty list", who);
  if (l->len > 4096) return vm_error(vm, "%s: too many tensors (%u)", who, l->len);
  for (uint32_t i = 0; i < l->len; i++)
    if (!operand(vm, l->items[i], NULL, who, &ts[i])) return false;
  *n = (int)l->len;
  return true;
}

static bool join(VM *vm, Value *a, int argc, TensorOp op, const char *who, Value *out) {
  ObjTensor **ts = malloc(sizeof(ObjTensor *) * 4096);
  if (!ts) return vm_error(vm, "out of memory");
  int n = 0;
  bool ok = tensor_list(vm, a[0], who, ts, &n);
  if (ok) {
    int64_t ax = 0;
    if (!absent(arg(a, argc, 1)) && !lib_int_arg(vm, a[1], who, &ax)) ok = false;
    TAttrs at = {0};
    int axn;
    if (ok) ok = axis_norm(vm, ax, ts[0]->ndim + (op == TOP_STACK), who, &axn);
    at.axis = axn;
    if (ok) ok = run(vm, op, ts, n, &at, out);
  }
  free(ts);
  return ok;
}

static bool n_cat(VM *vm, Value *a, int argc, Value *out) { return join(vm, a, argc, TOP_CAT, "cat", out); }
static bool n_stack(VM *vm, Value *a, int argc, Value *out) { return join(vm, a, argc, TOP_STACK, "stack", out); }

static bool n_one_hot(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  ObjTensor *x;
  int64_t k;
  if (!operand(vm, a[0], NULL, "one_hot", &x) || !lib_int_arg(vm, a[1], "one_hot", &k)) return false;
  if (k <= 0) return vm_error(vm, "one_hot: the number of classes must be positive");
  TAttrs at = {0}; /* the kernel checks that the labels are i64 */
  at.ints[0] = k;
  at.nints = 1;
  return run(vm, TOP_ONE_HOT, &x, 1, &at, out);
}

static bool n_matmul(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  return binop(vm, TOP_MATMUL, a[0], a[1], out);
}

static bool n_maximum(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  return binop(vm, TOP_MAXIMUM, a[0], a[1], out);
}

static bool n_minimum(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  return binop(vm, TOP_MINIMUM, a[0], a[1], out);
}

/* ---- activations and elementwise functions (globals and methods) ---- */

static bool unary_fn(VM *vm, Value *a, int argc, TensorOp op, const char *who, Value *out) {
  (void)argc;
  ObjTensor *x;
  if (!operand(vm, a[0], NULL, who, &x)) return false;
  if (x->dtype == DT_I64 || x->dtype == DT_BOOL) {
    if (op != TOP_ABS && op != TOP_NEG && op != TOP_RELU && !cast_to(vm, x, DT_F32, &x)) return false;
  }
  return run(vm, op, &x, 1, NULL, out);
}

#define UNARY(name, OPNAME)                                                \
  static bool n_##name(VM *vm, Value *a, int argc, Value *out) {           \
    return unary_fn(vm, a, argc, TOP_##OPNAME, #name, out);                \
  }
UNARY(relu, RELU) UNARY(sigmoid, SIGMOID) UNARY(gelu, GELU) UNARY(silu, SILU)

bool lib_tensor_math1(VM *vm, const char *name, Value x, Value *out) {
  static const struct { const char *name; TensorOp op; } fns[] = {
    {"exp", TOP_EXP}, {"ln", TOP_LOG}, {"log", TOP_LOG}, {"sqrt", TOP_SQRT}, {"abs", TOP_ABS},
    {"sin", TOP_SIN}, {"cos", TOP_COS}, {"tanh", TOP_TANH}, {"sigmoid", TOP_SIGMOID},
    {"relu", TOP_RELU},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (!strcmp(fns[i].name, name)) return unary_fn(vm, &x, 1, fns[i].op, name, out);
  return vm_error(vm, "%s does not apply to tensors", name);
}

static bool n_leaky_relu(VM *vm, Value *a, int argc, Value *out) {
  ObjTensor *x;
  double slope = 0.01;
  if (!operand(vm, a[0], NULL, "leaky_relu", &x)) return false;
  if (!absent(arg(a, argc, 1)) && !lib_num_arg(vm, a[1], "leaky_relu", &slope)) return false;
  TAttrs at = {0};
  at.scalar[0] = slope;
  return run(vm, TOP_LEAKY_RELU, &x, 1, &at, out);
}

static bool softmax_fn(VM *vm, Value *a, int argc, TensorOp op, const char *who, Value *out) {
  ObjTensor *x;
  int64_t ax = -1;
  if (!operand(vm, a[0], NULL, who, &x)) return false;
  if (!absent(arg(a, argc, 1)) && !lib_int_arg(vm, a[1], who, &ax)) return false;
  if (x->dtype == DT_I64 || x->dtype == DT_BOOL) {
    if (!cast_to(vm, x, DT_F32, &x)) return false;
  }
  TAttrs at = {0};
  if (!axis_norm(vm, ax, x->ndim, who, &at.axis)) return false;
  at.axes = 1u << at.axis;
  return run(vm, op, &x, 1, &at, out);
}

static bool n_softmax(VM *vm, Value *a, int argc, Value *out) { return softmax_fn(vm, a, argc, TOP_SOFTMAX, "softmax", out); }
static bool n_log_softmax(VM *vm, Value *a, int argc, Value *out) {
  return softmax_fn(vm, a, argc, TOP_LOG_SOFTMAX, "log_softmax", out);
}

static bool n_clamp(VM *vm, Value *a, int argc, Value *out) {
  ObjTensor *x;
  if (!operand(vm, a[0], NULL, "clamp", &x)) return false;
  TAttrs at = {0};
  at.scalar[0] = at.scalar[1] = NAN;
  for (int i = 1; i <= 2; i++) {
    Value v = arg(a, argc, i);
    if (!absent(v) && !lib_num_arg(vm, v, "clamp", &at.scalar[i - 1])) return false;
  }
  return run(vm, TOP_CLAMP, &x, 1, &at, out);
}

static bool n_dropout(VM *vm, Value *a, int argc, Value *out) {
  ObjTensor *x;
  double p = 0.5;
  bool training = true;
  if (!operand(vm, a[0], NULL, "dropout", &x)) return false;
  if (!absent(arg(a, argc, 1)) && !lib_num_arg(vm, a[1], "dropout", &p)) return false;
  if (!bool_arg(vm, arg(a, argc, 2), "dropout", true, &training)) return false;
  if (!(p >= 0 && p <= 1)) return vm_error(vm, "dropout: p must be in [0, 1], got %g", p);
  if (!training || p == 0) return *out = a[0], true;
  TAttrs at = {0};
  at.scalar[0] = p;
  return run(vm, TOP_DROPOUT, &x, 1, &at, out);
}

static bool n_cross_entropy(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  ObjTensor *x, *y;
  if (!tensor_arg(vm, a[0], "cross_entropy", &x) || !operand(vm, a[1], NULL, "cross_entropy", &y))
    return false;
  ObjTensor *in[2] = {x, y};
  return run(vm, TOP_CROSS_ENTROPY, in, 2, NULL, out);
}

static bool ints2(VM *vm, Value v, const char *who, int64_t dflt, int64_t *out) {
  if (absent(v)) return *out = dflt, true;
  return lib_int_arg(vm, v, who, out);
}

static bool n_conv2d(VM *vm, Value *a, int argc, Value *out) {
  ObjTensor *x, *w;
  TAttrs at = {0};
  if (!tensor_arg(vm, a[0], "conv2d", &x) || !tensor_arg(vm, a[1], "conv2d", &w) ||
      !ints2(vm, arg(a, argc, 2), "conv2d", 1, &at.ints[0]) || !ints2(vm, arg(a, argc, 3), "conv2d", 0, &at.ints[1]))
    return false;
  at.nints = 2;
  ObjTensor *in[2] = {x, w};
  return run(vm, TOP_CONV2D, in, 2, &at, out);
}

static bool n_max_pool2d(VM *vm, Value *a, int argc, Value *out) {
  ObjTensor *x;
  TAttrs at = {0};
  if (!tensor_arg(vm, a[0], "max_pool2d", &x) || !ints2(vm, arg(a, argc, 1), "max_pool2d", 2, &at.ints[0]))
    return false;
  if (!ints2(vm, arg(a, argc, 2), "max_pool2d", at.ints[0], &at.ints[1])) return false;
  at.nints = 2;
  return run(vm, TOP_MAXPOOL2D, &x, 1, &at, out);
}

/* ---- grad(f) and no_grad ---- */

/* grad(f) is the bound value (f, grad_apply): calling it calls f with
 * fresh leaves requiring grad in place of its tensor arguments, runs
 * backward on the (single-element) result and returns the gradient, or a
 * tuple of gradients when f takes several arguments. */
static bool grad_apply(VM *vm, Value *a, int argc, Value *out) {
  int n = argc - 1;
  if (n < 1 || n > 16) return vm_error(vm, "grad(f): call it with 1 to 16 arguments");
  Value xs[16];
  ObjTensor *leaves[16];
  for (int i = 0; i < n; i++) {
    ObjTensor *x;
    if (!operand(vm, a[i + 1], NULL, "grad(f)", &x)) return false;
    if ((x->dtype == DT_I64 || x->dtype == DT_BOOL) && !cast_to(vm, x, DT_F32, &x)) return false;
    ObjTensor *l = tensor_view(vm->tc, x, x->ndim, x->shape, x->strides, x->offset);
    if (!l) return false;
    l->grad_fn = NULL;
    l->grad = NULL;
    l->requires_grad = true;
    leaves[i] = l;
    xs[i] = tval(l);
  }
  Value r;
  int saved = vm->tc->grad_enabled;
  if (vm->tc->grad_enabled <= 0) vm->tc->grad_enabled = 1;
  bool ok = vm_call(vm, a[0], xs, n, &r);
  vm->tc->grad_enabled = saved;
  if (!ok) return false;
  if (!IS_TENSOR(r)) return vm_error(vm, "grad(f): f must return a Tensor, got %s", value_type_name(r));
  if (AS_TENSOR(r)->grad_fn && !backward(vm, AS_TENSOR(r), NULL, false)) return false;
  if (!AS_TENSOR(r)->grad_fn && AS_TENSOR(r)->numel != 1) return backward(vm, AS_TENSOR(r), NULL, false);
  Value gs[16];
  for (int i = 0; i < n; i++)
    if (!grads_like(vm, tval(leaves[i]), 0, &gs[i])) return false;
  if (n == 1) return *out = gs[0], true;
  ObjTuple *t = tuple_new(vm, (uint32_t)n);
  for (int i = 0; i < n; i++) t->items[i] = gs[i];
  *out = OBJ_VAL(t);
  return true;
}

static Value grad_apply_fn;

static bool n_grad(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  if (!value_is_callable(a[0])) return vm_error(vm, "grad expects a function, got %s", value_type_name(a[0]));
  *out = OBJ_VAL(bound_new(vm, a[0], grad_apply_fn));
  return true;
}

static bool n_grad_push(VM *vm, Value *a, int argc, Value *out) {
  (void)a, (void)argc;
  vm->tc->grad_enabled--;
  *out = UNIT_VAL;
  return true;
}

static bool n_grad_pop(VM *vm, Value *a, int argc, Value *out) {
  (void)a, (void)argc;
  vm->tc->grad_enabled++;
  *out = UNIT_VAL;
  return true;
}

static bool n_no_grad(VM *vm, Value *a, int argc, Value *out) {
  (void)argc;
  int saved = vm->tc->grad_enabled;
  vm->tc->grad_enabled = 0;
  /* This native keeps nothing in C locals (the closure is in a VM
   * register), so the body may collect garbage: an evaluation loop inside
   * no_grad { } would otherwise keep every batch's tensors until it ends. */
  vm->gc_unsafe--;
  bool ok = vm_call(vm, a[0], NULL, 0, out);
  vm->gc_unsafe++;
  vm->tc->grad_enabled = saved;
  return ok;
}

/* ---- methods ---- */

#define SELF(a) AS_TENSOR((a)[0])

static bool m_shape(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = shape_list(vm, SELF(a));
  return true;
}

static bool m_dtype(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = OBJ_VAL(str_cstr(vm, tensor_dtype_names[SELF(a)->dtype]));
  return true;
}

static bool m_ndim(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(SELF(a)->ndim);
  return true;
}

static bool m_numel(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(SELF(a)->numel);
  return true;
}

static bool m_len(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (SELF(a)->ndim == 0) return vm_error(vm, "len() of a 0-dimensional tensor");
  *out = INT_VAL(SELF(a)->shape[0]);
  return true;
}

static bool m_size(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a);
  if (n < 2 || absent(a[1])) return *out = shape_list(vm, x), true;
  int64_t d;
  int ax;
  if (!lib_int_arg(vm, a[1], "size", &d) || !axis_norm(vm, d, x->ndim, "size", &ax)) return false;
  *out = INT_VAL(x->shape[ax]);
  return true;
}

/* Element i (row-major) as a value; an i64 is read exactly (a double holds
 * only 53 bits). */
static Value elem_value(const ObjTensor *t, int64_t i) {
  if (t->dtype == DT_I64) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
      off += (i % t->shape[d]) * t->strides[d];
      i /= t->shape[d];
    }
    return INT_VAL(((const int64_t *)tensor_data(t))[off]);
  }
  double v = tensor_get(t, i);
  switch (t->dtype) {
  case DT_BOOL: return BOOL_VAL(v != 0);
  default: return FLOAT_VAL(v);
  }
}

static bool m_item(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *x = SELF(a);
  if (x->numel != 1)
    return vm_error(vm, "item(): tensor has %lld elements, expected 1", (long long)x->numel);
  *out = elem_value(x, 0);
  return true;
}

static Value tolist_rec(VM *vm, const ObjTensor *t, int dim, int64_t *at) {
  if (dim == t->ndim) return elem_value(t, (*at)++);
  ObjList *l = list_new(vm, (uint32_t)t->shape[dim]);
  for (int64_t i = 0; i < t->shape[dim]; i++) list_push(vm, l, tolist_rec(vm, t, dim + 1, at));
  return OBJ_VAL(l);
}

static bool m_tolist(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t at = 0;
  *out = tolist_rec(vm, SELF(a), 0, &at);
  return true;
}

static bool reduce_m(VM *vm, Value *a, int n, TensorOp op, const char *who, Value *out) {
  ObjTensor *x = SELF(a);
  TAttrs at = {0};
  if (!axes_arg(vm, arg(a, n, 1), x->ndim, who, &at.axes) ||
      !bool_arg(vm, arg(a, n, 2), who, false, &at.keepdim))
    return false;
  if ((op == TOP_MEAN) && (x->dtype == DT_I64 || x->dtype == DT_BOOL) && !cast_to(vm, x, DT_F32, &x))
    return false;
  if (op == TOP_SUM && x->dtype == DT_BOOL && !cast_to(vm, x, DT_I64, &x)) return false;
  return run(vm, op, &x, 1, &at, out);
}

static bool m_sum(VM *vm, Value *a, int n, Value *out) { return reduce_m(vm, a, n, TOP_SUM, "sum", out); }
static bool m_mean(VM *vm, Value *a, int n, Value *out) { return reduce_m(vm, a, n, TOP_MEAN, "mean", out); }
static bool m_max(VM *vm, Value *a, int n, Value *out) { return reduce_m(vm, a, n, TOP_MAX, "max", out); }
static bool m_min(VM *vm, Value *a, int n, Value *out) { return reduce_m(vm, a, n, TOP_MIN, "min", out); }

static bool arg_m(VM *vm, Value *a, int n, TensorOp op, const char *who, Value *out) {
  ObjTensor *x = SELF(a);
  TAttrs at = {0};
  if (!bool_arg(vm, arg(a, n, 2), who, false, &at.keepdim)) return false;
  Value ax = arg(a, n, 1);
  if (absent(ax)) {
    int64_t all = -1;
    if (!reshape_to(vm, x, 1, &all, &x)) return false;
    at.axis = 0;
    at.keepdim = false;
  } else {
    int64_t d;
    if (!lib_int_arg(vm, ax, who, &d) || !axis_norm(vm, d, x->ndim, who, &at.axis)) return false;
  }
  at.axes = 1u << at.axis;
  return run(vm, op, &x, 1, &at, out);
}

static bool m_argmax(VM *vm, Value *a, int n, Value *out) { return arg_m(vm, a, n, TOP_ARGMAX, "argmax", out); }
static bool m_argmin(VM *vm, Value *a, int n, Value *out) { return arg_m(vm, a, n, TOP_ARGMIN, "argmin", out); }

/* Unbiased variance (divides by n - 1, as PyTorch). */
static bool var_m(VM *vm, Value *a, int n, bool root, Value *out) {
  const char *who = root ? "std" : "var";
  ObjTensor *x = SELF(a), *m, *d, *s;
  TAttrs at = {0};
  bool unbiased = true;
  if (!axes_arg(vm, arg(a, n, 1), x->ndim, who, &at.axes) ||
      !bool_arg(vm, arg(a, n, 2), who, false, &at.keepdim) ||
      !bool_arg(vm, arg(a, n, 3), who, true, &unbiased))
    return false;
  if ((x->dtype == DT_I64 || x->dtype == DT_BOOL) && !cast_to(vm, x, DT_F32, &x)) return false;
  int64_t count = 1;
  for (int i = 0; i < x->ndim; i++)
    if (!at.axes || (at.axes >> i & 1)) count *= x->shape[i];
  TAttrs keep = at;
  keep.keepdim = true;
  if (!run1(vm, TOP_MEAN, x, &keep, &m) || !run2(vm, TOP_SUB, x, m, &d) || !run2(vm, TOP_MUL, d, d, &d) ||
      !run1(vm, TOP_SUM, d, &at, &s))
    return false;
  ObjTensor *div = tensor_scalar(vm->tc, x->dtype, (double)(unbiased ? count - 1 : count));
  if (!div) return false;
  if (!run2(vm, TOP_DIV, s, div, &s)) return false;
  if (root && !run1(vm, TOP_SQRT, s, NULL, &s)) return false;
  *out = tval(s);
  return true;
}

static bool m_var(VM *vm, Value *a, int n, Value *out) { return var_m(vm, a, n, false, out); }
static bool m_std(VM *vm, Value *a, int n, Value *out) { return var_m(vm, a, n, true, out); }

static bool m_reshape(VM *vm, Value *a, int n, Value *out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  ObjTensor *r;
  if (!shape_of_args(vm, a + 1, n - 1, "reshape", &nd, shape)) return false;
  if (!reshape_to(vm, SELF(a), nd, shape, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_flatten(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a), *r;
  int64_t start = 0;
  if (!absent(arg(a, n, 1)) && !lib_int_arg(vm, a[1], "flatten", &start)) return false;
  int s;
  if (!axis_norm(vm, start, x->ndim, "flatten", &s)) return false;
  int64_t shape[NS_MAX_DIMS];
  for (int i = 0; i < s; i++) shape[i] = x->shape[i];
  shape[s] = -1;
  if (x->ndim == 0) shape[0] = 1;
  if (!reshape_to(vm, x, s + 1, shape, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_t(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *r;
  if (!tensor_T(vm, SELF(a), &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_transpose(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a), *r;
  int64_t d0 = 0, d1 = 1;
  if (n < 3) {
    if (x->ndim < 2) return *out = a[0], true;
    d0 = x->ndim - 2;
    d1 = x->ndim - 1;
  } else if (!lib_int_arg(vm, a[1], "transpose", &d0) || !lib_int_arg(vm, a[2], "transpose", &d1)) {
    return false;
  }
  int x0, x1;
  if (!axis_norm(vm, d0, x->ndim, "transpose", &x0) || !axis_norm(vm, d1, x->ndim, "transpose", &x1)) return false;
  if (!transpose2(vm, x, x0, x1, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_permute(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a);
  int nd;
  int64_t perm[NS_MAX_DIMS];
  if (!shape_of_args(vm, a + 1, n - 1, "permute", &nd, perm)) return false;
  if (nd != x->ndim)
    return vm_error(vm, "permute: %d axes given for a tensor with %d dimensions", nd, x->ndim);
  TAttrs at = {0};
  uint32_t seen = 0;
  for (int i = 0; i < nd; i++) {
    int ax;
    if (!axis_norm(vm, perm[i], nd, "permute", &ax)) return false;
    if (seen >> ax & 1) return vm_error(vm, "permute: axis %d appears twice", ax);
    seen |= 1u << ax;
    at.ints[i] = ax;
  }
  at.nints = nd;
  return run(vm, TOP_PERMUTE, &x, 1, &at, out);
}

static bool m_unsqueeze(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *x = SELF(a), *r;
  int64_t d;
  int ax;
  if (!lib_int_arg(vm, a[1], "unsqueeze", &d) || !axis_norm(vm, d, x->ndim + 1, "unsqueeze", &ax)) return false;
  if (x->ndim >= NS_MAX_DIMS) return vm_error(vm, "unsqueeze: at most %d dimensions", NS_MAX_DIMS);
  int64_t shape[NS_MAX_DIMS];
  for (int i = 0, j = 0; i <= x->ndim; i++) shape[i] = i == ax ? 1 : x->shape[j++];
  if (!reshape_to(vm, x, x->ndim + 1, shape, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_squeeze(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a), *r;
  int only = -1;
  if (!absent(arg(a, n, 1))) {
    int64_t d;
    if (!lib_int_arg(vm, a[1], "squeeze", &d) || !axis_norm(vm, d, x->ndim, "squeeze", &only)) return false;
  }
  int64_t shape[NS_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!(x->shape[i] == 1 && (only < 0 || only == i))) shape[nd++] = x->shape[i];
  if (!reshape_to(vm, x, nd, shape, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_expand(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *x = SELF(a);
  int nd;
  int64_t shape[NS_MAX_DIMS];
  if (!shape_of_args(vm, a + 1, n - 1, "expand", &nd, shape)) return false;
  TAttrs at = {0};
  for (int i = 0; i < nd; i++) {
    int k = i - (nd - x->ndim);
    at.ints[i] = shape[i] == -1 && k >= 0 ? x->shape[k] : shape[i];
  }
  at.nints = nd;
  return run(vm, TOP_EXPAND, &x, 1, &at, out);
}

static bool m_contiguous(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *x = SELF(a);
  if (tensor_is_contiguous(x)) return *out = a[0], true;
  return run(vm, TOP_CONTIGUOUS, &x, 1, NULL, out);
}

static bool m_is_contiguous(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = BOOL_VAL(tensor_is_contiguous(SELF(a)));
  return true;
}

static bool m_detach(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *x = SELF(a);
  ObjTensor *r = tensor_view(vm->tc, x, x->ndim, x->shape, x->strides, x->offset);
  if (!r) return false;
  r->grad_fn = NULL;
  r->grad = NULL;
  r->requires_grad = false;
  *out = tval(r);
  return true;
}

/* A copy with storage of its own. Differentiable, as PyTorch's clone():
 * the copy of a tensor that requires grad is recorded (a cast to its own
 * dtype, which always copies), so gradients flow back through it. */
static bool m_clone(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjTensor *x = SELF(a), *r;
  if (vm->tc->grad_enabled > 0 && (x->requires_grad || x->grad_fn)) {
    TAttrs at = {0};
    at.dtype = x->dtype;
    return run(vm, TOP_CAST, &x, 1, &at, out);
  }
  r = tensor_new(vm->tc, x->dtype, x->ndim, x->shape);
  if (!r) return false;
  if (!copy_into(vm, r, x)) return false;
  *out = tval(r);
  return true;
}

static bool to_dtype(VM *vm, Value *a, DType dt, Value *out) {
  ObjTensor *r;
  if (!cast_to(vm, SELF(a), dt, &r)) return false;
  *out = tval(r);
  return true;
}

static bool m_to(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  DType dt;
  return dtype_arg(vm, a[1], &dt) && to_dtype(vm, a, dt, out);
}
static bool m_float(VM *vm, Value *a, int n, Value *out) { (void)n; return to_dtype(vm, a, DT_F32, out); }
static bool m_double(VM *vm, Value *a, int n, Value *out) { (void)n; return to_dtype(vm, a, DT_F64, out); }
static bool m_long(VM *vm, Value *a, int n, Value *out) { (void)n; return to_dtype(vm, a, DT_I64, out); }
static bool m_bool(VM *vm, Value *a, int n, Value *out) { (void)n; return to_dtype(vm, a, DT_BOOL, out); }

/* backward(gradient?, retain_graph: false) */
static bool m_backward(VM *vm, Value *a, int n, Value *out) {
  ObjTensor *g = NULL;
  bool retain;
  *out = UNIT_VAL;
  if (!absent(arg(a, n, 1)) && !operand(vm, a[1], SELF(a), "backward", &g)) return false;
  if (!bool_arg(vm, arg(a, n, 2), "backward: retain_graph", false, &retain)) return false;
  return backward(vm, SELF(a), g, retain);
}

static bool m_zero_grad(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  SELF(a)->grad = NULL;
  *out = UNIT_VAL;
  return true;
}

static bool m_requires_grad_(VM *vm, Value *a, int n, Value *out) {
  bool on;
  if (!bool_arg(vm, arg(a, n, 1), "requires_grad_", true, &on) || !set_requires_grad(vm, SELF(a), on))
    return false;
  *out = a[0];
  return true;
}

#define UNARY_M(name, OPNAME)                                          \
  static bool m_##name(VM *vm, Value *a, int n, Value *out) {          \
    return unary_fn(vm, a, n, TOP_##OPNAME, #name, out);               \
  }
UNARY_M(exp, EXP) UNARY_M(log, LOG) UNARY_M(sqrt, SQRT) UNARY_M(abs, ABS) UNARY_M(relu, RELU)
UNARY_M(sigmoid, SIGMOID) UNARY_M(tanh, TANH) UNARY_M(gelu, GELU) UNARY_M(silu, SILU)
UNARY_M(sin, SIN) UNARY_M(cos, COS) UNARY_M(neg, NEG)

static bool m_pow(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return binop(vm, TOP_POW, a[0], a[1], out);
}

static bool m_matmul(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return binop(vm, TOP_MATMUL, a[0], a[1], out);
}

static bool select_m(VM *vm, Value *a, TensorOp op, const char *who, Value *out) {
  ObjTensor *x = SELF(a), *idx;
  int64_t d;
  TAttrs at = {0};
  if (!lib_int_arg(vm, a[1], who, &d) || !axis_norm(vm, d, x->ndim, who, &at.axis)) return false;
  if (!operand(vm, a[2], NULL, who, &idx)) return false; /* the kernel checks it is i64 */
  ObjTensor *in[2] = {x, idx};
  return run(vm, op, in, 2, &at, out);
}

static bool m_gather(VM *vm, Value *a, int n, Value *out) { (void)n; return select_m(vm, a, TOP_GATHER, "gather", out); }
static bool m_index_select(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return select_m(vm, a, TOP_INDEX_SELECT, "index_select", out);
}

static bool m_data_ptr(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL((int64_t)(intptr_t)tensor_data(SELF(a)));
  return true;
}

/* In-place updates (no autograd): what optimizers use on parameters.
 * x OP= y (alpha scaling y first) is OP applied into x by
 * tensor_apply_into, which runs + - * / straight into x when it can;
 * other operators (%, @) compute the result first and copy it into x. */
static bool inplace(VM *vm, Value *a, int n, ArithOp op, Value *out) {
  ObjTensor *x = SELF(a), *y, *src;
  Value r = a[1];
  if (op != AOP_NONE) {
    Value other = a[1];
    int saved = vm->tc->grad_enabled;
    vm->tc->grad_enabled = 0;
    bool ok = true;
    if (n > 2 && !absent(a[2])) ok = lib_tensor_binary(vm, AOP_MUL, other, a[2], &other);
    TensorOp top = op == AOP_ADD   ? TOP_ADD
                   : op == AOP_SUB ? TOP_SUB
                   : op == AOP_MUL ? TOP_MUL
                   : op == AOP_DIV ? TOP_DIV
                                  : TOP__COUNT;
    if (ok && top != TOP__COUNT) {
      ok = operand(vm, other, x, tensor_ops[top].name, &y);
      ObjTensor *in[2] = {x, y};
      ok = ok && tensor_apply_into(vm->tc, top, in, 2, NULL, x);
      vm->tc->grad_enabled = saved;
      *out = a[0];
      return ok;
    }
    ok = ok && lib_tensor_binary(vm, op, a[0], other, &r);
    vm->tc->grad_enabled = saved;
    if (!ok) return false;
  }
  if (!operand(vm, r, x, "copy_", &src) || !copy_into(vm, x, src)) return false;
  *out = a[0];
  return true;
}

bool lib_tensor_inplace(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  if (AS_TENSOR(a)->grad_fn) return lib_tensor_binary(vm, op, a, b, out);
  Value args[2] = {a, b};
  return inplace(vm, args, 2, op, out);
}

static bool m_copy_(VM *vm, Value *a, int n, Value *out) { return inplace(vm, a, n, AOP_NONE, out); }
static bool m_add_(VM *vm, Value *a, int n, Value *out) { return inplace(vm, a, n, AOP_ADD, out); }
static bool m_sub_(VM *vm, Value *a, int n, Value *out) { return inplace(vm, a, n, AOP_SUB, out); }
static bool m_mul_(VM *vm, Value *a, int n, Value *out) { return inplace(vm, a, n, AOP_MUL, out); }
static bool m_div_(VM *vm, Value *a, int n, Value *out) { return inplace(vm, a, n, AOP_DIV, out); }

static bool m_fill_(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (!IS_NUM(a[1]) && !IS_BOOL(a[1])) return vm_error(vm, "fill_ expects a number, got %s", value_type_name(a[1]));
  return inplace(vm, a, 2, AOP_NONE, out);
}

static bool m_zero_(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  Value args[2] = {a[0], INT_VAL(0)};
  return inplace(vm, args, 2, AOP_NONE, out);
}

static bool m_maximum(VM *vm, Value *a, int n, Value *out) { return n_maximum(vm, a, n, out); }
static bool m_minimum(VM *vm, Value *a, int n, Value *out) { return n_minimum(vm, a, n, out); }

static bool m_to_string(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = format_value(vm, a[0], false);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

/* ---- registration ---- */

typedef struct {
  const char *name;
  NativeFn fn;
  int min, max;
  const char *const *params;
} Def;

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const Def globals[] = {
  {"tensor", n_tensor, 1, 2, PARAMS("data", "dtype")},
  {"zeros", n_zeros, 0, -1, PARAMS("...", "dtype")},
  {"ones", n_ones, 0, -1, PARAMS("...", "dtype")},
  {"full", n_full, 2, 3, PARAMS("shape", "value", "dtype")},
  {"arange", n_arange, 1, 4, PARAMS("...", "dtype")},
  {"linspace", n_linspace, 3, 4, PARAMS("start", "end", "steps", "dtype")},
  {"eye", n_eye, 1, 3, PARAMS("...", "dtype")},
  {"rand", n_rand, 0, -1, PARAMS("...", "dtype")},
  {"randn", n_randn, 0, -1, PARAMS("...", "dtype")},
  {"randint", n_randint, 2, -1, NULL},
  {"zeros_like", n_zeros_like, 1, 2, PARAMS("x", "dtype")},
  {"ones_like", n_ones_like, 1, 2, PARAMS("x", "dtype")},
  {"rand_like", n_rand_like, 1, 2, PARAMS("x", "dtype")},
  {"randn_like", n_randn_like, 1, 2, PARAMS("x", "dtype")},
  {"seed", n_seed, 1, 1, NULL},
  {"where", n_where, 3, 3, PARAMS("condition", "a", "b")},
  {"select", n_where, 3, 3, PARAMS("condition", "a", "b")},
  {"cat", n_cat, 1, 2, PARAMS("tensors", "axis")},
  {"stack", n_stack, 1, 2, PARAMS("tensors", "axis")},
  {"one_hot", n_one_hot, 2, 2, PARAMS("labels", "classes")},
  {"softmax", n_softmax, 1, 2, PARAMS("x", "axis")},
  {"log_softmax", n_log_softmax, 1, 2, PARAMS("x", "axis")},
  {"relu", n_relu, 1, 1, NULL},
  {"sigmoid", n_sigmoid, 1, 1, NULL},
  {"σ", n_sigmoid, 1, 1, NULL},
  {"gelu", n_gelu, 1, 1, NULL},
  {"silu", n_silu, 1, 1, NULL},
  {"swish", n_silu, 1, 1, NULL},
  {"leaky_relu", n_leaky_relu, 1, 2, PARAMS("x", "slope")},
  {"dropout", n_dropout, 1, 3, PARAMS("x", "p", "training")},
  {"cross_entropy", n_cross_entropy, 2, 2, NULL},
  {"conv2d", n_conv2d, 2, 4, PARAMS("x", "weight", "stride", "padding")},
  {"max_pool2d", n_max_pool2d, 1, 3, PARAMS("x", "kernel", "stride")},
  {"matmul", n_matmul, 2, 2, NULL},
  {"maximum", n_maximum, 2, 2, NULL},
  {"minimum", n_minimum, 2, 2, NULL},
  {"grad", n_grad, 1, 1, NULL},
  {"__grad_apply", grad_apply, 1, -1, NULL},
  {"__grad_push", n_grad_push, 0, 0, NULL},
  {"__grad_pop", n_grad_pop, 0, 0, NULL},
  {"__no_grad", n_no_grad, 1, 1, NULL},
};

#define RED PARAMS("self", "axis", "keepdim")

static const Def methods[] = {
  {"shape", m_shape, 1, 1, NULL},       {"dtype", m_dtype, 1, 1, NULL},
  {"ndim", m_ndim, 1, 1, NULL},         {"numel", m_numel, 1, 1, NULL},
  {"len", m_len, 1, 1, NULL},           {"size", m_size, 1, 2, NULL},
  {"item", m_item, 1, 1, NULL},         {"tolist", m_tolist, 1, 1, NULL},
  {"to_list", m_tolist, 1, 1, NULL},
  {"sum", m_sum, 1, 3, RED},            {"mean", m_mean, 1, 3, RED},
  {"max", m_max, 1, 3, RED},            {"min", m_min, 1, 3, RED},
  {"argmax", m_argmax, 1, 3, RED},      {"argmin", m_argmin, 1, 3, RED},
  {"var", m_var, 1, 4, PARAMS("self", "axis", "keepdim", "unbiased")},
  {"std", m_std, 1, 4, PARAMS("self", "axis", "keepdim", "unbiased")},
  {"reshape", m_reshape, 1, -1, NULL},  {"view", m_reshape, 1, -1, NULL},
  {"flatten", m_flatten, 1, 2, NULL},   {"t", m_t, 1, 1, NULL},
  {"transpose", m_transpose, 1, 3, NULL}, {"permute", m_permute, 1, -1, NULL},
  {"unsqueeze", m_unsqueeze, 2, 2, NULL}, {"squeeze", m_squeeze, 1, 2, NULL},
  {"expand", m_expand, 1, -1, NULL},    {"contiguous", m_contiguous, 1, 1, NULL},
  {"is_contiguous", m_is_contiguous, 1, 1, NULL},
  {"detach", m_detach, 1, 1, NULL},     {"clone", m_clone, 1, 1, NULL},
  {"to", m_to, 2, 2, PARAMS("self", "dtype")},
  {"float", m_float, 1, 1, NULL},       {"double", m_double, 1, 1, NULL},
  {"long", m_long, 1, 1, NULL},         {"bool", m_bool, 1, 1, NULL},
  {"backward", m_backward, 1, 3, PARAMS("self", "gradient", "retain_graph")},
  {"zero_grad", m_zero_grad, 1, 1, NULL},
  {"requires_grad_", m_requires_grad_, 1, 2, NULL},
  {"exp", m_exp, 1, 1, NULL},           {"log", m_log, 1, 1, NULL},
  {"ln", m_log, 1, 1, NULL},            {"sqrt", m_sqrt, 1, 1, NULL},
  {"abs", m_abs, 1, 1, NULL},           {"relu", m_relu, 1, 1, NULL},
  {"sigmoid", m_sigmoid, 1, 1, NULL},   {"tanh", m_tanh, 1, 1, NULL},
  {"gelu", m_gelu, 1, 1, NULL},         {"silu", m_silu, 1, 1, NULL},
  {"sin", m_sin, 1, 1, NULL},           {"cos", m_cos, 1, 1, NULL},
  {"neg", m_neg, 1, 1, NULL},           {"pow", m_pow, 2, 2, NULL},
  {"leaky_relu", n_leaky_relu, 1, 2, PARAMS("self", "slope")},
  {"softmax", n_softmax, 1, 2, PARAMS("self", "axis")},
  {"log_softmax", n_log_softmax, 1, 2, PARAMS("self", "axis")},
  {"clamp", n_clamp, 1, 3, PARAMS("self", "min", "max")},
  {"matmul", m_matmul, 2, 2, NULL},     {"dot", m_matmul, 2, 2, NULL},
  {"maximum", m_maximum, 2, 2, NULL},   {"minimum", m_minimum, 2, 2, NULL},
  {"gather", m_gather, 3, 3, PARAMS("self", "axis", "index")},
  {"index_select", m_index_select, 3, 3, PARAMS("self", "axis", "index")},
  {"data_ptr", m_data_ptr, 1, 1, NULL},
  {"copy_", m_copy_, 2, 2, NULL},       {"fill_", m_fill_, 2, 2, NULL},
  {"zero_", m_zero_, 1, 1, NULL},
  {"add_", m_add_, 2, 3, PARAMS("self", "other", "alpha")},
  {"sub_", m_sub_, 2, 3, PARAMS("self", "other", "alpha")},
  {"mul_", m_mul_, 2, 2, NULL},         {"div_", m_div_, 2, 2, NULL},
  {"to_string", m_to_string, 1, 1, NULL},
};

static void define_all(VM *vm, ObjClass *cls, const Def *defs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    Value fn;
    if (cls) {
      lib_method(vm, cls, defs[i].name, defs[i].fn, defs[i].min, defs[i].max);
      table_get(&cls->methods, str_cstr(vm, defs[i].name), &fn);
    } else {
      lib_global(vm, defs[i].name, defs[i].fn, defs[i].min, defs[i].max);
      fn = vm->prelude->values[module_find(vm->prelude, str_cstr(vm, defs[i].name))];
    }
    AS_NATIVE(fn)->params = defs[i].params;
  }
}


/* The interpreter's nesting, for tensor_protected(): natives that call
 * back into it (vm_call) push frames. */
static int interp_depth(VM *vm) { return vm->nframes; }

void lib_tensor_init(VM *vm) {
  vm->tc = tensor_ctx_new(vm, vm_gc_external, interp_depth);
  if (vm->tc == NULL) {
    fputs("nsc: out of memory\n", stderr);
    exit(70);
  }
  ObjClass *cls = lib_class(vm, "Tensor");
  vm->class_of_obj[OBJ_TENSOR] = cls;
  define_all(vm, NULL, globals, sizeof globals / sizeof globals[0]);
  define_all(vm, cls, methods, sizeof methods / sizeof methods[0]);
  grad_apply_fn = vm->prelude->values[module_find(vm->prelude, str_cstr(vm, "__grad_apply"))];
  module_define(vm, vm->prelude, "Tensor", OBJ_VAL(cls), GLOBAL_BUILTIN);
}
