/* Tensor core: creation from nested lists, views sharing storage,
 * broadcasting and promotion, reductions, matmul (incl. transposed views,
 * batches, 1-D operands) and conv2d against naive loops, the nn kernels,
 * shape errors, printing, the storage cache reusing blocks in a
 * steady-state loop (large blocks best-fit within the byte cap), the
 * central shape check and allocation failures as errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "tensor_int.h"
#include "check.h"

static VM *vm;

static ObjTensor *from_doubles(DType dt, int nd, const int64_t *shape, const double *v) {
  ObjTensor *t = tensor_new(vm->tc, dt, nd, shape);
  for (int64_t i = 0; i < t->numel; i++) tensor_set(t, i, v[i]);
  return t;
}

static ObjTensor *randt(DType dt, int nd, const int64_t *shape) {
  ObjTensor *t = tensor_new(vm->tc, dt, nd, shape);
  for (int64_t i = 0; i < t->numel; i++) tensor_set(t, i, rng_normal());
  return t;
}

static ObjTensor *apply1(TensorOp op, ObjTensor *x, const TAttrs *a) {
  ObjTensor *r = NULL;
  if (!tensor_apply(vm->tc, op, &x, 1, a, &r)) {
    printf("unexpected error: %s\n", vm->error);
    vm_clear_error(vm);
    return NULL;
  }
  return r;
}

static ObjTensor *apply2(TensorOp op, ObjTensor *x, ObjTensor *y, const TAttrs *a) {
  ObjTensor *in[2] = {x, y}, *r = NULL;
  if (!tensor_apply(vm->tc, op, in, 2, a, &r)) {
    printf("unexpected error: %s\n", vm->error);
    vm_clear_error(vm);
    return NULL;
  }
  return r;
}

static void expect_values(const char *what, ObjTensor *t, int nd, const int64_t *shape, const double *want,
                          double tol) {
  if (!t) {
    CHECK(false, "%s: no result", what);
    return;
  }
  bool ok = t->ndim == nd;
  for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == shape[i];
  char b1[128], b2[128];
  CHECK(ok, "%s: shape %s, want %s", what, tensor_shape_str(t, b1, sizeof b1), tensor_dims_str(nd, shape, b2, sizeof b2));
  if (!ok) return;
  for (int64_t i = 0; i < t->numel; i++) {
    double g = tensor_get(t, i);
    if (!(fabs(g - want[i]) <= tol * (1 + fabs(want[i])))) {
      CHECK(false, "%s: element %lld = %.9g, want %.9g", what, (long long)i, g, want[i]);
      return;
    }
  }
  checks++;
}

static void expect_error(const char *what, bool ok, const char *msg) {
  CHECK(!ok, "%s: expected an error", what);
  if (!ok) CHECK(strstr(vm->error, msg) != NULL, "%s: error \"%s\", want \"%s\"", what, vm->error, msg);
  vm_clear_error(vm);
}

static const char *show(ObjTensor *t) {
  ObjString *s = format_value(vm, OBJ_VAL(t), false);
  return s ? s->chars : "(null)";
}

static Value list_of(int n, const Value *v) {
  ObjList *l = list_new(vm, (uint32_t)n);
  for (int i = 0; i < n; i++) list_push(vm, l, v[i]);
  return OBJ_VAL(l);
}

static void test_creation(void) {
  Value r0 = list_of(3, (Value[]){INT_VAL(1), INT_VAL(2), INT_VAL(3)});
  Value r1 = list_of(3, (Value[]){INT_VAL(4), FLOAT_VAL(5.5), INT_VAL(6)});
  Value m = list_of(2, (Value[]){r0, r1});
  ObjTensor *t;
  CHECK(tensor_from_value(vm->tc, m, DT__COUNT, &t), "from nested list");
  expect_values("from list", t, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5.5, 6}, 0);
  CHECK(t->dtype == DT_F32, "float in list infers f32");
  CHECK(tensor_from_value(vm->tc, r0, DT__COUNT, &t) && t->dtype == DT_I64, "ints infer i64");
  CHECK(tensor_from_value(vm->tc, list_of(2, (Value[]){BOOL_VAL(true), BOOL_VAL(false)}), DT__COUNT, &t) &&
            t->dtype == DT_BOOL,
        "bools infer bool");
  CHECK(tensor_from_value(vm->tc, FLOAT_VAL(2.5), DT__COUNT, &t) && t->ndim == 0 && tensor_get(t, 0) == 2.5,
        "scalar");
  Value ragged = list_of(2, (Value[]){r0, list_of(2, (Value[]){INT_VAL(1), INT_VAL(2)})});
  expect_error("ragged", tensor_from_value(vm->tc, ragged, DT__COUNT, &t),
               "tensor: ragged nested list at depth 1: expected 3 elements, got 2");
  expect_error("strings", tensor_from_value(vm->tc, list_of(1, (Value[]){OBJ_VAL(str_cstr(vm, "a"))}), DT__COUNT, &t),
               "tensor: expected numbers or bools, got string");
  ObjTensor *z = tensor_zeros(vm->tc, DT_F64, 2, (int64_t[]){2, 2});
  CHECK(z->numel == 4 && tensor_get(z, 3) == 0 && tensor_is_contiguous(z), "zeros");
  CHECK(((uintptr_t)z->storage->data & 63) == 0, "storage is 64-byte aligned");
}

static void test_views(void) {
  double v[6] = {0, 1, 2, 3, 4, 5};
  ObjTensor *x = from_doubles(DT_F32, 2, (int64_t[]){2, 3}, v);
  TAttrs ra = {.nints = 2, .ints = {3, -1}};
  ObjTensor *y = apply1(TOP_RESHAPE, x, &ra);
  CHECK(y && y->storage == x->storage && x->storage->refcount == 2, "reshape of contiguous shares storage");
  expect_values("reshape", y, 2, (int64_t[]){3, 2}, v, 0);
  TAttrs pa = {.nints = 2, .ints = {1, 0}};
  ObjTensor *t = apply1(TOP_PERMUTE, x, &pa);
  CHECK(t && t->storage == x->storage && !tensor_is_contiguous(t), "permute is a view");
  expect_values("transpose", t, 2, (int64_t[]){3, 2}, (double[]){0, 3, 1, 4, 2, 5}, 0);
  ObjTensor *c = apply1(TOP_CONTIGUOUS, t, NULL);
  CHECK(c && c->storage != x->storage && tensor_is_contiguous(c), "contiguous copies a transposed view");
  expect_values("contiguous", c, 2, (int64_t[]){3, 2}, (double[]){0, 3, 1, 4, 2, 5}, 0);
  ObjTensor *r2 = apply1(TOP_RESHAPE, t, &(TAttrs){.nints = 1, .ints = {6}});
  expect_values("reshape of a transposed view", r2, 1, (int64_t[]){6}, (double[]){0, 3, 1, 4, 2, 5}, 0);
  TAttrs ea = {.nints = 3, .ints = {2, 2, 3}};
  ObjTensor *e = apply1(TOP_EXPAND, x, &ea);
  CHECK(e && e->storage == x->storage && e->strides[0] == 0, "expand is a view with stride 0");
  TAttrs sa = {.nints = 6, .ints = {1, 2, 1, 0, INT64_MAX, 2}};
  ObjTensor *s = apply1(TOP_SLICE, x, &sa);
  CHECK(s && s->storage == x->storage, "slice is a view");
  expect_values("slice", s, 2, (int64_t[]){1, 2}, (double[]){3, 5}, 0);
  /* writing through a view is visible in the base */
  tensor_set(t, 1, 42);
  CHECK(tensor_get(x, 3) == 42, "views share storage (write)");
  expect_error("reshape mismatch", tensor_apply(vm->tc, TOP_RESHAPE, &x, 1, &(TAttrs){.nints = 1, .ints = {4}}, &y),
               "reshape: cannot reshape [2, 3] into [4]");
  expect_error("expand mismatch", tensor_apply(vm->tc, TOP_EXPAND, &x, 1, &(TAttrs){.nints = 2, .ints = {4, 3}}, &y),
               "expand: cannot expand [2, 3] to [4, 3]");
}

static void test_elementwise(void) {
  ObjTensor *a = from_doubles(DT_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
  ObjTensor *b = from_doubles(DT_F32, 1, (int64_t[]){3}, (double[]){10, 20, 30});
  ObjTensor *c = from_doubles(DT_F32, 2, (int64_t[]){2, 1}, (double[]){100, 200});
  expect_values("add broadcast row", apply2(TOP_ADD, a, b, NULL), 2, (int64_t[]){2, 3},
                (double[]){11, 22, 33, 14, 25, 36}, 0);
  expect_values("mul broadcast col", apply2(TOP_MUL, a, c, NULL), 2, (int64_t[]){2, 3},
                (double[]){100, 200, 300, 800, 1000, 1200}, 0);
  expect_values("outer broadcast", apply2(TOP_SUB, c, b, NULL), 2, (int64_t[]){2, 3},
                (double[]){90, 80, 70, 190, 180, 170}, 0);
  ObjTensor *s = tensor_scalar(vm->tc, DT_F32, 2);
  expect_values("pow scalar", apply2(TOP_POW, a, s, NULL), 2, (int64_t[]){2, 3}, (double[]){1, 4, 9, 16, 25, 36},
                1e-6);
  ObjTensor *at = apply1(TOP_PERMUTE, a, &(TAttrs){.nints = 2, .ints = {1, 0}});
  expect_values("strided operand", apply2(TOP_ADD, at, at, NULL), 2, (int64_t[]){3, 2},
                (double[]){2, 8, 4, 10, 6, 12}, 0);
  ObjTensor *r;
  ObjTensor *bad = from_doubles(DT_F32, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
  expect_error("broadcast error", tensor_apply(vm->tc, TOP_ADD, (ObjTensor *[]){a, bad}, 2, NULL, &r),
               "add: shapes [2, 3] and [4] cannot broadcast");
  ObjTensor *gt = apply2(TOP_GT, a, tensor_scalar(vm->tc, DT_F32, 3), NULL);
  CHECK(gt && gt->dtype == DT_BOOL, "comparison gives bool");
  expect_values("gt", gt, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 1, 1, 1}, 0);
  ObjTensor *i = from_doubles(DT_I64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  ObjTensor *p = apply2(TOP_ADD, i, b, NULL);
  CHECK(p && p->dtype == DT_F32, "i64 + f32 -> f32");
  ObjTensor *ii = apply2(TOP_MUL, i, i, NULL);
  CHECK(ii && ii->dtype == DT_I64, "i64 * i64 -> i64");
  ObjTensor *d = apply2(TOP_DIV, i, tensor_scalar(vm->tc, DT_I64, 2), NULL);
  CHECK(d && d->dtype == DT_F32, "i64 / i64 -> f32");
  expect_values("true division", d, 1, (int64_t[]){3}, (double[]){0.5, 1, 1.5}, 0);
  ObjTensor *f64 = from_doubles(DT_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  CHECK(apply2(TOP_ADD, b, f64, NULL)->dtype == DT_F64, "f32 + f64 -> f64");
  ObjTensor *x = from_doubles(DT_F32, 1, (int64_t[]){4}, (double[]){-2, -0.5, 0.5, 2});
  expect_values("relu", apply1(TOP_RELU, x, NULL), 1, (int64_t[]){4}, (double[]){0, 0, 0.5, 2}, 0);
  expect_values("sigmoid", apply1(TOP_SIGMOID, x, NULL), 1, (int64_t[]){4},
                (double[]){1 / (1 + exp(2)), 1 / (1 + exp(0.5)), 1 / (1 + exp(-0.5)), 1 / (1 + exp(-2))}, 1e-6);
  expect_values("tanh", apply1(TOP_TANH, x, NULL), 1, (int64_t[]){4},
                (double[]){tanh(-2), tanh(-0.5), tanh(0.5), tanh(2)}, 1e-6);
  expect_values("leaky_relu", apply1(TOP_LEAKY_RELU, x, &(TAttrs){.scalar = {0.1}}), 1, (int64_t[]){4},
                (double[]){-0.2, -0.05, 0.5, 2}, 1e-6);
  expect_values("clamp", apply1(TOP_CLAMP, x, &(TAttrs){.scalar = {-1, NAN}}), 1, (int64_t[]){4},
                (double[]){-1, -0.5, 0.5, 2}, 0);
  expect_values("clamp i64", apply1(TOP_CLAMP, i, &(TAttrs){.scalar = {2, 2}}), 1, (int64_t[]){3},
                (double[]){2, 2, 2}, 0);
  ObjTensor *ci = apply1(TOP_CAST, x, &(TAttrs){.dtype = DT_I64});
  CHECK(ci && ci->dtype == DT_I64, "cast to i64");
  expect_values("cast", ci, 1, (int64_t[]){4}, (double[]){-2, 0, 0, 2}, 0);
  ObjTensor *w = NULL;
  CHECK(tensor_apply(vm->tc, TOP_WHERE, (ObjTensor *[]){gt, a, tensor_scalar(vm->tc, DT_F32, 0)}, 3, NULL, &w), "where");
  expect_values("where", w, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 4, 5, 6}, 0);
}

static void test_reductions(void) {
  ObjTensor *a = from_doubles(DT_F32, 2, (int64_t[]){2, 3}, (double[]){1, 5, 3, 4, 2, 6});
  expect_values("sum all", apply1(TOP_SUM, a, NULL), 0, NULL, (double[]){21}, 0);
  expect_values("sum axis 0", apply1(TOP_SUM, a, &(TAttrs){.axes = 1}), 1, (int64_t[]){3}, (double[]){5, 7, 9}, 0);
  expect_values("sum axis 1 keepdim", apply1(TOP_SUM, a, &(TAttrs){.axes = 2, .keepdim = true}), 2,
                (int64_t[]){2, 1}, (double[]){9, 12}, 0);
  expect_values("mean", apply1(TOP_MEAN, a, &(TAttrs){.axes = 2}), 1, (int64_t[]){2}, (double[]){3, 4}, 1e-7);
  expect_values("max axis 0", apply1(TOP_MAX, a, &(TAttrs){.axes = 1}), 1, (int64_t[]){3}, (double[]){4, 5, 6}, 0);
  expect_values("min all", apply1(TOP_MIN, a, NULL), 0, NULL, (double[]){1}, 0);
  ObjTensor *am = apply1(TOP_ARGMAX, a, &(TAttrs){.axis = -1});
  CHECK(am && am->dtype == DT_I64, "argmax is i64");
  expect_values("argmax", am, 1, (int64_t[]){2}, (double[]){1, 2}, 0);
  expect_values("argmin axis 0", apply1(TOP_ARGMIN, a, &(TAttrs){.axis = 0}), 1, (int64_t[]){3},
                (double[]){0, 1, 0}, 0);
  ObjTensor *b3 = randt(DT_F64, 3, (int64_t[]){2, 3, 4});
  ObjTensor *s02 = apply1(TOP_SUM, b3, &(TAttrs){.axes = 5});
  double want[3] = {0};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) want[j] += tensor_get(b3, (i * 3 + j) * 4 + k);
  expect_values("sum axes {0, 2}", s02, 1, (int64_t[]){3}, want, 1e-12);
  ObjTensor *r;
  expect_error("axis range", tensor_apply(vm->tc, TOP_SUM, &a, 1, &(TAttrs){.axes = 4}, &r),
               "sum: axis 2 out of range for a 2-d tensor");
  ObjTensor *bi = from_doubles(DT_BOOL, 1, (int64_t[]){4}, (double[]){1, 0, 1, 1});
  ObjTensor *bs = apply1(TOP_SUM, bi, NULL);
  CHECK(bs && bs->dtype == DT_I64 && tensor_get(bs, 0) == 3, "sum of bools counts");
}

/* c[m, n] = a[m, k] @ b[k, n] by the definition */
static void naive_mm(ObjTensor *a, ObjTensor *b, double *c) {
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) s += tensor_get(a, i * k + p) * tensor_get(b, p * n + j);
      c[i * n + j] = s;
    }
}

static void test_matmul(void) {
  for (int dt = DT_F32; dt <= DT_I64; dt++) {
    ObjTensor *a = randt((DType)dt, 2, (int64_t[]){5, 7}), *b = randt((DType)dt, 2, (int64_t[]){7, 3});
    double want[15];
    naive_mm(a, b, want);
    char what[64];
    snprintf(what, sizeof what, "matmul %s", tensor_dtype_names[dt]);
    expect_values(what, apply2(TOP_MATMUL, a, b, NULL), 2, (int64_t[]){5, 3}, want, dt == DT_F32 ? 1e-5 : 1e-12);
  }
  /* transposed views go to BLAS as CblasTrans, without a copy */
  ObjTensor *at = randt(DT_F32, 2, (int64_t[]){7, 5}), *bt = randt(DT_F32, 2, (int64_t[]){3, 7});
  TAttrs tr = {.nints = 2, .ints = {1, 0}};
  ObjTensor *a = apply1(TOP_PERMUTE, at, &tr), *b = apply1(TOP_PERMUTE, bt, &tr);
  double want[15];
  naive_mm(a, b, want);
  TensorAllocStats s0, s1;
  tensor_alloc_stats(&s0);
  ObjTensor *c = apply2(TOP_MATMUL, a, b, NULL);
  tensor_alloc_stats(&s1);
  expect_values("matmul of transposed views", c, 2, (int64_t[]){5, 3}, want, 1e-5);
  CHECK(s1.hits + s1.misses - s0.hits - s0.misses == 1, "transposed matmul allocates only its result (%llu)",
        (unsigned long long)(s1.hits + s1.misses - s0.hits - s0.misses));
  /* a sliced (non-unit-stride) operand */
  ObjTensor *wide = randt(DT_F32, 2, (int64_t[]){5, 14});
  ObjTensor *sl = apply1(TOP_SLICE, wide, &(TAttrs){.nints = 6, .ints = {0, 5, 1, 0, 14, 2}});
  ObjTensor *bb = randt(DT_F32, 2, (int64_t[]){7, 3});
  naive_mm(sl, bb, want);
  expect_values("matmul of a strided slice", apply2(TOP_MATMUL, sl, bb, NULL), 2, (int64_t[]){5, 3}, want, 1e-5);
  /* batched with a broadcast batch dim */
  ObjTensor *ba = randt(DT_F64, 3, (int64_t[]){2, 4, 3}), *bm = randt(DT_F64, 2, (int64_t[]){3, 2});
  ObjTensor *bc = apply2(TOP_MATMUL, ba, bm, NULL);
  double bw[16];
  for (int i = 0; i < 2; i++)
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < 2; j++) {
        double s = 0;
        for (int p = 0; p < 3; p++) s += tensor_get(ba, (i * 4 + r) * 3 + p) * tensor_get(bm, p * 2 + j);
        bw[(i * 4 + r) * 2 + j] = s;
      }
  expect_values("batched matmul", bc, 3, (int64_t[]){2, 4, 2}, bw, 1e-12);
  /* 1-D operands */
  ObjTensor *v = from_doubles(DT_F32, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  ObjTensor *m = from_doubles(DT_F32, 2, (int64_t[]){3, 2}, (double[]){1, 2, 3, 4, 5, 6});
  expect_values("vector @ matrix", apply2(TOP_MATMUL, v, m, NULL), 1, (int64_t[]){2}, (double[]){22, 28}, 0);
  ObjTensor *mt = apply1(TOP_PERMUTE, m, &tr);
  expect_values("matrix @ vector", apply2(TOP_MATMUL, mt, v, NULL), 1, (int64_t[]){2}, (double[]){22, 28}, 0);
  expect_values("dot", apply2(TOP_MATMUL, v, v, NULL), 0, NULL, (double[]){14}, 0);
  ObjTensor *x = tensor_zeros(vm->tc, DT_F32, 2, (int64_t[]){32, 785}), *w = tensor_zeros(vm->tc, DT_F32, 2, (int64_t[]){784, 128});
  ObjTensor *r;
  expect_error("matmul shapes", tensor_apply(vm->tc, TOP_MATMUL, (ObjTensor *[]){x, w}, 2, NULL, &r),
               "matmul: shapes [32, 785] and [784, 128] are not aligned");
}

static void test_conv_pool(void) {
  int64_t N = 2, C = 3, H = 6, W = 5, O = 4, kh = 3, kw = 2, st = 2, pd = 1;
  ObjTensor *x = randt(DT_F32, 4, (int64_t[]){N, C, H, W}), *w = randt(DT_F32, 4, (int64_t[]){O, C, kh, kw});
  ObjTensor *y = apply2(TOP_CONV2D, x, w, &(TAttrs){.nints = 2, .ints = {st, pd}});
  int64_t OH = (H + 2 * pd - kh) / st + 1, OW = (W + 2 * pd - kw) / st + 1;
  double *want = calloc((size_t)(N * O * OH * OW), sizeof(double));
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < OH; i++)
        for (int64_t j = 0; j < OW; j++) {
          double s = 0;
          for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < kh; p++)
              for (int64_t q = 0; q < kw; q++) {
                int64_t h = i * st - pd + p, ww = j * st - pd + q;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                s += tensor_get(x, ((n * C + c) * H + h) * W + ww) * tensor_get(w, ((o * C + c) * kh + p) * kw + q);
              }
          want[((n * O + o) * OH + i) * OW + j] = s;
        }
  expect_values("conv2d vs naive", y, 4, (int64_t[]){N, O, OH, OW}, want, 1e-5);
  free(want);
  ObjTensor *p = from_doubles(DT_F32, 4, (int64_t[]){1, 1, 4, 4},
                              (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 15});
  ObjTensor *mp = apply1(TOP_MAXPOOL2D, p, &(TAttrs){.nints = 2, .ints = {2, 2}});
  expect_values("maxpool2d", mp, 4, (int64_t[]){1, 1, 2, 2}, (double[]){6, 8, 14, 16}, 0);
  ObjTensor *r;
  expect_error("conv2d shapes", tensor_apply(vm->tc, TOP_CONV2D, (ObjTensor *[]){x, p}, 2, NULL, &r),
               "conv2d: input [2, 3, 6, 5] and weight [1, 1, 4, 4]");
}

static void test_nn(void) {
  ObjTensor *x = from_doubles(DT_F64, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 1000, 1000, 1000});
  ObjTensor *s = apply1(TOP_SOFTMAX, x, &(TAttrs){.axis = -1});
  double e = exp(1) + exp(2) + exp(3);
  expect_values("softmax (stable)", s, 2, (int64_t[]){2, 3},
                (double[]){exp(1) / e, exp(2) / e, exp(3) / e, 1 / 3., 1 / 3., 1 / 3.}, 1e-12);
  ObjTensor *ls = apply1(TOP_LOG_SOFTMAX, x, &(TAttrs){.axis = 1});
  expect_values("log_softmax", ls, 2, (int64_t[]){2, 3},
                (double[]){1 - log(e), 2 - log(e), 3 - log(e), -log(3), -log(3), -log(3)}, 1e-12);
  ObjTensor *s0 = apply1(TOP_SOFTMAX, x, &(TAttrs){.axis = 0});
  expect_values("softmax axis 0", s0, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 1, 1, 1}, 1e-12);
  ObjTensor *lab = from_doubles(DT_I64, 1, (int64_t[]){2}, (double[]){2, 0});
  ObjTensor *ce = apply2(TOP_CROSS_ENTROPY, x, lab, NULL);
  expect_values("cross_entropy", ce, 0, NULL, (double[]){((log(e) - 3) + log(3)) / 2}, 1e-12);
  ObjTensor *ih = apply1(TOP_ONE_HOT, lab, &(TAttrs){.nints = 1, .ints = {3}});
  expect_values("one_hot", ih, 2, (int64_t[]){2, 3}, (double[]){0, 0, 1, 1, 0, 0}, 0);
  ObjTensor *emb = from_doubles(DT_F32, 2, (int64_t[]){3, 2}, (double[]){0, 1, 10, 11, 20, 21});
  ObjTensor *ids = from_doubles(DT_I64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 1, 1});
  expect_values("index_select (embedding)", apply2(TOP_INDEX_SELECT, emb, ids, NULL), 3, (int64_t[]){2, 2, 2},
                (double[]){20, 21, 0, 1, 10, 11, 10, 11}, 0);
  ObjTensor *g = apply2(TOP_GATHER, emb, from_doubles(DT_I64, 2, (int64_t[]){3, 1}, (double[]){1, 0, 1}),
                        &(TAttrs){.axis = 1});
  expect_values("gather", g, 2, (int64_t[]){3, 1}, (double[]){1, 10, 21}, 0);
  ObjTensor *r;
  ObjTensor *far = from_doubles(DT_I64, 1, (int64_t[]){2}, (double[]){1, 3});
  expect_error("index range", tensor_apply(vm->tc, TOP_INDEX_SELECT, (ObjTensor *[]){emb, far}, 2, NULL, &r),
               "index_select: index 3 out of range for axis 0 of size 3");
  ObjTensor *c = NULL;
  CHECK(tensor_apply(vm->tc, TOP_CAT, (ObjTensor *[]){emb, emb}, 2, &(TAttrs){.axis = 1}, &c), "cat");
  expect_values("cat axis 1", c, 2, (int64_t[]){3, 4}, (double[]){0, 1, 0, 1, 10, 11, 10, 11, 20, 21, 20, 21}, 0);
  ObjTensor *st = NULL;
  CHECK(tensor_apply(vm->tc, TOP_STACK, (ObjTensor *[]){lab, lab, lab}, 3, &(TAttrs){.axis = 1}, &st), "stack");
  expect_values("stack axis 1", st, 2, (int64_t[]){2, 3}, (double[]){2, 2, 2, 0, 0, 0}, 0);
  /* dropout: about p of the elements are zeroed; the mask is saved on the
   * node when the input requires grad */
  ObjTensor *ones = tensor_new(vm->tc, DT_F32, 1, (int64_t[]){10000});
  for (int64_t i = 0; i < ones->numel; i++) ((float *)tensor_data(ones))[i] = 1;
  ones->requires_grad = true;
  ObjTensor *dr = apply1(TOP_DROPOUT, ones, &(TAttrs){.scalar = {0.25}});
  int64_t zeros = 0;
  for (int64_t i = 0; i < dr->numel; i++) zeros += tensor_get(dr, i) == 0;
  CHECK(zeros > 2300 && zeros < 2700, "dropout zeroes about p (%lld of 10000)", (long long)zeros);
  for (int64_t i = 0; i < dr->numel; i++)
    if (tensor_get(dr, i) != 0 && fabs(tensor_get(dr, i) - 1 / 0.75) > 1e-6) {
      CHECK(false, "dropout scales kept elements by 1/(1-p): %g", tensor_get(dr, i));
      break;
    }
  if (vm->tc->grad_enabled > 0 && tensor_ops[TOP_DROPOUT].backward) {
    CHECK(dr->grad_fn && dr->grad_fn->saved[0] && dr->grad_fn->saved[0]->numel == 10000, "dropout mask saved");
    CHECK(dr->requires_grad && dr->grad_fn->op == TOP_DROPOUT && dr->grad_fn->inputs[0] == ones,
          "grad node recorded");
  }
  /* cat of more tensors than a node holds, recording: a tree of cats */
  ObjTensor *parts[7];
  for (int i = 0; i < 7; i++) parts[i] = from_doubles(DT_F32, 1, (int64_t[]){1}, (double[]){i});
  parts[3]->requires_grad = true;
  CHECK(tensor_apply(vm->tc, TOP_CAT, parts, 7, NULL, &c), "cat of 7");
  expect_values("cat of 7", c, 1, (int64_t[]){7}, (double[]){0, 1, 2, 3, 4, 5, 6}, 0);
}

static void test_format(void) {
  ObjTensor *a = from_doubles(DT_F32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
  const char *s = show(a);
  CHECK(strcmp(s, "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])") == 0, "format 2-d: %s", s);
  ObjTensor *i = from_doubles(DT_I64, 1, (int64_t[]){3}, (double[]){1, -20, 3});
  s = show(i);
  CHECK(strcmp(s, "tensor([  1, -20,   3], dtype=i64)") == 0, "format i64: %s", s);
  ObjTensor *b = from_doubles(DT_BOOL, 1, (int64_t[]){2}, (double[]){1, 0});
  s = show(b);
  CHECK(strcmp(s, "tensor([ true, false], dtype=bool)") == 0, "format bool: %s", s);
  s = show(tensor_scalar(vm->tc, DT_F64, 2.5));
  CHECK(strcmp(s, "tensor(2.5000, dtype=f64)") == 0, "format 0-d: %s", s);
  a->requires_grad = true;
  s = show(a);
  CHECK(strstr(s, ", requires_grad=true)") != NULL, "format requires_grad: %s", s);
  a->requires_grad = false;
  ObjTensor *big = tensor_new(vm->tc, DT_I64, 2, (int64_t[]){100, 20});
  for (int64_t k = 0; k < big->numel; k++) ((int64_t *)tensor_data(big))[k] = k;
  s = show(big);
  CHECK(strncmp(s, "tensor([[   0,    1,    2, ...,   17,   18,   19],\n        [  20,", 50) == 0 &&
            strstr(s, "        ...,\n        [1940,") && strstr(s, "1999]], dtype=i64)"),
        "format elided: %s", s);
  ObjTensor *t3 = from_doubles(DT_I64, 3, (int64_t[]){2, 1, 2}, (double[]){1, 2, 3, 4});
  s = show(t3);
  CHECK(strcmp(s, "tensor([[[1, 2]],\n\n        [[3, 4]]], dtype=i64)") == 0, "format 3-d: %s", s);
}

static void test_allocator(void) {
  /* ops one at a time: a pending graph would hold the results until a sync */
  tensor_jit_set(vm->tc, false);
  gc_collect(vm);
  TensorAllocStats s0, s1;
  tensor_alloc_stats(&s0);
  for (int step = 0; step < 20; step++) {
    ObjTensor *a = tensor_new(vm->tc, DT_F32, 2, (int64_t[]){64, 64});
    ObjTensor *b = apply2(TOP_MUL, a, a, NULL);
    (void)b;
    gc_collect(vm); /* nothing is rooted: both return to the cache */
  }
  tensor_alloc_stats(&s1);
  CHECK(s1.hits - s0.hits >= 36, "steady state reuses storage (hits +%llu, misses +%llu)",
        (unsigned long long)(s1.hits - s0.hits), (unsigned long long)(s1.misses - s0.misses));
  CHECK(s1.misses - s0.misses <= 2, "steady state allocates at most twice (misses +%llu)",
        (unsigned long long)(s1.misses - s0.misses));
  CHECK(s1.peak_bytes >= 2 * 64 * 64 * 4, "peak bytes counted");
  CHECK(vm->heap.external_bytes == s1.current_bytes, "external bytes match live storage (%zu vs %zu)",
        vm->heap.external_bytes, s1.current_bytes);
  tensor_jit_set(vm->tc, true);

  /* size classes: multiples of 64 B to 512 B, then four per power of two */
  static const struct { int64_t bytes, cap; } classes[] = {
      {4, 64}, {64, 64}, {68, 128}, {512, 512}, {516, 640}, {640, 640}, {644, 768}, {1024, 1024},
      {1028, 1280}, {128 * 784 * 4, 448 << 10}, {(1 << 20) + 4, 1280 << 10}, {64 << 20, 64 << 20},
      {(64 << 20) + 4, 66 << 20}, /* large blocks: multiples of 2 MiB */
  };
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
    tensor_alloc_stats(&s0);
    ObjTensor *t = tensor_new(vm->tc, DT_F32, 1, (int64_t[]){classes[i].bytes / 4});
    tensor_alloc_stats(&s1);
    CHECK((int64_t)(s1.current_bytes - s0.current_bytes) == classes[i].cap,
          "%lld bytes take a block of %lld (got %lld)", (long long)classes[i].bytes, (long long)classes[i].cap,
          (long long)(s1.current_bytes - s0.current_bytes));
    (void)t;
    gc_collect(vm);
  }

  /* dead tensors are collected after GC_EXTERNAL_STEP bytes of new
   * storage, however much storage stays alive */
  Value big = OBJ_VAL(tensor_new(vm->tc, DT_F32, 1, (int64_t[]){64 << 20})); /* 256 MiB kept alive */
  vm_push_root(vm, big);
  gc_collect(vm);
  uint64_t before = vm->heap.gc_collections;
  for (int i = 0; i < 64 && !vm->heap.gc_requested; i++) tensor_new(vm->tc, DT_F32, 1, (int64_t[]){1 << 18}); /* 1 MiB */
  CHECK(vm->heap.gc_requested, "a collection is due after %zu MiB of new storage beside 256 MiB alive",
        GC_EXTERNAL_STEP >> 20);
  tensor_alloc_stats(&s1);
  CHECK(s1.current_bytes - vm->heap.external_bytes == 0 &&
            vm->heap.external_bytes <= ((size_t)256 << 20) + GC_EXTERNAL_STEP + ((size_t)2 << 20),
        "no more than the allowance piles up (%zu MiB)", vm->heap.external_bytes >> 20);
  size_t piled = vm->heap.external_bytes;
  gc_collect(vm);
  CHECK(vm->heap.gc_collections == before + 1, "collected");
  /* the 1 MiB tensors were garbage: only the rooted 256 MiB remain */
  CHECK(vm->heap.external_bytes < piled && vm->heap.external_bytes <= ((size_t)256 << 20) + ((size_t)1 << 20),
        "the collection freed the dead tensors (%zu MiB left of %zu MiB)", vm->heap.external_bytes >> 20,
        piled >> 20);
  vm_pop_root(vm, 1);
  gc_collect(vm);
}

/* Every shape goes through tensor_shape_check(): negative dims, a numel or
 * a stride that overflows int64, and numel * itemsize above
 * TENSOR_MAX_BYTES are errors naming the shape; zero-size tensors may have
 * a huge other dim. */
static void test_shape_check(void) {
  static const struct {
    int nd;
    int64_t shape[3];
    DType dt;
    int64_t numel; /* -1: rejected */
    const char *error;
  } cases[] = {
      {2, {4294967296, 4294967296}, DT_F32, -1, "shape [4294967296, 4294967296] has too many elements"},
      {2, {3037000500, 3037000500}, DT_BOOL, -1, "shape [3037000500, 3037000500] has too many elements"},
      {2, {3037000499, 3037000499}, DT_BOOL, -1, "shape [3037000499, 3037000499] has too many elements (more than 256 TiB of bool)"},
      {1, {(int64_t)1 << 46}, DT_F32, (int64_t)1 << 46, NULL}, /* exactly 256 TiB */
      {1, {((int64_t)1 << 46) + 1}, DT_F32, -1, "shape [70368744177665] has too many elements (more than 256 TiB of f32)"},
      {1, {(int64_t)1 << 46}, DT_BOOL, (int64_t)1 << 46, NULL},
      {1, {(int64_t)1 << 48}, DT_BOOL, (int64_t)1 << 48, NULL},
      {1, {((int64_t)1 << 48) + 1}, DT_BOOL, -1, "shape [281474976710657] has too many elements (more than 256 TiB of bool)"},
      {2, {0, INT64_MAX}, DT_F64, 0, NULL},
      {3, {0, (int64_t)1 << 62, 4}, DT_F32, -1, "shape [0, 4611686018427387904, 4] has too many elements"},
      {3, {(int64_t)1 << 62, 4, 0}, DT_F32, -1, "shape [4611686018427387904, 4, 0] has too many elements"},
      {2, {0, 5}, DT_F32, 0, NULL},
      {2, {3, -1}, DT_F32, -1, "shape [3, -1] has a negative dimension"},
      {0, {0}, DT_F32, 1, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t numel = -7;
    bool ok = tensor_shape_check(vm->tc, cases[i].nd, cases[i].shape, cases[i].dt, &numel);
    if (cases[i].numel >= 0) {
      CHECK(ok && numel == cases[i].numel, "case %zu accepted with numel %lld (got %d, %lld: %s)", i,
            (long long)cases[i].numel, ok, (long long)numel, vm->error);
    } else {
      CHECK(!ok && strcmp(vm->error, cases[i].error) == 0, "case %zu: want \"%s\", got \"%s\"", i,
            cases[i].error, ok ? "(accepted)" : vm->error);
    }
    vm_clear_error(vm);
  }
  /* tensor_new and tensor_view check too: NULL and the error outside a
   * protected call */
  CHECK(tensor_new(vm->tc, DT_F32, 2, (int64_t[]){4294967296, 4294967296}) == NULL &&
            strcmp(vm->error, "shape [4294967296, 4294967296] has too many elements") == 0,
        "tensor_new rejects an overflowing shape: %s", vm->error);
  vm_clear_error(vm);
  ObjTensor *one = tensor_zeros(vm->tc, DT_F32, 2, (int64_t[]){1, 1});
  CHECK(tensor_view(vm->tc, one, 2, (int64_t[]){(int64_t)1 << 62, (int64_t)1 << 62}, (int64_t[]){0, 0}, 0) == NULL &&
            strstr(vm->error, "has too many elements"),
        "tensor_view rejects an overflowing shape: %s", vm->error);
  vm_clear_error(vm);
  /* the kernels: expand to a huge shape is an op error, not a crash */
  TAttrs at = {.nints = 2, .ints = {(int64_t)1 << 62, (int64_t)1 << 62}};
  ObjTensor *r = NULL;
  CHECK(!tensor_apply(vm->tc, TOP_EXPAND, &one, 1, &at, &r) &&
            strcmp(vm->error, "shape [4611686018427387904, 4611686018427387904] has too many elements") == 0,
        "expand to a huge shape: %s", vm->error);
  vm_clear_error(vm);
  /* a sum over the zero dim of [0, 2^63-1] would be [2^63-1] */
  ObjTensor *empty = tensor_new(vm->tc, DT_F32, 2, (int64_t[]){0, INT64_MAX});
  TAttrs ax0 = {.axes = 1};
  CHECK(empty && !tensor_apply(vm->tc, TOP_SUM, &empty, 1, &ax0, &r) && strstr(vm->error, "shape [9223372036854775807]"),
        "sum(axis: 0) of [0, 2^63-1]: %s", vm->error);
  vm_clear_error(vm);
  TAttrs ax1 = {.axes = 2};
  r = empty ? apply1(TOP_SUM, empty, &ax1) : NULL;
  CHECK(r && r->ndim == 1 && r->shape[0] == 0, "sum(axis: 1) of [0, 2^63-1] is [0]");
}

/* A storage allocation the system refuses is an error: NULL outside a
 * protected call, an unwinding to it inside one (temp roots restored). */
static bool alloc_in_kernel(TCtx *tc, void *ctx) {
  vm_push_root(tc->vm, UNIT_VAL);
  vm_push_root(tc->vm, UNIT_VAL);
  *(ObjTensor **)ctx = tensor_new(tc, DT_F32, 1, (int64_t[]){(int64_t)3 << 44}); /* 192 TiB */
  return true; /* not reached */
}

static bool nested(TCtx *tc, void *ctx) {
  ObjTensor *r = NULL;
  bool inner = tensor_protected(tc, alloc_in_kernel, &r);
  *(bool *)ctx = inner;
  return true;
}

/* Code that re-entered the interpreter inside a protected call (one frame
 * more) gets NULL instead of an unwinding across that frame. */
static bool reentered(TCtx *tc, void *ctx) {
  VM *v = tc->vm;
  v->nframes++;
  ObjTensor *t = tensor_new(tc, DT_F32, 1, (int64_t[]){(int64_t)3 << 44});
  v->nframes--;
  *(bool *)ctx = t == NULL && v->has_error;
  return true;
}

static void test_out_of_memory(void) {
  TensorAllocStats s0, s1;
  tensor_alloc_stats(&s0);
  ObjTensor *t = tensor_new(vm->tc, DT_F32, 1, (int64_t[]){(int64_t)3 << 44});
  tensor_alloc_stats(&s1);
  CHECK(t == NULL && strcmp(vm->error, "out of memory: cannot allocate 211106232532992 bytes for a tensor of "
                                       "shape [52776558133248]") == 0,
        "refused allocation: %s", vm->error);
  CHECK(s1.failures == s0.failures + 1 && s1.current_bytes == s0.current_bytes, "a failure is counted, nothing held");
  vm_clear_error(vm);
  int ntemp = vm->heap.ntemp;
  ObjTensor *r = NULL;
  CHECK(!tensor_protected(vm->tc, alloc_in_kernel, &r) && r == NULL && vm->heap.ntemp == ntemp &&
            strncmp(vm->error, "out of memory: cannot allocate", 30) == 0,
        "protected call returns false (ntemp %d vs %d): %s", vm->heap.ntemp, ntemp, vm->error);
  vm_clear_error(vm);
  bool inner = true;
  CHECK(tensor_protected(vm->tc, nested, &inner) && !inner && vm->heap.ntemp == ntemp,
        "the innermost protected call catches");
  vm_clear_error(vm);
  bool got_null = false;
  CHECK(tensor_protected(vm->tc, reentered, &got_null) && got_null, "no unwinding across interpreter frames");
  vm_clear_error(vm);
  CHECK(tensor_new(vm->tc, DT_F32, 1, (int64_t[]){4}) != NULL, "allocation works afterwards");
}

/* Blocks above 64 MiB are cached (best fit, at most 25% waste), within the
 * cache's byte cap. */
static void test_large_blocks(void) {
  gc_collect(vm);
  tensor_alloc_trim();
  TensorAllocStats s0, s1;
  int64_t n = 60000 * 784; /* f32: 188160000 bytes */
  tensor_alloc_stats(&s0);
  for (int i = 0; i < 5; i++) {
    ObjTensor *t = tensor_new(vm->tc, DT_F32, 1, &n);
    memset(tensor_data(t), 1, (size_t)n * 4);
    gc_collect(vm);
  }
  tensor_alloc_stats(&s1);
  CHECK(s1.misses - s0.misses == 1 && s1.hits - s0.hits == 4, "a 188 MB block is reused (misses +%llu, hits +%llu)",
        (unsigned long long)(s1.misses - s0.misses), (unsigned long long)(s1.hits - s0.hits));
  CHECK(s1.large_cached_bytes == (size_t)180 << 20 && s1.cached_bytes >= s1.large_cached_bytes,
        "the block waits in the cache (%zu bytes)", s1.large_cached_bytes);
  /* a request 30% smaller does not take it; one 10% smaller does */
  tensor_alloc_stats(&s0);
  int64_t small = n * 7 / 10, near = n * 9 / 10;
  tensor_new(vm->tc, DT_F32, 1, &small);
  tensor_alloc_stats(&s1);
  CHECK(s1.misses == s0.misses + 1 && s1.large_cached_bytes == (size_t)180 << 20, "no fit beyond 25%% waste");
  ObjTensor *t = tensor_new(vm->tc, DT_F32, 1, &near);
  tensor_alloc_stats(&s1);
  CHECK(s1.hits == s0.hits + 1 && t->storage->nbytes == (size_t)180 << 20, "best fit within 25%%");
  gc_collect(vm);
  /* the cap: six 188 MB blocks released at once keep at most 1 GiB */
  Value keep[6];
  for (int i = 0; i < 6; i++) vm_push_root(vm, keep[i] = OBJ_VAL(tensor_new(vm->tc, DT_F32, 1, &n)));
  vm_pop_root(vm, 6);
  gc_collect(vm);
  tensor_alloc_stats(&s1);
  CHECK(s1.cached_bytes <= (size_t)1 << 30 && s1.large_cached_bytes >= (size_t)4 * (180 << 20) &&
            s1.large_released > s0.large_released,
        "cache capped at 1 GiB (%zu MiB cached, %llu released)", s1.cached_bytes >> 20,
        (unsigned long long)(s1.large_released - s0.large_released));
  tensor_alloc_trim();
  tensor_alloc_stats(&s1);
  CHECK(s1.cached_bytes == 0 && s1.large_cached_bytes == 0, "trim empties the cache");
}

static void test_rng(void) {
  rng_seed(7);
  double a = rng_normal(), b = rng_uniform();
  rng_seed(7);
  CHECK(rng_normal() == a && rng_uniform() == b, "same seed, same stream");
}

/* tensor_apply_into: the kernel straight into dst or a result copied in,
 * aliasing inputs read first, broadcasting, dtype conversion, version
 * bumps, the in-place index_put and the errors. */
static void test_apply_into(void) {
  int64_t s3[1] = {3}, s23[2] = {2, 3}, s2[1] = {2};
  ObjTensor *x = from_doubles(DT_F32, 1, s3, (double[]){1, 2, 3});
  uint64_t v0 = x->storage->version;
  CHECK(tensor_apply_into(vm->tc, TOP_SUB, (ObjTensor *[]){x, x}, 2, NULL, x), "x -= x");
  expect_values("x -= x", x, 1, s3, (double[]){0, 0, 0}, 0);
  CHECK(x->storage->version == v0 + 1, "version bumped once");

  /* a reversed overlap: r[0:4] += r[1:5] reads the old r[1:5] */
  int64_t s5[1] = {5};
  ObjTensor *r = from_doubles(DT_F64, 1, s5, (double[]){0, 1, 2, 3, 4});
  ObjTensor *lo, *hi;
  CHECK(tensor_apply(vm->tc, TOP_SLICE, &r, 1, &(TAttrs){.nints = 3, .ints = {0, 4, 1}}, &lo) &&
            tensor_apply(vm->tc, TOP_SLICE, &r, 1, &(TAttrs){.nints = 3, .ints = {1, 5, 1}}, &hi),
        "slices");
  CHECK(tensor_apply_into(vm->tc, TOP_ADD, (ObjTensor *[]){lo, hi}, 2, NULL, lo), "overlapping add");
  expect_values("overlapping add", r, 1, s5, (double[]){1, 3, 5, 7, 4}, 0);

  /* other ops compute first; the result is broadcast and converted to dst */
  ObjTensor *m = tensor_zeros(vm->tc, DT_I64, 2, s23);
  CHECK(tensor_apply_into(vm->tc, TOP_EXP, (ObjTensor *[]){from_doubles(DT_F32, 1, s3, (double[]){0, 1, 2})}, 1,
                          NULL, m),
        "exp into i64");
  expect_values("exp into i64", m, 2, s23, (double[]){1, 2, 7, 1, 2, 7}, 0);
  CHECK(tensor_apply_into(vm->tc, TOP_CAST, (ObjTensor *[]){from_doubles(DT_F32, 1, s3, (double[]){-1.5, 0, 9})},
                          1, &(TAttrs){.dtype = DT_I64}, m),
        "copy");
  expect_values("copy", m, 2, s23, (double[]){-1, 0, 9, -1, 0, 9}, 0);
  ObjTensor *pos = from_doubles(DT_I64, 1, s2, (double[]){5, 0});
  ObjTensor *val = tensor_scalar(vm->tc, DT_F64, 4);
  uint64_t v1 = m->storage->version;
  CHECK(tensor_apply_into(vm->tc, TOP_INDEX_PUT, (ObjTensor *[]){m, pos, val}, 3, NULL, m), "index_put in place");
  expect_values("index_put in place", m, 2, s23, (double[]){4, 0, 9, -1, 0, 4}, 0);
  CHECK(m->storage->version == v1 + 1, "index_put bumps the version");

  expect_error("into a smaller dst",
               tensor_apply_into(vm->tc, TOP_ADD, (ObjTensor *[]){x, tensor_zeros(vm->tc, DT_F32, 2, s23)}, 2,
                                 NULL, x),
               "expand: cannot expand [2, 3] to [3]");
  expect_error("arity", tensor_apply_into(vm->tc, TOP_ADD, &x, 1, NULL, x), "add: expected 2 tensors, got 1");
  expect_error("index out of range",
               tensor_apply_into(vm->tc, TOP_INDEX_PUT,
                                 (ObjTensor *[]){m, from_doubles(DT_I64, 1, s2, (double[]){6, 0}), val}, 3, NULL, m),
               "index_put: position 6 out of range for 6 elements");
  CHECK(m->storage->version == v1 + 1, "a failed write does not bump the version");
}

int main(void) {
  vm = lang_vm_new();
  vm->heap.gc_pause++;
  test_creation();
  test_views();
  test_elementwise();
  test_reductions();
  test_matmul();
  test_conv_pool();
  test_nn();
  test_format();
  test_apply_into();
  vm->heap.gc_pause--;
  test_allocator();
  test_shape_check();
  test_out_of_memory();
  test_large_blocks();
  test_rng();
  vm_free(vm);
  tensor_alloc_trim();
  return check_report();
}
