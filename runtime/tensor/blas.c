/* Lazy binding of OpenBLAS (see blas.h). */
#define _GNU_SOURCE
#include "blas.h"

#include <dlfcn.h>
#include <stdio.h>

typedef void (*SgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                        float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*DgemmFn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                        double, const double *, blasint, const double *, blasint, double, double *, blasint);
typedef void (*SetThreadsFn)(int);

static SgemmFn p_sgemm;
static DgemmFn p_dgemm;
static SetThreadsFn p_set_threads;
static int wanted_threads; /* 0: not set */
static int state;          /* 0 not tried, 1 loaded, -1 failed */
static char error[256];

static bool load(void) {
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
  p_set_threads = (SetThreadsFn)dlsym(h, "openblas_set_num_threads");
  if (!p_sgemm || !p_dgemm) {
    snprintf(error, sizeof error, "OpenBLAS has no cblas_sgemm/cblas_dgemm");
    return false;
  }
  if (p_set_threads && wanted_threads > 0) p_set_threads(wanted_threads);
  state = 1;
  return true;
}

bool blas_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (!load()) return false;
  p_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return true;
}

bool blas_dgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  if (!load()) return false;
  p_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return true;
}

void blas_set_threads(int n) {
  wanted_threads = n;
  if (state > 0 && p_set_threads) p_set_threads(n);
}

const char *blas_error(void) { return error; }
