#include "CKernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && !defined(SWL_NO_CLONES)
#define MULTI __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTI
#endif

#define LANES 16
// Decode attention prefetches the tiles of block b + PF_DIST into L2 (locality PF_LOC) while scoring block b:
// tiles are 4 KiB pages scattered over the pool, where the hardware prefetchers do not follow.
#ifndef PF_DIST
#define PF_DIST 1
#endif
#ifndef PF_LOC
#define PF_LOC 2
#endif
#pragma clang diagnostic ignored "-Wpsabi"

MULTI float swl_dot(const float *a, const float *b, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0;
    for (int j = 0; j < LANES; j++) s += acc[j];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

MULTI void swl_axpy(float w, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += w * x[i];
}

/// Cephes-style expf: relative error below 2e-7; inputs clamped to the normal range.
static inline float fast_exp(float x) {
    x = x < -87.33f ? -87.33f : (x > 88.37f ? 88.37f : x);
    float fn = x * 1.44269504f;
    fn = fn >= 0 ? (float)(int)(fn + 0.5f) : (float)(int)(fn - 0.5f);
    float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

MULTI float swl_exp_shifted_sum(float *x, int n, float shift) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) { float e = fast_exp(x[i + j] - shift); x[i + j] = e; acc[j] += e; }
    float s = 0;
    for (int j = 0; j < LANES; j++) s += acc[j];
    for (; i < n; i++) { float e = fast_exp(x[i] - shift); x[i] = e; s += e; }
    return s;
}

MULTI float swl_max(const float *x, int n) {
    float acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = -INFINITY;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = -INFINITY;
    for (int j = 0; j < LANES; j++) m = acc[j] > m ? acc[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

MULTI void swl_softmax(float *x, int n) {
    float m = swl_max(x, n);
    float s = swl_exp_shifted_sum(x, n, m);
    float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

MULTI void swl_swiglu(const float *g, const float *u, float *out, int n) {
    for (int i = 0; i < n; i++) out[i] = g[i] / (1.0f + fast_exp(-g[i])) * u[i];
}

/// gelu_tanh(x) = 0.5·x·(1 + tanh(y)) with y = √(2/π)·(x + 0.044715·x³), computed as x·σ(2y) (the same function:
/// 0.5·(1 + tanh y) = σ(2y)), so one fast_exp per element.
MULTI void swl_geglu(const float *g, const float *u, float *out, int n) {
    for (int i = 0; i < n; i++) {
        float x = g[i], y2 = 1.5957691216057308f * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + fast_exp(-y2)) * u[i];
    }
}

MULTI void swl_add(const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += x[i];
}

MULTI void swl_scale(float *x, float s, int n) {
    for (int i = 0; i < n; i++) x[i] *= s;
}

MULTI void swl_softcap(float *x, float cap, int n) {
    float inv = 1.0f / cap;
    for (int i = 0; i < n; i++) x[i] = cap * tanhf(x[i] * inv);
}

MULTI void swl_rmsnorm(const float *x, const float *w, float *out, int n, float eps) {
    float ss = swl_dot(x, x, n) / (float)n;
    float scale = 1.0f / sqrtf(ss + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int32_t v16i __attribute__((vector_size(64)));
#define ld16(p) (*(const v16u *)(p))
#define st16(p, x) (*(v16u *)(p) = (x))

// ---- Paged KV layout -------------------------------------------------------------------------------------------
// Per layer, block b holds for each KV head g (all offsets in floats):
//   K at kPool + (b·nKVHeads + g)·headDim·blockSize, transposed: [headDim][blockSize]
//   V at vPool + (b·nKVHeads + g)·blockSize·headDim, row per slot: [blockSize][headDim]
// so one (block, KV head) is two contiguous tiles, and the scores of a block's 16 slots are headDim vector FMAs.

void swl_kv_store(const float *k, const float *v, float *kPool, float *vPool, int block, int slot, int blockSize,
                  int nKVHeads, int headDim) {
    long tile = (long)headDim * blockSize;
    for (int g = 0; g < nKVHeads; g++) {
        float *kt = kPool + ((long)block * nKVHeads + g) * tile + slot;
        const float *kg = k + g * headDim;
        for (int d = 0; d < headDim; d++) kt[(long)d * blockSize] = kg[d];
        memcpy(vPool + ((long)block * nKVHeads + g) * tile + (long)slot * headDim, v + g * headDim,
               sizeof(float) * headDim);
    }
}

void swl_kv_gather(const float *kPool, const float *vPool, const int *table, int n, int blockSize, int nKVHeads,
                   int headDim, int g, float *kT, float *vc) {
    long tile = (long)headDim * blockSize;
    for (int b = 0; b * blockSize < n; b++) {
        int count = n - b * blockSize < blockSize ? n - b * blockSize : blockSize;
        const float *kt = kPool + ((long)table[b] * nKVHeads + g) * tile;
        const float *vt = vPool + ((long)table[b] * nKVHeads + g) * tile;
        for (int d = 0; d < headDim; d++)
            memcpy(kT + (long)d * n + b * blockSize, kt + (long)d * blockSize, sizeof(float) * count);
        memcpy(vc + (long)b * blockSize * headDim, vt, sizeof(float) * count * headDim);
    }
}

int swl_fetch_add(int *counter, int value) { return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED); }

// ---- Decode attention ------------------------------------------------------------------------------------------

/// exp of 16 lanes, as fast_exp (Cephes polynomial, relative error below 2e-7).
static inline __attribute__((always_inline)) v16 vexp(v16 x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, (v16){0} - 87.33f), (v16){0} + 88.37f);
    const v16 magic = (v16){0} + 12582912.0f;   // 1.5·2^23: adding and subtracting it rounds to nearest
    v16 fn = (x * 1.44269504f + magic) - magic;
    v16 r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
    v16 p = (v16){0} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    v16i e = (__builtin_convertvector(fn, v16i) + 127) << 23;
    return p * (v16)e;
}

static inline __attribute__((always_inline)) float hsum16(v16 x) {
    typedef float v8 __attribute__((vector_size(32)));
    typedef float v4 __attribute__((vector_size(16)));
    v8 a = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
    v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    return (b[0] + b[2]) + (b[1] + b[3]);
}

/// Attention of the G query heads of one KV head over positions lo..<n, block size 16, head size HD (64, 128 or 256,
/// a constant at each call so the loops unroll), one pass with an online softmax per block; the next block's tiles are
/// prefetched while this one is scored. q: [G][HD] (unscaled); out: [G][HD]. At HD 64 the accumulators stay in
/// registers; at 256 they live in L1, still far ahead of the strided scalar loop of group_generic.
static inline __attribute__((always_inline)) void
group16(const int G, const int HD, const float *restrict q, float *restrict out, int lo, int n,
        const int *restrict table, const float *restrict kPool, const float *restrict vPool, int nKVHeads, int g,
        float scale) {
    enum { BS = 16, MAXHD = 256 };
    const int R = HD / 16;
    const long TILE = (long)HD * BS;
    float qs[8][MAXHD];
    float pw[8][BS];
    v16 acc[8][MAXHD / 16], m[8], l[8];
    for (int h = 0; h < G; h++) {
        for (int d = 0; d < HD; d++) qs[h][d] = q[h * HD + d] * scale;
        for (int r = 0; r < R; r++) acc[h][r] = (v16){0};
        m[h] = (v16){0} - INFINITY; l[h] = (v16){0};
    }
    const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    int nBlocks = (n + BS - 1) / BS;
    for (int b = lo / BS; b < nBlocks; b++) {
        int count = n - b * BS < BS ? n - b * BS : BS;
        const float *kt = kPool + ((long)table[b] * nKVHeads + g) * TILE;
        const float *vt = vPool + ((long)table[b] * nKVHeads + g) * TILE;
        const char *nk = (const char *)(kPool + ((long)table[b + PF_DIST < nBlocks ? b + PF_DIST : b] * nKVHeads + g) * TILE);
        const char *nv = (const char *)(vPool + ((long)table[b + PF_DIST < nBlocks ? b + PF_DIST : b] * nKVHeads + g) * TILE);
        v16 s[8];
        for (int h = 0; h < G; h++) s[h] = (v16){0};
        for (int d = 0; d < HD; d++) {
            v16 kd = ld16(kt + d * BS);
            __builtin_prefetch(nk + d * 64, 0, PF_LOC); __builtin_prefetch(nv + d * 64, 0, PF_LOC);
            for (int h = 0; h < G; h++) s[h] += qs[h][d] * kd;
        }
        v16i live = (lane < count) & (lane >= lo - b * BS);
        for (int h = 0; h < G; h++) {
            v16 sh = (v16)(((v16i)s[h] & live) | ((v16i)((v16){0} - INFINITY) & ~live));
            v16 mNew = __builtin_elementwise_max(m[h], (v16){0} + __builtin_reduce_max(sh));
            v16 alpha = vexp(m[h] - mNew);
            v16 p = (v16)((v16i)vexp(sh - mNew) & live);
            l[h] = l[h] * alpha + hsum16(p);
            m[h] = mNew;
            for (int r = 0; r < R; r++) acc[h][r] *= alpha;
            st16(pw[h], p);
        }
        for (int j = lo > b * BS ? lo - b * BS : 0; j < count; j++) {
            const float *vp = vt + j * HD;
            for (int r = 0; r < R; r++) {
                v16 vr = ld16(vp + r * 16);
                for (int h = 0; h < G; h++) acc[h][r] += pw[h][j] * vr;
            }
        }
    }
    for (int h = 0; h < G; h++) {
        v16 inv = 1.0f / l[h];
        for (int r = 0; r < R; r++) st16(out + h * HD + r * 16, acc[h][r] * inv);
    }
}

/// Any block size and head size: scores into `s` (n floats per head), softmax, then the weighted values.
static void group_generic(int G, const float *q, float *out, int lo, int n, const int *table, const float *kPool,
                          const float *vPool, int blockSize, int nKVHeads, int g, int headDim, float scale,
                          float *s) {
    long tile = (long)headDim * blockSize;
    int m = n - lo;
    for (int h = 0; h < G; h++) {
        const float *qh = q + h * headDim;
        float *oh = out + h * headDim;
        for (int p = lo; p < n; p++) {
            const float *kt = kPool + ((long)table[p / blockSize] * nKVHeads + g) * tile + p % blockSize;
            float dot = 0;
            for (int d = 0; d < headDim; d++) dot += qh[d] * kt[(long)d * blockSize];
            s[p - lo] = dot * scale;
        }
        float mx = swl_max(s, m);
        float inv = 1.0f / swl_exp_shifted_sum(s, m, mx);
        for (int d = 0; d < headDim; d++) oh[d] = 0;
        for (int p = lo; p < n; p++) {
            const float *vp = vPool + ((long)table[p / blockSize] * nKVHeads + g) * tile + (long)(p % blockSize) * headDim;
            float w = s[p - lo];
            for (int d = 0; d < headDim; d++) oh[d] += w * vp[d];
        }
        for (int d = 0; d < headDim; d++) oh[d] *= inv;
    }
}

MULTI void swl_attention_window(const float *q, float *out, int lo, int n, const int *table, const float *k,
                                const float *v, int blockSize, int nKVHeads, int g, int group, int headDim,
                                float scale, float *scores) {
    if (lo < 0) lo = 0;
    if (lo >= n) lo = n - 1;
    if (blockSize == 16 && headDim == 64) {
        switch (group) {   // a constant head count keeps the accumulators in registers
        case 1: group16(1, 64, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        case 2: group16(2, 64, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        case 3: group16(3, 64, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        case 4: group16(4, 64, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        default: if (group <= 8) { group16(group, 64, q, out, lo, n, table, k, v, nKVHeads, g, scale); return; }
        }
    }
    if (blockSize == 16 && (headDim == 128 || headDim == 256) && group <= 8) {
        if (headDim == 256) {
            switch (group) {
            case 1: group16(1, 256, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
            case 2: group16(2, 256, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
            case 4: group16(4, 256, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
            default: group16(group, 256, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
            }
        }
        switch (group) {
        case 1: group16(1, 128, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        case 2: group16(2, 128, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        case 4: group16(4, 128, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        default: group16(group, 128, q, out, lo, n, table, k, v, nKVHeads, g, scale); return;
        }
    }
    group_generic(group, q, out, lo, n, table, k, v, blockSize, nKVHeads, g, headDim, scale, scores);
}

void swl_attention_group(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                         int blockSize, int nKVHeads, int g, int group, int headDim, float scale, float *scores) {
    swl_attention_window(q, out, 0, n, table, k, v, blockSize, nKVHeads, g, group, headDim, scale, scores);
}

void swl_attention_token(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                         int blockSize, int nHeads, int nKVHeads, int headDim, float scale, float *scores) {
    int group = nHeads / nKVHeads;
    for (int g = 0; g < nKVHeads; g++)
        swl_attention_group(q + g * group * headDim, out + g * group * headDim, n, table, k, v, blockSize, nKVHeads,
                            g, group, headDim, scale, scores);
}
