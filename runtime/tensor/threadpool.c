/* The pool: N - 1 worker threads waiting on a condition variable and the
 * caller, which takes chunks too. A job is published under the mutex with
 * a new generation number; every participant takes chunk indices from an
 * atomic counter until none remain, and the caller waits until all chunks
 * are finished. Workers are started lazily, so a script without large
 * tensors never creates a thread. */
#define _POSIX_C_SOURCE 200809L
#include "blas.h"
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_THREADS];
static int nworkers;   /* started */
static int nthreads;   /* wanted, including the caller; 0 = not decided yet */
static uint64_t generation;
static bool stopping;
static int active; /* workers inside run_chunks */

/* the current job */
static PoolFn job_fn;
static void *job_ctx;
static int64_t job_n, job_chunk, job_nchunks;
static atomic_int_fast64_t job_next, job_done;

static _Thread_local bool in_pool;

static int default_threads(void) {
  const char *env = getenv("NS_THREADS");
  int n = env ? atoi(env) : 0;
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  return n;
}

static void decide(void) {
  if (nthreads == 0) {
    int n = default_threads();
    nthreads = n > MAX_THREADS ? MAX_THREADS : n;
    blas_set_threads(nthreads);
  }
}

void pool_set_threads(int n) {
  if (n <= 0) n = default_threads();
  if (n > MAX_THREADS) n = MAX_THREADS;
  nthreads = n;
  blas_set_threads(n);
}

int pool_threads(void) {
  decide();
  return nthreads;
}

/* Take chunks until none are left; whoever finishes the last one wakes
 * the caller. */
static void run_chunks(PoolFn fn, void *ctx, int64_t n, int64_t chunk, int64_t nchunks) {
  int64_t c, did = 0;
  while ((c = atomic_fetch_add(&job_next, 1)) < nchunks) {
    int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    fn(lo, hi, ctx);
    did++;
  }
  if (did && atomic_fetch_add(&job_done, did) + did == nchunks) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&finished);
    pthread_mutex_unlock(&mu);
  }
}

static void *worker(void *arg) {
  (void)arg;
  in_pool = true;
  uint64_t seen = 0;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (generation == seen && !stopping) pthread_cond_wait(&wake, &mu);
    if (stopping) break;
    seen = generation;
    PoolFn fn = job_fn;
    void *ctx = job_ctx;
    int64_t n = job_n, chunk = job_chunk, nchunks = job_nchunks;
    active++;
    pthread_mutex_unlock(&mu);
    run_chunks(fn, ctx, n, chunk, nchunks);
    pthread_mutex_lock(&mu);
    if (--active == 0) pthread_cond_broadcast(&finished);
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void stop_workers(void) {
  pthread_mutex_lock(&mu);
  stopping = true;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
  nworkers = 0;
  stopping = false;
}

static void start_workers(int want) {
  static bool registered;
  if (!registered) {
    registered = true;
    atexit(stop_workers);
  }
  while (nworkers < want) {
    if (pthread_create(&workers[nworkers], NULL, worker, NULL) != 0) break;
    nworkers++;
  }
}

void pool_parallel_for(int64_t n, int64_t grain, PoolFn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  decide();
  if (in_pool || nthreads < 2 || n < 2 * grain) {
    fn(0, n, ctx);
    return;
  }
  /* Several chunks per thread so that an uneven split still balances. */
  int64_t nchunks = n / grain, most = (int64_t)nthreads * 4;
  if (nchunks > most) nchunks = most;
  int64_t chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;
  if (nworkers < nthreads - 1) start_workers(nthreads - 1);
  if (nworkers == 0) {
    fn(0, n, ctx);
    return;
  }
  pthread_mutex_lock(&mu);
  /* A worker still leaving the previous job must not see this one's
   * counters with that job's function. */
  while (active > 0) pthread_cond_wait(&finished, &mu);
  job_fn = fn, job_ctx = ctx, job_n = n, job_chunk = chunk, job_nchunks = nchunks;
  atomic_store(&job_next, 0);
  atomic_store(&job_done, 0);
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  in_pool = true;
  run_chunks(fn, ctx, n, chunk, nchunks);
  in_pool = false;
  pthread_mutex_lock(&mu);
  while (atomic_load(&job_done) < nchunks) pthread_cond_wait(&finished, &mu);
  pthread_mutex_unlock(&mu);
}
