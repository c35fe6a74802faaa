/* GEMM through OpenBLAS, loaded on first use.
 *
 * libopenblas starts its thread pool when it is loaded, and those threads
 * spin for a while: linked into nsc, every run (even `println!("hi")`)
 * would pay for it in start-up time and a busy second core. So the
 * library is opened with dlopen the first time a matrix product needs it. */
#ifndef NS_BLAS_H
#define NS_BLAS_H

#include <cblas.h>
#include <stdbool.h>

/* C = A·B (row-major, transposes as flags), like cblas_sgemm/dgemm; false
 * if OpenBLAS cannot be loaded (blas_error() says why). */
bool blas_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
bool blas_dgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc);
/* The thread count OpenBLAS will use (applied now if it is loaded, else
 * when it is). */
void blas_set_threads(int n);
/* Why loading failed ("" if it did not). */
const char *blas_error(void);

#endif
