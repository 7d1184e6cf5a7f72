// What this machine can do, for reading the engine's benchmarks against (scripts/hwprobe.sh builds and runs it):
// peak fp32 FMA, bf16 dot-product and int8 VNNI throughput, sequential read bandwidth, and OpenBLAS SGEMM at
// the shapes of SmolLM2-135M's projections (W stored [N][K] as the engine stores it: C = X · Wᵀ).
#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define ITERS 100000000L

__attribute__((target("avx512f"))) static void *fma_loop(void *out) {
    __m512 acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(i * 0.1f);
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
    for (long i = 0; i < ITERS / 12; i++) for (int j = 0; j < 12; j++) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
    float s = 0; for (int j = 0; j < 12; j++) s += _mm512_reduce_add_ps(acc[j]); *(float *)out = s; return NULL;
}
__attribute__((target("avx512f,avx512bf16"))) static void *bf16_loop(void *out) {
    __m512 acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(i * 0.1f);
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3a80);
    for (long i = 0; i < ITERS / 12; i++) for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
    float s = 0; for (int j = 0; j < 12; j++) s += _mm512_reduce_add_ps(acc[j]); *(float *)out = s; return NULL;
}
__attribute__((target("avx512f,avx512vnni"))) static void *vnni_loop(void *out) {
    __m512i acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_epi32(i);
    __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
    for (long i = 0; i < ITERS / 12; i++) for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, y);
    int s = 0; for (int j = 0; j < 12; j++) s += _mm512_reduce_add_epi32(acc[j]); *(float *)out = (float)s; return NULL;
}

// AVX2 machines (e.g. AMD Zen 3): 256-bit FMA, and the int8 dot product llama.cpp and Swiftlet use there
// (vpmaddubsw u8 x s8 -> i16 pairs, vpmaddwd with ones -> i32: 32 multiply-adds per pair of instructions).
__attribute__((target("avx2,fma"))) static void *fma_loop256(void *out) {
    __m256 acc[12]; for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(i * 0.1f);
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.001f);
    for (long i = 0; i < ITERS / 12; i++) for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
    float s = 0; for (int j = 0; j < 12; j++) { float t[8]; _mm256_storeu_ps(t, acc[j]); for (int k = 0; k < 8; k++) s += t[k]; }
    *(float *)out = s; return NULL;
}
__attribute__((target("avx2"))) static void *int8_loop256(void *out) {
    __m256i acc[8]; for (int i = 0; i < 8; i++) acc[i] = _mm256_set1_epi32(i);
    __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
    for (long i = 0; i < ITERS / 8; i++) {
        for (int j = 0; j < 8; j++) {
            __asm__ volatile("" : "+x"(x));   // a fresh product each time (no hoisting)
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
        }
    }
    int s = 0; for (int j = 0; j < 8; j++) s += _mm256_extract_epi32(acc[j], 0); *(float *)out = (float)s; return NULL;
}

static float *buf; static long buf_n; static int nthreads;
__attribute__((target("avx2"))) static void *read_loop256(void *arg) {
    long id = *(long *)arg, part = buf_n / nthreads; const float *p = buf + id * part;
    __m256 s[8]; for (int k = 0; k < 8; k++) s[k] = _mm256_setzero_ps();
    for (int r = 0; r < 5; r++)
        for (long i = 0; i + 64 <= part; i += 64) for (int k = 0; k < 8; k++) s[k] = _mm256_add_ps(s[k], _mm256_load_ps(p + i + 8 * k));
    __m256 t = s[0]; for (int k = 1; k < 8; k++) t = _mm256_add_ps(t, s[k]);
    float o[8]; _mm256_storeu_ps(o, t); *(float *)arg = o[0]; return NULL;
}
__attribute__((target("avx512f"))) static void *read_loop(void *arg) {
    long id = *(long *)arg, part = buf_n / nthreads; const float *p = buf + id * part;
    __m512 s[8]; for (int k = 0; k < 8; k++) s[k] = _mm512_setzero_ps();
    for (int r = 0; r < 5; r++)
        for (long i = 0; i + 128 <= part; i += 128) for (int k = 0; k < 8; k++) s[k] = _mm512_add_ps(s[k], _mm512_load_ps(p + i + 16 * k));
    __m512 t = s[0]; for (int k = 1; k < 8; k++) t = _mm512_add_ps(t, s[k]);
    *(float *)arg = _mm512_reduce_add_ps(t); return NULL;
}

static double run_threads(void *(*f)(void *), int n) {
    pthread_t t[64]; long arg[64]; double t0 = now();
    for (int i = 0; i < n; i++) { arg[i] = i; pthread_create(&t[i], NULL, f, &arg[i]); }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    return now() - t0;
}

int main(void) {
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN); if (cores > 64) cores = 64;
    printf("cores: %d\n", cores);
    if (__builtin_cpu_supports("avx512f")) {
        printf("fp32 FMA peak (AVX-512, %d threads): %.0f GFLOP/s\n", cores, ITERS * 32.0 * cores / run_threads(fma_loop, cores) / 1e9);
        if (__builtin_cpu_supports("avx512bf16"))
            printf("bf16 dot peak (vdpbf16ps):          %.0f GFLOP/s\n", ITERS * 64.0 * cores / run_threads(bf16_loop, cores) / 1e9);
        if (__builtin_cpu_supports("avx512vnni"))
            printf("int8 dot peak (vpdpbusd):           %.0f GOP/s\n", ITERS * 128.0 * cores / run_threads(vnni_loop, cores) / 1e9);
        buf_n = 540L * 1024 * 1024 / 4;   // the size of SmolLM2-135M's fp32 weights
        buf = mmap(NULL, buf_n * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(buf, buf_n * 4, MADV_HUGEPAGE);
        for (long i = 0; i < buf_n; i++) buf[i] = 1;
        for (nthreads = 1; nthreads <= cores; nthreads *= 2)
            printf("read bandwidth (%d threads):         %.1f GB/s\n", nthreads, buf_n * 4.0 * 5 / run_threads(read_loop, nthreads) / 1e9);
    } else if (__builtin_cpu_supports("avx2")) {
        printf("fp32 FMA peak (AVX2, %d threads):    %.0f GFLOP/s\n", cores, ITERS * 16.0 * cores / run_threads(fma_loop256, cores) / 1e9);
        printf("int8 dot peak (vpmaddubsw+vpmaddwd): %.0f GOP/s\n", ITERS * 64.0 * cores / run_threads(int8_loop256, cores) / 1e9);
        buf_n = 540L * 1024 * 1024 / 4;
        buf = mmap(NULL, buf_n * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(buf, buf_n * 4, MADV_HUGEPAGE);
        for (long i = 0; i < buf_n; i++) buf[i] = 1;
        for (nthreads = 1; nthreads <= cores; nthreads *= 2)
            printf("read bandwidth (%d threads):         %.1f GB/s\n", nthreads, buf_n * 4.0 * 5 / run_threads(read_loop256, nthreads) / 1e9);
    } else {
        printf("no AVX2: peak and bandwidth probes skipped\n");
    }
    // OpenBLAS SGEMM at the model's shapes (hot caches: the best case; in decode the weights come from memory).
    const int ms[] = {1, 8, 32, 64, 512};
    const int shapes[][3] = {{960, 576, 0}, {3072, 576, 0}, {576, 1536, 0}, {576, 576, 0}, {49152, 576, 0}};
    const char *names[] = {"qkv", "gate_up", "down", "wo", "lm_head"};
    float *w = malloc(4L * 49152 * 1536), *x = malloc(4L * 512 * 1536), *c = malloc(4L * 512 * 49152);
    for (long i = 0; i < 49152L * 1536; i++) w[i] = (float)(i % 7) * 0.01f;
    for (long i = 0; i < 512L * 1536; i++) x[i] = (float)(i % 5) * 0.1f;
    printf("OpenBLAS %s, SGEMM GFLOP/s (best of 5) by rows M:\n%-8s", openblas_get_config(), "shape");
    for (int mi = 0; mi < 5; mi++) printf("%8d", ms[mi]);
    printf("\n");
    for (int s = 0; s < 5; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        printf("%-8s", names[s]);
        for (int mi = 0; mi < 5; mi++) {
            int m = ms[mi]; double best = 1e9;
            for (int r = 0; r < 5; r++) {
                double t0 = now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, x, k, w, k, 0, c, n);
                double dt = now() - t0; if (dt < best) best = dt;
            }
            printf("%8.0f", 2.0 * m * n * k / best / 1e9);
        }
        printf("\n");
    }
    return 0;
}
