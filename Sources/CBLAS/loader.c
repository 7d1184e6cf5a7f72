#define _GNU_SOURCE
#include "CBLAS.h"
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cpuid.h>

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         float, const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*sgemv_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float, const float *, blasint,
                         const float *, blasint, float, float *, blasint);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*corename_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512] = "OpenBLAS not loaded yet";
static char chosen[32] = "";
static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static corename_fn p_corename;

/// True when the CPU and the OS support the AVX-512 subsets OpenBLAS's SkylakeX kernels use.
static int has_avx512_skx(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (!(f && dq && cd && bw && vl)) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1)) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6; /* XMM, YMM, opmask, ZMM state enabled */
}

static int has_avx512_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;
}

static int has_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1;
}

static void do_load(void) {
    if (getenv("OPENBLAS_CORETYPE") == NULL) {
        /* OpenBLAS picks Haswell (or worse) for CPUs newer than it knows; AVX-512 CPUs run the
           SkylakeX SGEMM kernels about twice as fast. Leave known-good choices alone otherwise. */
        if (has_avx512_skx()) strcpy(chosen, has_avx512_bf16() ? "Cooperlake" : "SkylakeX");
        else if (has_avx2()) strcpy(chosen, "Haswell");
        if (chosen[0]) setenv("OPENBLAS_CORETYPE", chosen, 0);
    }
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.3.21.so", NULL};
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load OpenBLAS (install libopenblas-dev): %s", dlerror());
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    p_sgemv = (sgemv_fn)dlsym(h, "cblas_sgemv");
    p_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    p_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    p_corename = (corename_fn)dlsym(h, "openblas_get_corename");
    if (!p_sgemm || !p_sgemv) {
        snprintf(load_error, sizeof load_error, "OpenBLAS library lacks cblas_sgemm/cblas_sgemv");
        return;
    }
    load_status = 0;
    load_error[0] = 0;
    // Swiftlet's compute pool (CQuant.h) owns the cores: OpenBLAS runs single-threaded inside its workers, so the two
    // never oversubscribe them.
    if (p_set_threads) p_set_threads(1);
}

int swl_blas_load(void) { pthread_once(&once, do_load); return load_status; }
const char *swl_blas_error(void) { return load_error; }
const char *swl_blas_chosen_coretype(void) { return chosen; }
const char *swl_blas_corename(void) {
    if (swl_blas_load() != 0 || !p_corename) return "unknown";
    return p_corename();
}
void swl_blas_set_threads(int n) { if (swl_blas_load() == 0 && p_set_threads) p_set_threads(n); }
int swl_blas_get_threads(void) { return (swl_blas_load() == 0 && p_get_threads) ? p_get_threads() : 1; }

void swl_sgemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    p_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void swl_sgemv(int transA, int M, int N, float alpha, const float *A, int lda,
               const float *x, float beta, float *y) {
    p_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda, x, 1, beta, y, 1);
}
