/* The pool: N - 1 worker threads and the caller, which takes chunks too.
 *
 * A job is published by bumping `gen`, the high half of the `ticket` word;
 * its low half counts the chunks handed out. Everyone claims a chunk with
 * a compare-and-swap on the whole word, so a worker that is late for a job
 * (still holding the previous job's function) can never claim a chunk of
 * the next one: its swap fails because the generation changed. The caller
 * publishes the next job only after every chunk of this one is finished,
 * which also makes the job's fields safe to read for whoever claimed a
 * chunk of it.
 *
 * Waiting: a worker that finds no job spins for SPIN_NS (training loops
 * issue the next large kernel within tens of microseconds, and a futex
 * wake-up costs about as much as a small kernel), then sleeps on a
 * condition variable, so an idle pool does not keep the second core busy
 * while the interpreter runs. The caller waits for the last chunk the same
 * way. Sleepers are counted so that publishing a job or finishing one
 * makes a system call only when someone sleeps, and only a large job wakes
 * them (POOL_WAKE_GRAINS). Workers are started
 * lazily, so a script without large tensors never creates a thread. */
#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
/* How long an idle participant spins before it sleeps. */
#define SPIN_NS 20000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t woken = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_THREADS];
static int nworkers;          /* started */
static int nthreads;          /* wanted, including the caller; 0 = not decided yet */
static atomic_bool stopping;  /* set at exit */
static atomic_int sleepers;   /* workers waiting on `woken` */
static atomic_bool caller_sleeps; /* the caller waits on `finished` */

/* gen << 32 | chunks handed out */
static atomic_uint_fast64_t ticket;
/* the current job; written by the caller before it publishes the job */
static _Atomic(PoolFn) job_fn;
static _Atomic(void *) job_ctx;
static atomic_int_fast64_t job_n, job_chunk, job_nchunks, job_done;

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
  }
}

void pool_set_threads(int n) {
  if (n <= 0) n = default_threads();
  if (n > MAX_THREADS) n = MAX_THREADS;
  nthreads = n;
}

int pool_threads(void) {
  decide();
  return nthreads;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until done(arg) or SPIN_NS have passed; the clock is read every
 * 64 rounds. */
static bool spin_until(bool (*done)(void *), void *arg) {
  int64_t start = 0;
  for (int i = 1;; i++) {
    if (done(arg)) return true;
    cpu_relax();
    if ((i & 63) == 0) {
      int64_t t = now_ns();
      if (!start) start = t;
      else if (t - start > SPIN_NS) return false;
    }
  }
}

/* Takes chunks of the job of generation `gen` until none are left;
 * whoever finishes the last one wakes the caller if it sleeps. */
static void run_chunks(uint64_t gen) {
  PoolFn fn = atomic_load_explicit(&job_fn, memory_order_relaxed);
  void *ctx = atomic_load_explicit(&job_ctx, memory_order_relaxed);
  int64_t n = atomic_load_explicit(&job_n, memory_order_relaxed);
  int64_t chunk = atomic_load_explicit(&job_chunk, memory_order_relaxed);
  int64_t nchunks = atomic_load_explicit(&job_nchunks, memory_order_relaxed);
  uint64_t t = atomic_load(&ticket);
  int64_t did = 0;
  for (;;) {
    if (t >> 32 != gen || (int64_t)(t & 0xffffffffu) >= nchunks) break;
    /* On success chunk c is ours, and the job is still `gen` (unfinished,
     * so the fields read above are its own). */
    if (!atomic_compare_exchange_weak(&ticket, &t, t + 1)) continue;
    int64_t c = (int64_t)(t & 0xffffffffu), lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    fn(lo, hi, ctx);
    did++;
    t = atomic_load(&ticket);
  }
  if (did && atomic_fetch_add(&job_done, did) + did == nchunks && atomic_load(&caller_sleeps)) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&finished);
    pthread_mutex_unlock(&mu);
  }
}

typedef struct {
  uint64_t seen;
} WaitJob;

static bool new_job(void *arg) {
  return atomic_load_explicit(&ticket, memory_order_acquire) >> 32 != ((WaitJob *)arg)->seen ||
         atomic_load_explicit(&stopping, memory_order_relaxed);
}

/* arg: the generation current when the worker was started */
static void *worker(void *arg) {
  in_pool = true;
  WaitJob w = {(uint64_t)(uintptr_t)arg};
  for (;;) {
    if (!spin_until(new_job, &w)) {
      pthread_mutex_lock(&mu);
      /* sleepers is raised before the last look at the ticket, and the
       * caller bumps the ticket before it reads sleepers: one of the two
       * sees the other. */
      atomic_fetch_add(&sleepers, 1);
      while (!new_job(&w)) pthread_cond_wait(&woken, &mu);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&mu);
    }
    if (atomic_load(&stopping)) break;
    w.seen = atomic_load(&ticket) >> 32;
    run_chunks(w.seen);
  }
  return NULL;
}

static void stop_workers(void) {
  pthread_mutex_lock(&mu);
  atomic_store(&stopping, true);
  pthread_cond_broadcast(&woken);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
  nworkers = 0;
  atomic_store(&stopping, false);
}

static void start_workers(int want) {
  static bool registered;
  if (!registered) {
    registered = true;
    atexit(stop_workers);
  }
  while (nworkers < want) {
    void *gen = (void *)(uintptr_t)(atomic_load(&ticket) >> 32);
    if (pthread_create(&workers[nworkers], NULL, worker, gen) != 0) break;
    nworkers++;
  }
}

static bool all_done(void *arg) { return atomic_load(&job_done) >= *(int64_t *)arg; }

void pool_parallel_for(int64_t n, int64_t grain, PoolFn fn, void *ctx) {
  if (grain < 1) grain = 1;
  pool_parallel_for_wake(n, grain, fn, ctx, n / grain >= POOL_WAKE_GRAINS);
}

void pool_parallel_for_wake(int64_t n, int64_t grain, PoolFn fn, void *ctx, bool wake) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  decide();
  if (in_pool || nthreads < 2 || n < 2 * grain) {
    fn(0, n, ctx);
    return;
  }
  /* Several chunks per thread so that an uneven split, or a worker the
   * scheduler runs late, still balances. */
  int64_t nchunks = n / grain, most = (int64_t)nthreads * 4;
  if (nchunks > most) nchunks = most;
  int64_t chunk = (n + nchunks - 1) / nchunks;
  nchunks = (n + chunk - 1) / chunk;
  if (nworkers < nthreads - 1) start_workers(nthreads - 1);
  if (nworkers == 0) {
    fn(0, n, ctx);
    return;
  }
  /* The previous job is finished (every chunk done), so no one reads
   * these until the ticket below announces them. */
  atomic_store_explicit(&job_fn, fn, memory_order_relaxed);
  atomic_store_explicit(&job_ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&job_n, n, memory_order_relaxed);
  atomic_store_explicit(&job_chunk, chunk, memory_order_relaxed);
  atomic_store_explicit(&job_nchunks, nchunks, memory_order_relaxed);
  atomic_store_explicit(&job_done, 0, memory_order_relaxed);
  uint64_t gen = (atomic_load(&ticket) >> 32) + 1;
  atomic_store(&ticket, gen << 32);
  if (wake && atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&woken);
    pthread_mutex_unlock(&mu);
  }
  in_pool = true;
  run_chunks(gen);
  in_pool = false;
  if (!spin_until(all_done, &nchunks)) {
    pthread_mutex_lock(&mu);
    atomic_store(&caller_sleeps, true);
    while (!all_done(&nchunks)) pthread_cond_wait(&finished, &mu);
    atomic_store(&caller_sleeps, false);
    pthread_mutex_unlock(&mu);
  }
}
