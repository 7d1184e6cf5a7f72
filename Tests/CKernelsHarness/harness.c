// Standalone check and benchmark of the quantized kernels (quant.c) outside SwiftPM; see run.sh.
//   ./h check   every format x path x ISA x accumulate, M 1..64 (incl. each int8 tile remainder), odd row counts, vs dequantize + double dot;
//               int8 portable vs AVX2 agreement.  ONLY=Q4_K restricts to one format.
//   ./h dump    random blocks of each format and our dequantization to $DUMP_DIR (gguf_check.py compares).
//   ./h bench   GFLOP/s per path; THREADS=n pool size, SHAPE=0|1|2, FULLHEAD=1 for all 262144 rows;
//               ROWS=r COLS=k (REPS=n) for one shape instead.
//               K-quant rows need K % 256 == 0: K = 576 and 640 are rounded up to 768 for them.
#include "CQuant.h"
#include "CBLAS.h"
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }
static float frnd(void) { return (float)((long)(rnd() % 2001) - 1000) / 1000.0f; }
static void put16(uint8_t *p, float v) { uint16_t h = _cvtss_sh(v, 0); memcpy(p, &h, 2); }

typedef struct { int t; const char *name; int d_off, m_off; float dscale; } tinfo;
static tinfo types[] = {
    {SWL_T_Q4_0, "Q4_0", 0, -1, 0.05f}, {SWL_T_Q8_0, "Q8_0", 0, -1, 0.01f},
    {SWL_T_Q5_0, "Q5_0", 0, -1, 0.05f}, {SWL_T_Q5_1, "Q5_1", 0, 2, 0.05f}, {SWL_T_Q2_K, "Q2_K", 80, 82, 0.01f},
    {SWL_T_Q3_K, "Q3_K", 108, -1, 0.003f}, {SWL_T_Q4_K, "Q4_K", 0, 2, 0.003f}, {SWL_T_Q5_K, "Q5_K", 0, 2, 0.002f},
    {SWL_T_Q6_K, "Q6_K", 208, -1, 0.002f},
};

static void fill_blocks(const tinfo *ti, uint8_t *p, long nblocks) {
    int bb = swl_type_block_bytes(ti->t);
    for (long b = 0; b < nblocks; b++) {
        uint8_t *q = p + b * bb;
        for (int i = 0; i < bb; i++) q[i] = (uint8_t)rnd();
        put16(q + ti->d_off, ti->dscale * (0.2f + fabsf(frnd())));
        if (ti->m_off >= 0) put16(q + ti->m_off, ti->t == SWL_T_Q5_1 ? frnd() * 0.5f : ti->dscale * (0.2f + fabsf(frnd())));
    }
}

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

static int failures = 0;

static void check(const tinfo *ti, int rows, int K) {
    int t = ti->t, be = swl_type_block_elems(t), bb = swl_type_block_bytes(t);
    size_t rb = (size_t)K / be * bb;
    uint8_t *file = malloc(rb * rows), *w = aligned_alloc(64, (rb * rows + 63) / 64 * 64);
    fill_blocks(ti, file, (long)rows * K / be);
    swl_repack_rows(t, file, w, rows, K);
    swl_matrix M = {w, swl_repacked_type(t), rows, K, rb};
    float *wf = malloc(sizeof(float) * rows * K);
    swl_matrix_rows(&M, 0, rows, wf);
    int ms[] = {1, 2, 3, 4, 5, 6, 7, 14, 15, 17, 33, 64};   // 6, 7, 14, 15: the int8 tiles' 2- and 3-row remainders
    for (int mi = 0; mi < (int)(sizeof ms / sizeof ms[0]); mi++) {
        int m = ms[mi];
        float *x = malloc(sizeof(float) * m * K), *y = malloc(sizeof(float) * m * rows), *y0 = malloc(sizeof(float) * m * rows);
        double *ref = malloc(sizeof(double) * m * rows);
        for (int i = 0; i < m * K; i++) x[i] = frnd();
        double scale = 1e-3;
        for (int r = 0; r < m; r++)
            for (int n = 0; n < rows; n++) {
                double s = 0;
                for (int k = 0; k < K; k++) s += (double)wf[(size_t)n * K + k] * x[(size_t)r * K + k];
                ref[r * rows + n] = s;
                if (fabs(s) > scale) scale = fabs(s);
            }
        for (int isa = 0; isa <= swl_isa_best(); isa++) {
            swl_isa_set(isa);
            for (int path = 1; path <= 3; path++)
                for (int acc = 0; acc < 2; acc++) {
                    for (int i = 0; i < m * rows; i++) y[i] = acc ? 0.25f : 99.0f;
                    swl_linear_path(&M, x, K, m, y, rows, acc, path);
                    double err = 0;
                    for (int i = 0; i < m * rows; i++) {
                        double e = fabs((double)y[i] - (acc ? 0.25 : 0) - ref[i]);
                        if (!(e <= err)) err = e;
                    }
                    err /= scale;
                    double tol = path == 3 ? 2e-2 : 1e-5;
                    if (!(err < tol)) { failures++; printf("FAIL %s rows=%d K=%d M=%d isa=%d path=%d acc=%d err=%g\n", ti->name, rows, K, m, isa, path, acc, err); }
                    else if (path == 3 && acc == 0 && m == 17) printf("  ok %s K=%d M=%d isa=%d int8 err=%.2e\n", ti->name, K, m, isa, err);
                }
            // int8 portable vs avx2 agreement
        }
        if (swl_isa_best() > 0) {
            swl_isa_set(0); swl_linear_path(&M, x, K, m, y0, rows, 0, 3);
            swl_isa_set(1); swl_linear_path(&M, x, K, m, y, rows, 0, 3);
            for (int i = 0; i < m * rows; i++)
                if (fabsf(y[i] - y0[i]) > 1e-4f * fmaxf(1, fabsf(y0[i]))) { failures++; printf("FAIL int8 portable/avx2 %s M=%d i=%d %g %g\n", ti->name, m, i, y0[i], y[i]); break; }
        }
        free(x); free(y); free(y0); free(ref);
    }
    free(file); free(w); free(wf);
}

static void dump(const tinfo *ti, int nblocks) {
    int be = swl_type_block_elems(ti->t), bb = swl_type_block_bytes(ti->t);
    uint8_t *p = malloc((size_t)nblocks * bb);
    fill_blocks(ti, p, nblocks);
    float *o = malloc(sizeof(float) * nblocks * be);
    swl_dequant(ti->t, p, o, (long)nblocks * be);
    char fn[256];
    const char *dir = getenv("DUMP_DIR") ? getenv("DUMP_DIR") : "/tmp";
    snprintf(fn, sizeof fn, "%s/dump_%s.bin", dir, ti->name);
    FILE *f = fopen(fn, "wb"); fwrite(p, bb, nblocks, f); fclose(f);
    snprintf(fn, sizeof fn, "%s/dump_%s.f32", dir, ti->name);
    f = fopen(fn, "wb"); fwrite(o, sizeof(float), (size_t)nblocks * be, f); fclose(f);
    free(p); free(o);
}

static void bench(const tinfo *ti, int rows, int K, int m, int path, int reps) {
    int t = ti->t, be = swl_type_block_elems(t), bb = swl_type_block_bytes(t);
    size_t rb = (size_t)K / be * bb;
    uint8_t *w = aligned_alloc(64, (rb * rows + 63) / 64 * 64);
    fill_blocks(ti, w, (long)rows * K / be);
    uint8_t *w2 = aligned_alloc(64, (rb * rows + 63) / 64 * 64);
    swl_repack_rows(t, w, w2, rows, K);
    swl_matrix M = {w2, swl_repacked_type(t), rows, K, rb};
    float *x = malloc(sizeof(float) * m * K), *y = malloc(sizeof(float) * m * rows);
    for (int i = 0; i < m * K; i++) x[i] = frnd();
    swl_linear_path(&M, x, K, m, y, rows, 0, path);
    double dt = 1e30;
    for (int b = 0; b < 5; b++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) swl_linear_path(&M, x, K, m, y, rows, 0, path);
        double e = (now() - t0) / reps;
        if (e < dt) dt = e;
    }
    printf("bench %s %dx%d M=%d path=%s: %.3f ms  %.1f GFLOP/s  %.1f GB/s weights\n", ti->name, rows, K, m,
           path == 1 ? "gemv" : path == 2 ? "panel" : "int8", dt * 1e3, 2.0 * m * rows * K / dt * 1e-9, rb * rows / dt * 1e-9);
    free(w); free(w2); free(x); free(y);
}

int main(int argc, char **argv) {
    if (swl_blas_load() != 0) { printf("blas: %s\n", swl_blas_error()); return 1; }
    swl_blas_set_threads(1);
    if (getenv("THREADS")) swl_pool_init(atoi(getenv("THREADS")));
    const char *mode = argc > 1 ? argv[1] : "check";
    int nt = sizeof types / sizeof types[0];
    if (!strcmp(mode, "check")) {
        for (int i = 0; i < nt; i++) {
            const char *only = getenv("ONLY");
            if (only && strcmp(only, types[i].name)) continue;
            int be = swl_type_block_elems(types[i].t);
            if (be == 256) { check(&types[i], 37, 256); check(&types[i], 13, 768); check(&types[i], 9, 2560); check(&types[i], 40, 1536); check(&types[i], 19, 1024); }
            else { check(&types[i], 37, 96); check(&types[i], 13, 544); check(&types[i], 8, 256); }
        }
        printf("%d failures\n", failures);
        return failures != 0;
    }
    if (!strcmp(mode, "dump")) { for (int i = 0; i < nt; i++) dump(&types[i], 64); return 0; }
    if (!strcmp(mode, "bench")) {
        swl_isa_set(swl_isa_best());
        if (getenv("ROWS") && getenv("COLS")) {   // one shape: ROWS=2048 COLS=640 ONLY=Q5_0, M = 1, 4, 8, 16, 32, 64
            int rows = atoi(getenv("ROWS")), K = atoi(getenv("COLS")), reps = getenv("REPS") ? atoi(getenv("REPS")) : 20;
            for (int i = 0; i < nt; i++) {
                if (getenv("ONLY") && !strstr(getenv("ONLY"), types[i].name)) continue;
                if (K % swl_type_block_elems(types[i].t)) continue;
                bench(&types[i], rows, K, 1, 1, reps);
                for (int m = 1; m <= 64; m = m < 4 ? 4 : m * 2) bench(&types[i], rows, K, m, 3, reps);
            }
            return 0;
        }
        for (int i = 0; i < nt; i++) {
            const char *only = getenv("ONLY");
            if (only && !strstr(only, types[i].name)) continue;
            int R[3] = {1536, 576, getenv("FULLHEAD") ? 262144 : 262144 / 4}, C[3] = {576 / 32 * 32, 1536, 640};
            for (int s = 0; s < 3; s++) {
                int K = C[s];
                if (swl_type_block_elems(types[i].t) == 256 && K % 256) K = (K / 256 + 1) * 256;
                int reps = s == 2 ? 2 : 100;
                if (getenv("SHAPE") && atoi(getenv("SHAPE")) != s) continue;
                bench(&types[i], R[s], K, 1, 1, reps);
                bench(&types[i], R[s], K, 4, 1, reps);
                bench(&types[i], R[s], K, 1, 3, reps);
                bench(&types[i], R[s], K, 4, 3, reps);
                for (int m = 8; m <= 64; m *= 2) bench(&types[i], R[s], K, m, 3, reps / 4 + 1);
                bench(&types[i], R[s], K, 64, 2, reps / 4 + 1);
            }
        }
    }
    return 0;
}
