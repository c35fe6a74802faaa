/* A small fork-join pool for the tensor kernels.
 *
 * pool_parallel_for(n, grain, fn, ctx) runs fn over [0, n) split into
 * chunks of at least `grain` indices, on the calling thread plus the pool's
 * workers (started on the first call that has enough work). Below 2 * grain
 * it is a plain call fn(0, n, ctx) on the caller. Calls do not nest: a call
 * from inside fn runs serially. Kernels split work so that the result does
 * not depend on how [0, n) is chunked (elementwise ops, independent rows,
 * reduction blocks of a fixed size combined in order afterwards), so the
 * results are bit-identical for every thread count.
 *
 * The thread count is pool_set_threads(n) (the --threads option), else
 * NS_THREADS, else the number of online CPUs. OpenBLAS runs on one
 * thread; large GEMMs are split across this pool instead (blas.h). */
#ifndef NS_THREADPOOL_H
#define NS_THREADPOOL_H

#include <stdbool.h>
#include <stdint.h>

/* Elements below which an elementwise kernel runs on one thread. */
#define POOL_GRAIN 32768
/* Grains from which pool_parallel_for wakes sleeping workers. A smaller
 * job is shared only with workers still spinning after the previous one:
 * waking one costs a system call, and it arrives tens of microseconds
 * later, about when such a job is finished anyway. */
#define POOL_WAKE_GRAINS 8

typedef void (*PoolFn)(int64_t lo, int64_t hi, void *ctx);

/* n <= 0: the default (NS_THREADS or the online CPUs). Takes effect
 * before the pool's first use, and later calls resize. */
void pool_set_threads(int n);
int pool_threads(void);
void pool_parallel_for(int64_t n, int64_t grain, PoolFn fn, void *ctx);
/* The same with the caller deciding whether sleeping workers are woken
 * (for work whose cost the grain count does not show, like GEMM blocks). */
void pool_parallel_for_wake(int64_t n, int64_t grain, PoolFn fn, void *ctx, bool wake);

#endif
