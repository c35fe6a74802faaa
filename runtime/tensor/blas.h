/* GEMM through OpenBLAS, loaded on first use.
 *
 * libopenblas starts its thread pool when it is loaded, and those threads
 * spin for a while: linked into nsc, every run (even `println!("hi")`)
 * would pay for it in start-up time and a busy second core. So the
 * library is opened with dlopen the first time a matrix product needs it.
 *
 * OpenBLAS itself always runs on one thread: its workers spin in
 * sched_yield after every call and fought the tensor pool's workers for
 * the cores, and its own split of a small GEMM cost more than it saved.
 * A GEMM of at least 2 * BLAS_BLOCK_MACS multiply-adds is instead cut into
 * blocks of rows or columns of C, one single-threaded OpenBLAS call per
 * block, run on the tensor pool (threadpool.h). The blocks depend on the
 * shape only, never on the thread count, so the result is the same bits
 * for every thread count. */
#ifndef NS_BLAS_H
#define NS_BLAS_H

#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>

/* The least multiply-adds (m * n * k) of one block of a split GEMM. */
#define BLAS_BLOCK_MACS (1 << 20)
/* Multiply-adds from which a split GEMM wakes sleeping pool workers (about
 * 150 us on one core); smaller ones share blocks only with a worker still
 * spinning after the previous job. */
#define BLAS_WAKE_MACS (8 << 20)

/* C = A·B (row-major, transposes as flags), like cblas_sgemm/dgemm; false
 * if OpenBLAS cannot be loaded (blas_error() says why). Called from inside
 * a pool job, the product runs on the calling thread. */
bool blas_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
bool blas_dgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc);
/* Loads OpenBLAS if it is not yet; false if it cannot be (blas_error()). */
bool blas_load(void);
/* Why loading failed ("" if it did not). */
const char *blas_error(void);

#endif
