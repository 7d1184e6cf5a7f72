// The compute pool: persistent threads that spin briefly between tasks (a forward pass issues hundreds of
// matmuls, each one task with one join) and sleep on a condition variable when idle.
#include "CQuant.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 256
// Spin iterations (a pause each, ~20-40 ns) before a waiting thread yields its core, and yields before a worker
// sleeps: ~100 µs of spinning covers the gaps inside a step; the yields keep a loaded machine (more runnable threads
// than cores) from starving the very thread being waited for.
#define SPIN_ITERS 3000
#define YIELDS 64

static struct {
    int size;
    pthread_t threads[MAX_THREADS];
    _Atomic unsigned generation;
    _Atomic int remaining;
    _Atomic int sleepers;
    swl_task_fn fn;
    void *ctx;
    int nth;
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    pthread_mutex_t run_mu;   // one caller at a time
} P = {
    .sleep_mu = PTHREAD_MUTEX_INITIALIZER,
    .sleep_cv = PTHREAD_COND_INITIALIZER,
    .run_mu = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int requested_size = 0;
static _Thread_local int in_task = 0;

static void *worker(void *arg) {
    int tid = (int)(intptr_t)arg;
    unsigned seen = 0;   // workers start before the first task (start_pool), so generation 0 is the idle state
    in_task = 1;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&P.generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
            if (spins < SPIN_ITERS + YIELDS) { sched_yield(); continue; }
            pthread_mutex_lock(&P.sleep_mu);
            atomic_fetch_add(&P.sleepers, 1);
            while ((g = atomic_load(&P.generation)) == seen)
                pthread_cond_wait(&P.sleep_cv, &P.sleep_mu);
            atomic_fetch_sub(&P.sleepers, 1);
            pthread_mutex_unlock(&P.sleep_mu);
            break;
        }
        seen = g;
        if (tid < P.nth) {
            P.fn(P.ctx, tid, P.nth);
            atomic_fetch_sub_explicit(&P.remaining, 1, memory_order_acq_rel);
        }
    }
    return NULL;
}

static void start_pool(void) {
    int n = requested_size;
    if (n <= 0) {
        const char *env = getenv("SWIFTLET_THREADS");
        if (env) n = atoi(env);
        if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    P.size = n;
    for (int t = 1; t < n; t++) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 1 << 20);
        pthread_create(&P.threads[t], &a, worker, (void *)(intptr_t)t);
        pthread_attr_destroy(&a);
    }
}

void swl_pool_init(int n) {
    requested_size = n;
    pthread_once(&pool_once, start_pool);
}

int swl_pool_size(void) {
    pthread_once(&pool_once, start_pool);
    return P.size;
}

void swl_pool_run(swl_task_fn fn, void *ctx, int nth) {
    pthread_once(&pool_once, start_pool);
    if (nth > P.size) nth = P.size;
    if (nth <= 1 || in_task) {
        for (int t = 0; t < (nth < 1 ? 1 : nth); t++) fn(ctx, t, nth < 1 ? 1 : nth);
        return;
    }
    pthread_mutex_lock(&P.run_mu);
    P.fn = fn;
    P.ctx = ctx;
    P.nth = nth;
    atomic_store_explicit(&P.remaining, nth - 1, memory_order_release);
    atomic_fetch_add(&P.generation, 1);
    if (atomic_load(&P.sleepers) > 0) {
        pthread_mutex_lock(&P.sleep_mu);
        pthread_cond_broadcast(&P.sleep_cv);
        pthread_mutex_unlock(&P.sleep_mu);
    }
    in_task = 1;
    fn(ctx, 0, nth);
    in_task = 0;
    for (int spins = 0; atomic_load_explicit(&P.remaining, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ITERS) CPU_RELAX();
        else sched_yield();
    }
    pthread_mutex_unlock(&P.run_mu);
}
