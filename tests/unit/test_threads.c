#define _POSIX_C_SOURCE 200809L
/* Thread-count independence of the split GEMMs and the pool: blas_sgemm /
 * blas_dgemm on 2 threads give the same bits as on 1 thread (shapes around
 * the split size, every transpose, row and column splits, leading
 * dimensions larger than the matrix), batched matmul through the tensor
 * engine likewise, and many back-to-back pool jobs of varying size (the
 * worker's spin/sleep hand-over) each cover every index once. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "builtins.h"
#include "tensor_int.h"
#include "threadpool.h"
#include "check.h"

static VM *vm;

static uint64_t state = 88172645463325252u;
static double uniform(void) {
  state ^= state << 13, state ^= state >> 7, state ^= state << 17;
  return (double)(state >> 11) / 9007199254740992.0 * 2 - 1;
}

/* C (m x n, ldc = n + 3) = op(A) op(B) with padded leading dimensions,
 * once per thread count; the two results must be equal bit for bit. */
static void gemm_case(bool f64, bool ta, bool tb, int m, int n, int k) {
  int arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
  int lda = acols + 5, ldb = bcols + 2, ldc = n + 3;
  size_t es = f64 ? sizeof(double) : sizeof(float);
  char *a = malloc((size_t)arows * lda * es), *b = malloc((size_t)brows * ldb * es);
  char *c[2] = {calloc((size_t)m * ldc, es), calloc((size_t)m * ldc, es)};
  for (size_t i = 0; i < (size_t)arows * lda; i++)
    f64 ? (((double *)a)[i] = uniform()) : (((float *)a)[i] = (float)uniform());
  for (size_t i = 0; i < (size_t)brows * ldb; i++)
    f64 ? (((double *)b)[i] = uniform()) : (((float *)b)[i] = (float)uniform());
  for (int t = 0; t < 2; t++) {
    pool_set_threads(t + 1);
    enum CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
    bool ok = f64 ? blas_dgemm(A, B, m, n, k, 1.0, (double *)a, lda, (double *)b, ldb, 0.0, (double *)c[t], ldc)
                  : blas_sgemm(A, B, m, n, k, 1.0f, (float *)a, lda, (float *)b, ldb, 0.0f, (float *)c[t], ldc);
    CHECK(ok, "gemm: %s", blas_error());
  }
  CHECK(!memcmp(c[0], c[1], (size_t)m * ldc * es), "%s %c%c m=%d n=%d k=%d: 1 and 2 threads differ",
        f64 ? "dgemm" : "sgemm", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
  free(a), free(b), free(c[0]), free(c[1]);
}

static void test_gemm(void) {
  /* m*n*k below, at and far above the split size (blas.h); wide (column
   * split), tall (row split), odd sizes that leave a short last block */
  static const int shapes[][3] = {{32, 128, 784}, {784, 128, 32}, {64, 512, 784}, {512, 64, 784}, {33, 1001, 97},
                                  {1001, 35, 61}, {256, 2048, 1024}, {3, 4096, 128}, {4096, 3, 130}, {64, 10, 64},
                                  {784, 512, 64}, {2048, 1024, 256}, {1000, 1000, 50}, {97, 300, 600}, {50, 2000, 300},
                                  {1600, 16, 200}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int f64 = 0; f64 < 2; f64++)
      for (int tr = 0; tr < 4; tr++) gemm_case(f64, tr & 1, tr & 2, shapes[s][0], shapes[s][1], shapes[s][2]);
}

static ObjTensor *randt(DType dt, int nd, const int64_t *shape) {
  ObjTensor *t = tensor_new(vm->tc, dt, nd, shape);
  for (int64_t i = 0; i < t->numel; i++) tensor_set(t, i, uniform());
  return t;
}

/* a batched matmul (batch dims broadcast, b transposed as a view) */
static void test_batched_matmul(void) {
  for (int f64 = 0; f64 < 2; f64++) {
    DType dt = f64 ? DT_F64 : DT_F32;
    int64_t as[] = {6, 5, 40, 96}, bs[] = {5, 128, 96};
    ObjTensor *a = randt(dt, 4, as), *b = randt(dt, 3, bs), *r[2];
    TAttrs perm = {.ints = {0, 2, 1}, .nints = 3};
    ObjTensor *bt = NULL;
    CHECK(tensor_apply(vm->tc, TOP_PERMUTE, &b, 1, &perm, &bt), "permute: %s", vm->error);
    for (int t = 0; t < 2; t++) {
      pool_set_threads(t + 1);
      ObjTensor *in[2] = {a, bt};
      r[t] = NULL;
      CHECK(tensor_apply(vm->tc, TOP_MATMUL, in, 2, &(TAttrs){0}, &r[t]), "matmul: %s", vm->error);
    }
    if (r[0] && r[1])
      CHECK(r[0]->numel == 6 * 5 * 40 * 128 &&
                !memcmp(tensor_data(r[0]), tensor_data(r[1]), (size_t)r[0]->numel * tensor_dtype_sizes[dt]),
            "batched matmul (%s): 1 and 2 threads differ", f64 ? "f64" : "f32");
  }
}

static atomic_int hits[5000];
static void count_range(int64_t lo, int64_t hi, void *ctx) {
  (void)ctx;
  for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&hits[i], 1);
}

/* jobs back to back and after pauses long enough for the worker to sleep */
static void test_pool_jobs(void) {
  pool_set_threads(2);
  for (int job = 0; job < 3000; job++) {
    int n = 2 + job % 4999;
    for (int i = 0; i < n; i++) atomic_store(&hits[i], 0);
    if (job % 500 == 0) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    pool_parallel_for(n, 1, count_range, NULL);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += atomic_load(&hits[i]) != 1;
    CHECK(!bad, "job %d over %d indices: %d not run exactly once", job, n, bad);
    if (bad) break;
  }
}

int main(void) {
  vm = lang_vm_new();
  vm->heap.gc_pause++;
  test_gemm();
  test_batched_matmul();
  test_pool_jobs();
  vm->heap.gc_pause--;
  vm_free(vm);
  tensor_alloc_trim();
  return check_report();
}
