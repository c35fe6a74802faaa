/* Lazy binding of OpenBLAS and the split of large GEMMs (see blas.h). */
#define _GNU_SOURCE
#include "blas.h"
#include "threadpool.h"

#include <dlfcn.h>
#include <stdio.h>

typedef void (*SgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                        float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*DgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                        double, const double *, blasint, const double *, blasint, double, double *, blasint);
typedef void (*SetThreadsFn)(int);

static SgemmFn p_sgemm;
static DgemmFn p_dgemm;
static int state; /* 0 not tried, 1 loaded, -1 failed */
static char error[256];

bool blas_load(void) {
  if (state) return state > 0;
  state = -1;
  const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
  void *h = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(error, sizeof error, "cannot load OpenBLAS (%s); install the Debian package libopenblas0", dlerror());
    return false;
  }
  p_sgemm = (SgemmFn)dlsym(h, "cblas_sgemm");
  p_dgemm = (DgemmFn)dlsym(h, "cblas_dgemm");
  SetThreadsFn set_threads = (SetThreadsFn)dlsym(h, "openblas_set_num_threads");
  if (!p_sgemm || !p_dgemm) {
    snprintf(error, sizeof error, "OpenBLAS has no cblas_sgemm/cblas_dgemm");
    return false;
  }
  /* Each call runs on its caller; the pool does the splitting. The server
   * threads OpenBLAS starts when opened are kept away by OPENBLAS_NUM_THREADS=1
   * in the environment (nsc sets it in main). */
  if (set_threads) set_threads(1);
  state = 1;
  return true;
}

/* One GEMM cut into blocks of `block` rows (by_rows) or columns of C. */
typedef struct {
  bool f64, by_rows;
  enum CBLAS_TRANSPOSE ta, tb;
  int m, n, k, lda, ldb, ldc, block;
  double alpha, beta;
  const char *a, *b;
  char *c;
} GemmJob;

/* Blocks [lo, hi), one call each: the pool runs a whole range on one
 * thread when it does not split, and the bits must not change with that. */
static void gemm_blocks(int64_t lo, int64_t hi, void *arg) {
  const GemmJob *j = arg;
  size_t es = j->f64 ? sizeof(double) : sizeof(float);
  int dim = j->by_rows ? j->m : j->n;
  for (int64_t blk = lo; blk < hi; blk++) {
    int from = (int)blk * j->block, to = from + j->block < dim ? from + j->block : dim;
    const char *a = j->a, *b = j->b;
    char *c = j->c;
    int m = j->m, n = j->n;
    if (j->by_rows) {
      /* rows from..to of op(A): A is m x k (lda per row), or k x m if transposed */
      a += (size_t)from * (j->ta == CblasNoTrans ? (size_t)j->lda : 1) * es;
      c += (size_t)from * (size_t)j->ldc * es;
      m = to - from;
    } else {
      /* columns from..to of op(B): B is k x n (ldb per row), or n x k if transposed */
      b += (size_t)from * (j->tb == CblasNoTrans ? 1 : (size_t)j->ldb) * es;
      c += (size_t)from * es;
      n = to - from;
    }
    if (j->f64)
      p_dgemm(CblasRowMajor, j->ta, j->tb, m, n, j->k, j->alpha, (const double *)a, j->lda, (const double *)b,
              j->ldb, j->beta, (double *)c, j->ldc);
    else
      p_sgemm(CblasRowMajor, j->ta, j->tb, m, n, j->k, (float)j->alpha, (const float *)a, j->lda, (const float *)b,
              j->ldb, (float)j->beta, (float *)c, j->ldc);
  }
}

/* Cuts the product into blocks when it is large enough and runs them on
 * the pool; false if it is one call. The blocks depend on the shape only:
 * OpenBLAS's kernels give an element of C different low bits depending on
 * where it falls in a call (the sgemm kernel treats the last columns of a
 * call differently), so a split chosen by thread count would make results
 * depend on it. Up to 4 blocks of a multiple of 16 along the longer side of
 * C: with two threads a worker the scheduler runs late still leaves the
 * caller blocks to take. On one thread the blocks run in turn, 2-7%
 * slower than one call (the operand packed again per block is the shorter
 * one), the price of results that do not depend on the thread count. */
static bool gemm_split(GemmJob *j) {
  double macs = (double)j->m * j->n * j->k;
  int nblocks = macs >= 4.0 * BLAS_BLOCK_MACS ? 4 : (int)(macs / BLAS_BLOCK_MACS);
  if (nblocks < 2) return false;
  j->by_rows = j->m > j->n;
  int dim = j->by_rows ? j->m : j->n;
  int block = ((dim + nblocks - 1) / nblocks + 15) / 16 * 16;
  nblocks = (dim + block - 1) / block;
  if (nblocks < 2) return false;
  j->block = block;
  pool_parallel_for_wake(nblocks, 1, gemm_blocks, j, macs >= BLAS_WAKE_MACS);
  return true;
}

bool blas_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (!blas_load()) return false;
  GemmJob j = {false, false, ta, tb, m, n, k, lda, ldb, ldc, 0, alpha, beta, (const char *)a, (const char *)b, (char *)c};
  if (!gemm_split(&j)) p_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return true;
}

bool blas_dgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  if (!blas_load()) return false;
  GemmJob j = {true, false, ta, tb, m, n, k, lda, ldb, ldc, 0, alpha, beta, (const char *)a, (const char *)b, (char *)c};
  if (!gemm_split(&j)) p_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return true;
}

const char *blas_error(void) { return error; }
