// Weight formats and the matmul over them: block geometry, dequantization, and swl_linear's kernel paths
// (streaming GEMV on fp32 activations, dequantized panel + SGEMM, int8 dot products), each per ISA level.
#include "CQuant.h"
#include "CBLAS.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define SWL_X86 1
#endif
#pragma clang diagnostic ignored "-Wpsabi"

// ---------------------------------------------------------------------------------------------------------
// Geometry and scalar conversion

int swl_type_block_elems(int t) {
    switch (t & 0xFF) {
    case SWL_T_F32: case SWL_T_F16: case SWL_T_BF16: return 1;
    case SWL_T_Q4_0: case SWL_T_Q4_1: case SWL_T_Q5_0: case SWL_T_Q5_1: case SWL_T_Q8_0: return 32;
    case SWL_T_Q2_K: case SWL_T_Q3_K: case SWL_T_Q4_K: case SWL_T_Q5_K: case SWL_T_Q6_K: return 256;
    default: return 0;
    }
}

int swl_type_block_bytes(int t) {
    switch (t & 0xFF) {
    case SWL_T_F32: return 4;
    case SWL_T_F16: case SWL_T_BF16: return 2;
    case SWL_T_Q4_0: return 18;
    case SWL_T_Q4_1: return 20;
    case SWL_T_Q5_0: return 22;    // f16 d, qh[4] (the 5th bits), qs[16]
    case SWL_T_Q5_1: return 24;    // f16 d, f16 m, qh[4], qs[16]
    case SWL_T_Q8_0: return 34;
    case SWL_T_Q2_K: return 84;    // scales[16], qs[64], f16 d, f16 dmin
    case SWL_T_Q3_K: return 110;   // hmask[32], qs[64], scales[12], f16 d
    case SWL_T_Q4_K: return 144;   // f16 d, f16 dmin, scales[12], qs[128]
    case SWL_T_Q5_K: return 176;   // f16 d, f16 dmin, scales[12], qh[32], qs[128]
    case SWL_T_Q6_K: return 210;   // ql[128], qh[64], int8 scales[16], f16 d
    default: return 0;
    }
}

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static inline float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {   // subnormal: renormalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float bf2f(uint16_t b) { uint32_t bits = (uint32_t)b << 16; float f; memcpy(&f, &bits, 4); return f; }

// ---------------------------------------------------------------------------------------------------------
// Q5_0/Q5_1 and the K-quants (ggml's layouts, kept as in the file). The kernels unpack a *unit* of a row at a time:
// 256 elements, one super-block (K-quants) or 8 blocks (Q5_x; fewer in the last unit of a row), into int8 quants in
// element order plus per-sub-block scales, so that one body per kernel serves every format of a class:
//   A  unsigned q, 32-element sub-blocks, w = sc·q − mn        (Q5_0: mn = 16d; Q5_1: mn = −m; Q4_K, Q5_K)
//   B  signed q, 16-element sub-blocks, w = sc·q, sc = d·isc    (Q6_K: q − 32; Q3_K)
//   C  unsigned q, 16-element sub-blocks, w = sc·q − mn, sc = d·isc, mn = dmin·imn   (Q2_K)

enum { KC_NONE = 0, KC_A = 1, KC_B = 2, KC_C = 3 };

static inline int kclass(int t) {
    switch (t) {
    case SWL_T_Q5_0: case SWL_T_Q5_1: case SWL_T_Q4_K: case SWL_T_Q5_K: return KC_A;
    case SWL_T_Q6_K: case SWL_T_Q3_K: return KC_B;
    case SWL_T_Q2_K: return KC_C;
    default: return KC_NONE;
    }
}

typedef struct {
    int8_t q[256] __attribute__((aligned(32)));
    float sc[16] __attribute__((aligned(32)));
    float mn[16] __attribute__((aligned(32)));
    int16_t isc[16], imn[16];
    float d, dmin;
    int ne;   // elements in the unit (256 but for a row's last Q5_x unit)
} kunit;

/// Q4_K/Q5_K: the 8 6-bit scales and 8 6-bit mins packed in 12 bytes (ggml's get_scale_min_k4), as bytes sc[0..8)
/// then mins [8..16).
static inline void k4_scales(const uint8_t *s, uint8_t out[16]) {
    uint32_t u[4];
    memcpy(u, s, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    uint32_t ua = u[1] & 0x3f3f3f3f;
    u[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    u[2] = ua;
    u[0] &= 0x3f3f3f3f;
    memcpy(out, u, 16);
}

/// Unit u of a row (nbq blocks of the format), every field filled (the reference unpacking).
static void unpack_portable(int t, const uint8_t *row, int nbq, int u, kunit *U) {
    memset(U->sc, 0, sizeof U->sc);
    memset(U->mn, 0, sizeof U->mn);
    U->ne = 256;
    switch (t) {
    case SWL_T_Q5_0: case SWL_T_Q5_1: {
        int bb = t == SWL_T_Q5_0 ? 22 : 24, hb = t == SWL_T_Q5_0 ? 2 : 4;
        int b0 = u * 8, nblk = nbq - b0 < 8 ? nbq - b0 : 8;
        U->ne = 32 * nblk;
        for (int i = 0; i < nblk; i++) {
            const uint8_t *p = row + (size_t)(b0 + i) * bb, *qs = p + hb + 4;
            uint32_t qh;
            memcpy(&qh, p + hb, 4);
            float d = h2f(ld16(p));
            U->sc[i] = d;
            U->mn[i] = t == SWL_T_Q5_0 ? 16.0f * d : -h2f(ld16(p + 2));
            for (int j = 0; j < 16; j++) {
                U->q[32 * i + j] = (int8_t)((qs[j] & 0xF) | ((qh >> j) & 1) << 4);
                U->q[32 * i + j + 16] = (int8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
            }
        }
        break;
    }
    case SWL_T_Q4_K: case SWL_T_Q5_K: {
        int bb = t == SWL_T_Q4_K ? 144 : 176;
        const uint8_t *p = row + (size_t)u * bb, *qh = p + 16, *qs = p + (t == SWL_T_Q4_K ? 16 : 48);
        uint8_t s[16];
        k4_scales(p + 4, s);
        U->d = h2f(ld16(p));
        U->dmin = h2f(ld16(p + 2));
        for (int i = 0; i < 8; i++) { U->sc[i] = U->d * s[i]; U->mn[i] = U->dmin * s[8 + i]; U->isc[i] = s[i]; U->imn[i] = s[8 + i]; }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
                if (t == SWL_T_Q5_K) { lo |= ((qh[l] >> (2 * c)) & 1) << 4; hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4; }
                U->q[64 * c + l] = (int8_t)lo;
                U->q[64 * c + 32 + l] = (int8_t)hi;
            }
        break;
    }
    case SWL_T_Q6_K: {
        const uint8_t *p = row + (size_t)u * 210, *ql = p, *qh = p + 128;
        const int8_t *s = (const int8_t *)(p + 192);
        U->d = h2f(ld16(p + 208));
        for (int i = 0; i < 16; i++) { U->isc[i] = s[i]; U->sc[i] = U->d * s[i]; }
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                const uint8_t a = ql[64 * n + l], b = ql[64 * n + 32 + l], h = qh[32 * n + l];
                U->q[128 * n + l] = (int8_t)(((a & 0xF) | ((h >> 0) & 3) << 4) - 32);
                U->q[128 * n + 32 + l] = (int8_t)(((b & 0xF) | ((h >> 2) & 3) << 4) - 32);
                U->q[128 * n + 64 + l] = (int8_t)(((a >> 4) | ((h >> 4) & 3) << 4) - 32);
                U->q[128 * n + 96 + l] = (int8_t)(((b >> 4) | ((h >> 6) & 3) << 4) - 32);
            }
        break;
    }
    case SWL_T_Q3_K: {   // hmask[32], qs[64], scales[12] (6-bit, biased by 32), d
        const uint8_t *p = row + (size_t)u * 110, *hm = p, *qs = p + 32;
        uint32_t a[4];
        memcpy(a, p + 96, 12);
        uint32_t tmp = a[2];
        a[2] = ((a[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
        a[3] = ((a[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
        a[0] = (a[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
        a[1] = (a[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
        const int8_t *s = (const int8_t *)a;
        U->d = h2f(ld16(p + 108));
        for (int i = 0; i < 16; i++) { U->isc[i] = (int16_t)(s[i] - 32); U->sc[i] = U->d * (float)(s[i] - 32); }
        for (int n = 0; n < 2; n++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++)
                    U->q[128 * n + 32 * j + l] =
                        (int8_t)(((qs[32 * n + l] >> (2 * j)) & 3) - ((hm[l] >> (4 * n + j)) & 1 ? 0 : 4));
        break;
    }
    case SWL_T_Q2_K: {   // scales[16] (4-bit scale | 4-bit min << 4), qs[64], d, dmin
        const uint8_t *p = row + (size_t)u * 84, *qs = p + 16;
        U->d = h2f(ld16(p + 80));
        U->dmin = h2f(ld16(p + 82));
        for (int i = 0; i < 16; i++) {
            U->isc[i] = p[i] & 0xF; U->imn[i] = p[i] >> 4;
            U->sc[i] = U->d * (float)(p[i] & 0xF); U->mn[i] = U->dmin * (float)(p[i] >> 4);
        }
        for (int n = 0; n < 2; n++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) U->q[128 * n + 32 * j + l] = (int8_t)((qs[32 * n + l] >> (2 * j)) & 3);
        break;
    }
    default: break;
    }
}

/// One block of a new format to floats (ggml's arithmetic: Q5_0 (q − 16)·d, Q5_1 q·d + m, K-quants sc·q − mn).
static void deq_new(int t, const uint8_t *p, float *o) {
    if (t == SWL_T_Q5_0 || t == SWL_T_Q5_1) {
        int hb = t == SWL_T_Q5_0 ? 2 : 4;
        uint32_t qh;
        memcpy(&qh, p + hb, 4);
        const uint8_t *qs = p + hb + 4;
        float d = h2f(ld16(p)), m = t == SWL_T_Q5_1 ? h2f(ld16(p + 2)) : 0;
        for (int j = 0; j < 16; j++) {
            int x0 = (qs[j] & 0xF) | ((qh >> j) & 1) << 4, x1 = (qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            if (t == SWL_T_Q5_0) { o[j] = (float)(x0 - 16) * d; o[j + 16] = (float)(x1 - 16) * d; }
            else { o[j] = (float)x0 * d + m; o[j + 16] = (float)x1 * d + m; }
        }
        return;
    }
    kunit U;
    unpack_portable(t, p, 1, 0, &U);
    int sh = kclass(t) == KC_A ? 5 : 4;
    if (kclass(t) == KC_B)
        for (int e = 0; e < 256; e++) o[e] = U.sc[e >> sh] * (float)U.q[e];
    else
        for (int e = 0; e < 256; e++) o[e] = U.sc[e >> sh] * (float)U.q[e] - U.mn[e >> sh];
}

/// Where block b of a row keeps its scale d, its minimum m (Q4_1) and its quants. In the file layout a block is
/// contiguous; in the R8 layout (SWL_LAYOUT_R8) each run of 8 blocks stores its 8 scales, then its 8 minimums
/// (Q4_1), then its 8 quant arrays, so the kernels convert 8 scales with one instruction. Row sizes are unchanged.
typedef struct { const uint8_t *d, *m, *qs; } blkref;

static inline int hdr_bytes(int t) { return (t & 0xFF) == SWL_T_Q4_1 ? 4 : 2; }

static inline blkref blk_at(int t, const uint8_t *row, int nb, int b) {
    int bb = swl_type_block_bytes(t), hb = hdr_bytes(t);
    blkref r;
    if (t & SWL_LAYOUT_R8) {
        int g = b >> 3, i = b & 7, gs = nb - (g << 3) < 8 ? nb - (g << 3) : 8;
        const uint8_t *base = row + (size_t)g * 8 * bb;
        r.d = base + 2 * i;
        r.m = base + 2 * gs + 2 * i;
        r.qs = base + (size_t)gs * hb + (size_t)i * (bb - hb);
    } else {
        r.d = row + (size_t)b * bb;
        r.m = r.d + 2;
        r.qs = r.d + hb;
    }
    return r;
}

/// One block (or element, for the float formats) to floats.
static inline void deq_parts(int t, blkref k, float *o) {
    switch (t & 0xFF) {
    case SWL_T_F32: memcpy(o, k.d, 4); break;
    case SWL_T_F16: o[0] = h2f(ld16(k.d)); break;
    case SWL_T_BF16: o[0] = bf2f(ld16(k.d)); break;
    case SWL_T_Q8_0: {
        float d = h2f(ld16(k.d));
        for (int j = 0; j < 32; j++) o[j] = (float)(int8_t)k.qs[j] * d;
        break;
    }
    case SWL_T_Q4_0: {   // element j < 16: low nibble of byte j; j + 16: its high nibble; x = (q - 8)·d
        float d = h2f(ld16(k.d));
        for (int j = 0; j < 16; j++) {
            o[j] = (float)((k.qs[j] & 0xF) - 8) * d;
            o[j + 16] = (float)((k.qs[j] >> 4) - 8) * d;
        }
        break;
    }
    case SWL_T_Q4_1: {   // x = q·d + m
        float d = h2f(ld16(k.d)), m = h2f(ld16(k.m));
        for (int j = 0; j < 16; j++) {
            o[j] = (float)(k.qs[j] & 0xF) * d + m;
            o[j + 16] = (float)(k.qs[j] >> 4) * d + m;
        }
        break;
    }
    default: deq_new(t & 0xFF, k.d, o); break;
    }
}

void swl_dequant(int t, const void *src, float *dst, long n) {
    int be = swl_type_block_elems(t), bb = swl_type_block_bytes(t);
    if (be == 0) return;
    const uint8_t *p = src;
    if (t == SWL_T_F32) { memcpy(dst, src, (size_t)n * 4); return; }
    int nb = (int)(n / be);
    for (int b = 0; b < nb; b++) {
        blkref k = (t & SWL_LAYOUT_R8) ? blk_at(t, p, nb, b) : (blkref){p + (size_t)b * bb, p + (size_t)b * bb + 2,
                                                                         p + (size_t)b * bb + hdr_bytes(t)};
        deq_parts(t, k, dst + (size_t)b * be);
    }
}

void swl_matrix_rows(const swl_matrix *W, int r0, int n, float *dst) {
    for (int r = 0; r < n; r++)
        swl_dequant(W->type, (const uint8_t *)W->data + (size_t)(r0 + r) * W->row_bytes, dst + (size_t)r * W->cols,
                    W->cols);
}

int swl_repacked_type(int t) {
    return (t == SWL_T_Q4_0 || t == SWL_T_Q4_1 || t == SWL_T_Q8_0) ? (t | SWL_LAYOUT_R8) : t;
}

void swl_repack_rows(int t, const void *src, void *dst, long rows, int cols) {
    int rt = swl_repacked_type(t), bb = swl_type_block_bytes(t), nb = cols / swl_type_block_elems(t), hb = hdr_bytes(t);
    size_t rb = (size_t)nb * bb;
    if (rt == t) { memcpy(dst, src, rb * rows); return; }
    for (long r = 0; r < rows; r++) {
        const uint8_t *in = (const uint8_t *)src + r * rb;
        uint8_t *out = (uint8_t *)dst + r * rb;
        for (int b = 0; b < nb; b++) {
            blkref o = blk_at(rt, out, nb, b);
            const uint8_t *i = in + (size_t)b * bb;
            memcpy((uint8_t *)o.d, i, 2);
            if (hb == 4) memcpy((uint8_t *)o.m, i + 2, 2);
            memcpy((uint8_t *)o.qs, i + hb, bb - hb);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ISA selection

static int isa_best_cached = -1, isa_default = -1;
// swl_isa_set forces an ISA for the calling thread only (the kernel is chosen on the caller's thread, before the
// pool runs it): a test forcing the portable path must not change the numerics of a model running beside it.
static _Thread_local int isa_override = -1;

int swl_isa_best(void) {
    if (isa_best_cached >= 0) return isa_best_cached;
    int best = SWL_ISA_PORTABLE;
#ifdef SWL_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        unsigned a, b, c, d;   // F16C: CPUID.1:ECX bit 29
        if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1)) best = SWL_ISA_AVX2;
    }
#endif
    isa_best_cached = best;
    return best;
}

static int isa_clamp(int isa) {
    int best = swl_isa_best();
    return isa < 0 ? 0 : (isa > best ? best : isa);
}

int swl_isa_set(int isa) {
    isa_override = isa_clamp(isa);
    return isa_override;
}

int swl_isa_get(void) {
    if (isa_override >= 0) return isa_override;
    if (isa_default < 0) {   // the process default: SWIFTLET_ISA, else the best the CPU runs (a benign race)
        const char *e = getenv("SWIFTLET_ISA");
        int want = swl_isa_best();
        if (e && !strcmp(e, "portable")) want = SWL_ISA_PORTABLE;
        else if (e && !strcmp(e, "avx2")) want = SWL_ISA_AVX2;
        isa_default = isa_clamp(want);
    }
    return isa_default;
}

// ---------------------------------------------------------------------------------------------------------
// Activation preparation: per-row, per-32-block sums (exact Q4 paths) and int8 quantization (fast paths).

typedef struct {
    int M, K, nb;
    const float *X;
    int ldx;
    float *xsum;      // [M][nb] Σ x over the block (exact) or d·Σq (int8)
    int8_t *xq;       // [M][K]
    float *xd;        // [M][nb]
} act_t;

static void act_sums(act_t *a, int r) {
    const float *x = a->X + (size_t)r * a->ldx;
    float *s = a->xsum + (size_t)r * a->nb;
    for (int b = 0; b < a->nb; b++) {
        float acc = 0;
        for (int j = 0; j < 32; j++) acc += x[b * 32 + j];
        s[b] = acc;
    }
}

static void act_quant_portable(act_t *a, int r) {
    const float *x = a->X + (size_t)r * a->ldx;
    int8_t *q = a->xq + (size_t)r * a->K;
    for (int b = 0; b < a->nb; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) { float v = fabsf(x[b * 32 + j]); amax = v > amax ? v : amax; }
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int v = (int)lrintf(x[b * 32 + j] * id);
            v = v > 127 ? 127 : (v < -127 ? -127 : v);
            q[b * 32 + j] = (int8_t)v;
            sum += v;
        }
        a->xd[(size_t)r * a->nb + b] = d;
        a->xsum[(size_t)r * a->nb + b] = d * (float)sum;
    }
}

#ifdef SWL_X86
__attribute__((target("avx2,fma,f16c")))
static void act_quant_avx2(act_t *a, int r) {
    const float *x = a->X + (size_t)r * a->ldx;
    int8_t *q = a->xq + (size_t)r * a->K;
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < a->nb; b++) {
        const float *xb = x + b * 32;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8), v2 = _mm256_loadu_ps(xb + 16),
               v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v0), _mm256_andnot_ps(signbit, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(signbit, v2), _mm256_andnot_ps(signbit, v3)));
        __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m256 mul = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, mul)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, mul)),
                i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, mul)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, mul));
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_extracti128_si256(s, 1), _mm256_castsi256_si128(s));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        int sum = _mm_cvtsi128_si32(s4);
        // pack to int8 in element order: packs interleave 128-bit lanes, the permute undoes it
        __m256i p01 = _mm256_packs_epi32(i0, i1), p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + b * 32), p);
        a->xd[(size_t)r * a->nb + b] = d;
        a->xsum[(size_t)r * a->nb + b] = d * (float)sum;
    }
}
#endif

// ---------------------------------------------------------------------------------------------------------
// Kernels. Each computes output features [n0, n1) for R ≤ 4 activation rows.

typedef struct {
    const swl_matrix *W;
    const float *X;
    int ldx;
    float *Y;
    int ldy;
    int acc;
    const act_t *act;
} job_t;

static inline void store(const job_t *j, int r, int n, float v) {
    float *y = j->Y + (size_t)r * j->ldy + n;
    *y = j->acc ? *y + v : v;
}

// Portable GEMV: one block dequantized to floats at a time, dotted with each row.
static void gemv_portable(const job_t *j, int r0, int R, int n0, int n1) {
    const swl_matrix *W = j->W;
    int be = swl_type_block_elems(W->type), bb = swl_type_block_bytes(W->type);
    int K = W->cols, nb = K / be;
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        float acc[4] = {0, 0, 0, 0}, w[256];
        for (int b = 0; b < nb; b++) {
            blkref k = (W->type & SWL_LAYOUT_R8) ? blk_at(W->type, row, nb, b)
                                                 : (blkref){row + (size_t)b * bb, row + (size_t)b * bb + 2,
                                                            row + (size_t)b * bb + hdr_bytes(W->type)};
            deq_parts(W->type, k, w);
            for (int r = 0; r < R; r++) {
                const float *x = j->X + (size_t)(r0 + r) * j->ldx + (size_t)b * be;
                float s = 0;
                for (int e = 0; e < be; e++) s += w[e] * x[e];
                acc[r] += s;
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, acc[r]);
    }
}

// Portable int8: the same arithmetic as the vector path (integer block dots, float scales).
static void int8_portable(const job_t *j, int r0, int R, int n0, int n1) {
    const swl_matrix *W = j->W;
    const act_t *a = j->act;
    int nb = a->nb, t = W->type, base = t & 0xFF, bb = swl_type_block_bytes(t);
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        for (int r = 0; r < R; r++) {
            const int8_t *xq = a->xq + (size_t)(r0 + r) * a->K;
            const float *xd = a->xd + (size_t)(r0 + r) * nb, *xs = a->xsum + (size_t)(r0 + r) * nb;
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                blkref k = (t & SWL_LAYOUT_R8) ? blk_at(t, row, nb, b)
                                               : (blkref){row + (size_t)b * bb, row + (size_t)b * bb + 2,
                                                          row + (size_t)b * bb + hdr_bytes(t)};
                const int8_t *x = xq + b * 32;
                int dot = 0;
                float dw = h2f(ld16(k.d));
                if (base == SWL_T_Q8_0) {
                    for (int e = 0; e < 32; e++) dot += (int8_t)k.qs[e] * x[e];
                    acc += dw * xd[b] * (float)dot;
                } else {
                    for (int e = 0; e < 16; e++) dot += (k.qs[e] & 0xF) * x[e] + (k.qs[e] >> 4) * x[e + 16];
                    float off = base == SWL_T_Q4_1 ? h2f(ld16(k.m)) : -8.0f * dw;
                    acc += dw * xd[b] * (float)dot + off * xs[b];
                }
            }
            store(j, r0 + r, n, acc);
        }
    }
}

// Portable int8 for the new formats: the vector path's arithmetic (integer sub-block dots, float scales).
static void int8_k_portable(const job_t *j, int r0, int R, int n0, int n1) {
    const swl_matrix *W = j->W;
    const act_t *a = j->act;
    const int t = W->type, cls = kclass(t), nbq = W->cols / swl_type_block_elems(t), nu = (a->nb + 7) / 8;
    kunit U;
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        float acc[4] = {0, 0, 0, 0};
        for (int u = 0; u < nu; u++) {
            unpack_portable(t, row, nbq, u, &U);
            for (int r = 0; r < R; r++) {
                const int8_t *xq = a->xq + (size_t)(r0 + r) * a->K + 256 * u;
                const float *xd = a->xd + (size_t)(r0 + r) * a->nb + 8 * u, *xs = a->xsum + (size_t)(r0 + r) * a->nb + 8 * u;
                for (int b = 0; b < U.ne / 32; b++) {
                    const int8_t *q = U.q + 32 * b, *x = xq + 32 * b;
                    if (cls == KC_A) {
                        int dot = 0;
                        for (int e = 0; e < 32; e++) dot += q[e] * x[e];
                        acc[r] += U.sc[b] * xd[b] * (float)dot - U.mn[b] * xs[b];
                    } else {
                        int d0 = 0, d1 = 0, s0 = 0, s1 = 0;
                        for (int e = 0; e < 16; e++) { d0 += q[e] * x[e]; d1 += q[e + 16] * x[e + 16]; s0 += x[e]; s1 += x[e + 16]; }
                        int dot = U.isc[2 * b] * d0 + U.isc[2 * b + 1] * d1;
                        acc[r] += U.d * xd[b] * (float)dot;
                        if (cls == KC_C) acc[r] -= U.dmin * xd[b] * (float)(U.imn[2 * b] * s0 + U.imn[2 * b + 1] * s1);
                    }
                }
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, acc[r]);
    }
}

#ifdef SWL_X86
#define AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) static inline
#define AVX2F __attribute__((target("avx2,fma,f16c"))) static

AVX2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 float f16s(const uint8_t *p) { return _cvtsh_ss(ld16(p)); }

// Exact GEMV on the legacy quants. Q4_x: Σ w·x = d·Σ q·x + c·Σx per block (c = −8d for Q4_0, m for Q4_1),
// so the nibbles are converted once and Σx comes from the precomputed block sums. Bodies take R (1-4 rows) as
// a constant so that accumulators stay in registers; ROWS_DISPATCH makes the four instances.
#define ROWS_DISPATCH(NAME, BODY, ...)                                                                        \
    AVX2F void NAME##_1(const job_t *j, int r0, int n0, int n1) { BODY(j, r0, 1, n0, n1, __VA_ARGS__); }       \
    AVX2F void NAME##_2(const job_t *j, int r0, int n0, int n1) { BODY(j, r0, 2, n0, n1, __VA_ARGS__); }       \
    AVX2F void NAME##_3(const job_t *j, int r0, int n0, int n1) { BODY(j, r0, 3, n0, n1, __VA_ARGS__); }       \
    AVX2F void NAME##_4(const job_t *j, int r0, int n0, int n1) { BODY(j, r0, 4, n0, n1, __VA_ARGS__); }       \
    static void NAME(const job_t *j, int r0, int R, int n0, int n1) {                                         \
        switch (R) {                                                                                          \
        case 1: NAME##_1(j, r0, n0, n1); break;                                                               \
        case 2: NAME##_2(j, r0, n0, n1); break;                                                               \
        case 3: NAME##_3(j, r0, n0, n1); break;                                                               \
        default: NAME##_4(j, r0, n0, n1); break;                                                              \
        }                                                                                                     \
    }

// Exact GEMV over R8 rows (8 blocks a group: 8 scales converted at once). Q4_x: Σ w·x = d·Σ q·x + c·Σx per block
// (c = −8d for Q4_0, m for Q4_1): the nibbles are converted once, and the c·Σx terms of a group are one 8-wide FMA
// against the precomputed block sums.
AVX2 void gemv_q_body(const job_t *j, int r0, const int R, int n0, int n1, const int type) {
    const swl_matrix *W = j->W;
    const act_t *a = j->act;
    const int nb = W->cols / 32, nfull = nb & ~7, bb = type == SWL_T_Q8_0 ? 34 : type == SWL_T_Q4_1 ? 20 : 18;
    const int hb = type == SWL_T_Q4_1 ? 4 : 2, qb = bb - hb;
    const __m256i m4 = _mm256_set1_epi32(0xF);
    const float *xr[4], *xs[4];
    for (int r = 0; r < R; r++) {
        xr[r] = j->X + (size_t)(r0 + r) * j->ldx;
        xs[r] = type == SWL_T_Q8_0 ? NULL : a->xsum + (size_t)(r0 + r) * nb;
    }
    float dsc[8] __attribute__((aligned(32)));
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        __m256 acc[4], off[4];
        for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); off[r] = _mm256_setzero_ps(); }
        for (int g = 0; g < nfull; g += 8) {
            const uint8_t *base = row + (size_t)g * bb, *qs = base + 8 * hb;
            __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)base));
            _mm256_store_ps(dsc, dv);
            if (type != SWL_T_Q8_0) {
                __m256 cv = type == SWL_T_Q4_1 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(base + 16)))
                                               : _mm256_mul_ps(dv, _mm256_set1_ps(-8.0f));
                for (int r = 0; r < R; r++) off[r] = _mm256_fmadd_ps(cv, _mm256_loadu_ps(xs[r] + g), off[r]);
            }
            for (int i = 0; i < 8; i++) {
                const uint8_t *q = qs + i * qb;
                __m256 w0, w1, w2, w3;
                if (type == SWL_T_Q8_0) {
                    w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
                    w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8))));
                    w2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 16))));
                    w3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 24))));
                } else {
                    __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q));
                    __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8)));
                    w0 = _mm256_cvtepi32_ps(_mm256_and_si256(v0, m4));
                    w1 = _mm256_cvtepi32_ps(_mm256_and_si256(v1, m4));
                    w2 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4));
                    w3 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4));
                }
                __m256 d = _mm256_broadcast_ss(dsc + i);
                for (int r = 0; r < R; r++) {
                    const float *x = xr[r] + (g + i) * 32;
                    __m256 s = _mm256_mul_ps(w0, _mm256_loadu_ps(x));
                    s = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), s);
                    s = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 16), s);
                    s = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x + 24), s);
                    acc[r] = _mm256_fmadd_ps(s, d, acc[r]);
                }
            }
        }
        float tail[4] = {0, 0, 0, 0};
        for (int b = nfull; b < nb; b++) {   // the last, partial group: one block at a time
            blkref k = blk_at(W->type, row, nb, b);
            __m256 w0, w1, w2, w3;
            if (type == SWL_T_Q8_0) {
                w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)k.qs)));
                w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(k.qs + 8))));
                w2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(k.qs + 16))));
                w3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(k.qs + 24))));
            } else {
                __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)k.qs));
                __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(k.qs + 8)));
                w0 = _mm256_cvtepi32_ps(_mm256_and_si256(v0, m4));
                w1 = _mm256_cvtepi32_ps(_mm256_and_si256(v1, m4));
                w2 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4));
                w3 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4));
            }
            float d = f16s(k.d), c = type == SWL_T_Q4_1 ? f16s(k.m) : -8.0f * d;
            for (int r = 0; r < R; r++) {
                const float *x = xr[r] + b * 32;
                __m256 s = _mm256_mul_ps(w0, _mm256_loadu_ps(x));
                s = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), s);
                s = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 16), s);
                s = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x + 24), s);
                acc[r] = _mm256_fmadd_ps(s, _mm256_set1_ps(d), acc[r]);
                if (type != SWL_T_Q8_0) tail[r] += c * xs[r][b];
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, hsum8(acc[r]) + hsum8(off[r]) + tail[r]);
    }
}
#define GEMV_Q4_0(j, r0, R, n0, n1, _) gemv_q_body(j, r0, R, n0, n1, SWL_T_Q4_0)
#define GEMV_Q4_1(j, r0, R, n0, n1, _) gemv_q_body(j, r0, R, n0, n1, SWL_T_Q4_1)
#define GEMV_Q8(j, r0, R, n0, n1, _) gemv_q_body(j, r0, R, n0, n1, SWL_T_Q8_0)
ROWS_DISPATCH(gemv_q4_0_avx2, GEMV_Q4_0, 0)
ROWS_DISPATCH(gemv_q4_1_avx2, GEMV_Q4_1, 0)
ROWS_DISPATCH(gemv_q8_0_avx2, GEMV_Q8, 0)

// Float formats: 8 weights a step, converted in registers.
AVX2 __m256 ld8_f32(const uint8_t *p) { return _mm256_loadu_ps((const float *)p); }
AVX2 __m256 ld8_f16(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
AVX2 __m256 ld8_bf16(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline float sc_f32(const uint8_t *p) { float f; memcpy(&f, p, 4); return f; }
static inline float sc_f16(const uint8_t *p) { return h2f(ld16(p)); }
static inline float sc_bf16(const uint8_t *p) { return bf2f(ld16(p)); }

AVX2 void gemv_float_body(const job_t *j, int r0, const int R, int n0, int n1, const int esz) {
    const swl_matrix *W = j->W;
    const int K = W->cols, K16 = K & ~15;
    const float *xr[4];
    for (int r = 0; r < R; r++) xr[r] = j->X + (size_t)(r0 + r) * j->ldx;
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        __m256 acc[4], acc2[4];
        for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); acc2[r] = _mm256_setzero_ps(); }
        for (int k = 0; k < K16; k += 16) {
            __m256 w0 = esz == 4 ? ld8_f32(row + (size_t)k * 4) : esz == 2 ? ld8_f16(row + (size_t)k * 2) : ld8_bf16(row + (size_t)k * 2);
            __m256 w1 = esz == 4 ? ld8_f32(row + (size_t)k * 4 + 32) : esz == 2 ? ld8_f16(row + (size_t)k * 2 + 16) : ld8_bf16(row + (size_t)k * 2 + 16);
            for (int r = 0; r < R; r++) {
                acc[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr[r] + k), acc[r]);
                acc2[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr[r] + k + 8), acc2[r]);
            }
        }
        for (int r = 0; r < R; r++) {
            float s = hsum8(_mm256_add_ps(acc[r], acc2[r]));
            for (int k = K16; k < K; k++)
                s += (esz == 4 ? sc_f32(row + (size_t)k * 4) : esz == 2 ? sc_f16(row + (size_t)k * 2) : sc_bf16(row + (size_t)k * 2)) * xr[r][k];
            store(j, r0 + r, n, s);
        }
    }
}
#define GEMV_F32(j, r0, R, n0, n1, _) gemv_float_body(j, r0, R, n0, n1, 4)
#define GEMV_F16(j, r0, R, n0, n1, _) gemv_float_body(j, r0, R, n0, n1, 2)
#define GEMV_BF16(j, r0, R, n0, n1, _) gemv_float_body(j, r0, R, n0, n1, 3)
ROWS_DISPATCH(gemv_f32_avx2, GEMV_F32, 0)
ROWS_DISPATCH(gemv_f16_avx2, GEMV_F16, 0)
ROWS_DISPATCH(gemv_bf16_avx2, GEMV_BF16, 0)

// int8 dot products: maddubs (u8 × s8 → pairs of i16), madd with ones (→ i32), scaled per block in float.
AVX2 __m256 dot_u8s8(__m256i u, __m256i s) {
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

AVX2 void int8_body(const job_t *j, int r0, const int R, int n0, int n1, const int type) {
    const swl_matrix *W = j->W;
    const act_t *a = j->act;
    const int nb = a->nb, nfull = nb & ~7;
    const int bb = type == SWL_T_Q8_0 ? 34 : type == SWL_T_Q4_1 ? 20 : 18, hb = type == SWL_T_Q4_1 ? 4 : 2, qb = bb - hb;
    const int8_t *xq[4];
    const float *xd[4], *xs[4];
    for (int r = 0; r < R; r++) {
        xq[r] = a->xq + (size_t)(r0 + r) * a->K;
        xd[r] = a->xd + (size_t)(r0 + r) * nb;
        xs[r] = a->xsum + (size_t)(r0 + r) * nb;
    }
    float sc[4][8] __attribute__((aligned(32)));
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        __m256 acc[4], off[4];
        for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); off[r] = _mm256_setzero_ps(); }
        for (int g = 0; g < nfull; g += 8) {
            const uint8_t *base = row + (size_t)g * bb, *qs = base + 8 * hb;
            __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)base));
            for (int r = 0; r < R; r++) _mm256_store_ps(sc[r], _mm256_mul_ps(dv, _mm256_loadu_ps(xd[r] + g)));
            if (type != SWL_T_Q8_0) {
                __m256 cv = type == SWL_T_Q4_1 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(base + 16)))
                                               : _mm256_mul_ps(dv, _mm256_set1_ps(-8.0f));
                for (int r = 0; r < R; r++) off[r] = _mm256_fmadd_ps(cv, _mm256_loadu_ps(xs[r] + g), off[r]);
            }
            for (int i = 0; i < 8; i++) {
                const uint8_t *q = qs + i * qb;
                if (type == SWL_T_Q8_0) {
                    __m256i w = _mm256_loadu_si256((const __m256i *)q);
                    __m256i aw = _mm256_sign_epi8(w, w);
                    for (int r = 0; r < R; r++) {
                        __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + (g + i) * 32));
                        acc[r] = _mm256_fmadd_ps(dot_u8s8(aw, _mm256_sign_epi8(x, w)), _mm256_broadcast_ss(sc[r] + i), acc[r]);
                    }
                } else {
                    __m128i raw = _mm_loadu_si128((const __m128i *)q);
                    __m256i wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0xF));
                    for (int r = 0; r < R; r++) {
                        __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + (g + i) * 32));
                        acc[r] = _mm256_fmadd_ps(dot_u8s8(wq, x), _mm256_broadcast_ss(sc[r] + i), acc[r]);
                    }
                }
            }
        }
        float tail[4] = {0, 0, 0, 0};
        for (int b = nfull; b < nb; b++) {   // the last, partial group: one block at a time
            blkref k = blk_at(W->type, row, nb, b);
            float dw = f16s(k.d);
            if (type == SWL_T_Q8_0) {
                __m256i w = _mm256_loadu_si256((const __m256i *)k.qs);
                __m256i aw = _mm256_sign_epi8(w, w);
                for (int r = 0; r < R; r++) {
                    __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 32));
                    acc[r] = _mm256_fmadd_ps(dot_u8s8(aw, _mm256_sign_epi8(x, w)), _mm256_set1_ps(dw * xd[r][b]), acc[r]);
                }
            } else {
                __m128i raw = _mm_loadu_si128((const __m128i *)k.qs);
                __m256i wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0xF));
                float c = type == SWL_T_Q4_1 ? f16s(k.m) : -8.0f * dw;
                for (int r = 0; r < R; r++) {
                    __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + b * 32));
                    acc[r] = _mm256_fmadd_ps(dot_u8s8(wq, x), _mm256_set1_ps(dw * xd[r][b]), acc[r]);
                    tail[r] += c * xs[r][b];
                }
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, hsum8(acc[r]) + hsum8(off[r]) + tail[r]);
    }
}
#define INT8_Q4_0(j, r0, R, n0, n1, _) int8_body(j, r0, R, n0, n1, SWL_T_Q4_0)
#define INT8_Q4_1(j, r0, R, n0, n1, _) int8_body(j, r0, R, n0, n1, SWL_T_Q4_1)
#define INT8_Q8_0(j, r0, R, n0, n1, _) int8_body(j, r0, R, n0, n1, SWL_T_Q8_0)
ROWS_DISPATCH(int8_q4_0_avx2, INT8_Q4_0, 0)
ROWS_DISPATCH(int8_q4_1_avx2, INT8_Q4_1, 0)
ROWS_DISPATCH(int8_q8_0_avx2, INT8_Q8_0, 0)

// int8 Q8_0 in 8 × R register tiles (as llama.cpp's repacked Q8_0 GEMM). A tile of 8 weight rows is interleaved per
// call into per-thread scratch, 4 quants of each row in turn, so that one 32-byte vector holds quants 4c..4c+3 of
// all 8 rows (stored as the mask w < 0, with |w| beside it): the dot of a broadcast 4-byte activation chunk with it leaves one i32 lane per
// weight row, so a block's 8 integer dots come out in one vector, converted and scaled once per activation row
// (instead of once per row pair plus a horizontal sum), and each weight vector loaded serves R activation rows.
// The integer block dots are the untiled path's; only the float summation order differs.
enum { Q8T_BLOCK = 8 * 32 * 2 + 8 * 4 };   // per block: (w < 0)[8 chunks][32], |w|[8][32], d[8] (f32)

AVX2F void q8t_pack(const swl_matrix *W, int n, int nb, uint8_t *dst) {
    const uint8_t *rows[8];
    for (int i = 0; i < 8; i++) rows[i] = (const uint8_t *)W->data + (size_t)(n + i) * W->row_bytes;
    for (int b = 0; b < nb; b++) {
        // R8: group g = b / 8 of gs blocks holds gs scales, then gs 32-byte quant arrays
        const int g = b >> 3, i8 = b & 7, gs = nb - (g << 3) < 8 ? nb - (g << 3) : 8;
        const size_t doff = (size_t)g * 8 * 34 + 2 * i8, qoff = (size_t)g * 8 * 34 + 2 * gs + 32 * i8;
        __m256i v[8];
        uint16_t dh[8];
        for (int i = 0; i < 8; i++) {
            v[i] = _mm256_loadu_si256((const __m256i *)(rows[i] + qoff));
            dh[i] = ld16(rows[i] + doff);
        }
        // 8 × 8 transpose of 32-bit words: out[c] lane i = word c of row i
        __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
        __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
        __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
        __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
        __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
        __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
        __m256i o[8];
        o[0] = _mm256_permute2x128_si256(u0, u4, 0x20); o[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
        o[1] = _mm256_permute2x128_si256(u1, u5, 0x20); o[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
        o[2] = _mm256_permute2x128_si256(u2, u6, 0x20); o[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
        o[3] = _mm256_permute2x128_si256(u3, u7, 0x20); o[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
        uint8_t *p = dst + (size_t)b * Q8T_BLOCK;
        for (int c = 0; c < 8; c++) {
            _mm256_store_si256((__m256i *)(p + 32 * c), _mm256_cmpgt_epi8(_mm256_setzero_si256(), o[c]));
            _mm256_store_si256((__m256i *)(p + 256 + 32 * c), _mm256_sign_epi8(o[c], o[c]));
        }
        _mm256_store_ps((float *)(p + 512), _mm256_cvtph_ps(_mm_setr_epi16((short)dh[0], (short)dh[1], (short)dh[2], (short)dh[3],
                                                                            (short)dh[4], (short)dh[5], (short)dh[6], (short)dh[7])));
    }
}

/// Outputs n..n+7 of activation rows r0..r0+R from a packed tile.
AVX2 void q8t_body(const job_t *j, const uint8_t *tile, int r0, const int R, int n) {
    const act_t *a = j->act;
    const int nb = a->nb;
    const int8_t *xq[4];
    const float *xd[4];
    for (int r = 0; r < R; r++) {
        xq[r] = a->xq + (size_t)(r0 + r) * a->K;
        xd[r] = a->xd + (size_t)(r0 + r) * nb;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *p = tile + (size_t)b * Q8T_BLOCK;
        __m256i is[4];
        for (int c = 0; c < 8; c++) {
            __m256i neg = _mm256_load_si256((const __m256i *)(p + 32 * c));
            __m256i aw = _mm256_load_si256((const __m256i *)(p + 256 + 32 * c));
            for (int r = 0; r < R; r++) {
                int32_t xv;
                memcpy(&xv, xq[r] + 32 * b + 4 * c, 4);
                // x·sign(w) as (x ^ neg) − neg (where w = 0, |w| = 0 makes the product 0 either way); measured level
                // with vpsignb on Zen 3, and vpblendvb of x and a precomputed −x was ~30% slower
                __m256i xs = _mm256_sub_epi8(_mm256_xor_si256(_mm256_set1_epi32(xv), neg), neg);
                __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), ones);
                is[r] = c ? _mm256_add_epi32(is[r], d) : d;
            }
        }
        __m256 dw = _mm256_load_ps((const float *)(p + 512));
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[r]), _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[r] + b)), acc[r]);
    }
    for (int r = 0; r < R; r++) {
        float *y = j->Y + (size_t)(r0 + r) * j->ldy + n;
        _mm256_storeu_ps(y, j->acc ? _mm256_add_ps(_mm256_loadu_ps(y), acc[r]) : acc[r]);
    }
}
AVX2F void q8t_1(const job_t *j, const uint8_t *t, int r0, int n) { q8t_body(j, t, r0, 1, n); }
AVX2F void q8t_2(const job_t *j, const uint8_t *t, int r0, int n) { q8t_body(j, t, r0, 2, n); }
AVX2F void q8t_3(const job_t *j, const uint8_t *t, int r0, int n) { q8t_body(j, t, r0, 3, n); }
AVX2F void q8t_4(const job_t *j, const uint8_t *t, int r0, int n) { q8t_body(j, t, r0, 4, n); }

// ---- New formats on AVX2: vector unpacking of the common formats (Q5_x, Q4_K, Q5_K, Q6_K; Q2_K/Q3_K unpack in C),
// then one GEMV and one int8 body per class.

// 32 bits to 32 bytes, byte i 0xFF where bit i is set (as ggml's bytes_from_bits_32).
AVX2 __m256i bits_to_bytes(uint32_t x) {
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

/// Q4_K/Q5_K super-block at p: U->sc = d·scale, U->mn = dmin·min, U->ne. k4_scales in registers (a store then a
/// wider load would defeat store forwarding).
AVX2 void unpack_scales_k4(const uint8_t *p, kunit *U) {
    uint32_t k[3];
    memcpy(k, p + 4, 12);
    uint32_t k3 = ((k[2] >> 4) & 0x0f0f0f0f) | (((k[1] >> 6) & 0x03030303) << 4), k2 = k[1] & 0x3f3f3f3f;
    uint32_t k1 = (k[2] & 0x0f0f0f0f) | (((k[0] >> 6) & 0x03030303) << 4), k0 = k[0] & 0x3f3f3f3f;
    __m128i sm = _mm_set_epi32((int)k3, (int)k2, (int)k1, (int)k0);
    __m256 d = _mm256_set1_ps(f16s(p)), dm = _mm256_set1_ps(f16s(p + 2));
    _mm256_store_ps(U->sc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sm))));
    _mm256_store_ps(U->mn, _mm256_mul_ps(dm, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8)))));
    U->ne = 256;
}

AVX2 void unpack_avx2(const int t, const uint8_t *row, int nbq, int u, kunit *U) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    if (t == SWL_T_Q5_0 || t == SWL_T_Q5_1) {
        const int bb = t == SWL_T_Q5_0 ? 22 : 24, hb = t == SWL_T_Q5_0 ? 2 : 4;
        int b0 = u * 8, nblk = nbq - b0 < 8 ? nbq - b0 : 8;
        U->ne = 32 * nblk;
        uint16_t dh[8] = {0}, mh[8] = {0};
        for (int i = 0; i < nblk; i++) {
            const uint8_t *p = row + (size_t)(b0 + i) * bb;
            uint32_t qh;
            memcpy(&qh, p + hb, 4);
            __m128i raw = _mm_loadu_si128((const __m128i *)(p + hb + 4));
            __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), m4);
            q = _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10)));
            _mm256_store_si256((__m256i *)(U->q + 32 * i), q);
            dh[i] = ld16(p);
            if (t == SWL_T_Q5_1) mh[i] = ld16(p + 2);
        }
        // the 8 scales as one vector built in registers (scalar stores then a vector load would stall forwarding)
        __m256 d = _mm256_cvtph_ps(_mm_setr_epi16((short)dh[0], (short)dh[1], (short)dh[2], (short)dh[3], (short)dh[4],
                                                  (short)dh[5], (short)dh[6], (short)dh[7]));
        __m256 mv = t == SWL_T_Q5_0 ? _mm256_mul_ps(d, _mm256_set1_ps(16.0f))
                                    : _mm256_sub_ps(_mm256_setzero_ps(),
                                                    _mm256_cvtph_ps(_mm_setr_epi16((short)mh[0], (short)mh[1], (short)mh[2], (short)mh[3],
                                                                                   (short)mh[4], (short)mh[5], (short)mh[6], (short)mh[7])));
        _mm256_store_ps(U->sc, d);
        _mm256_store_ps(U->mn, mv);
        return;
    }
    if (t == SWL_T_Q4_K || t == SWL_T_Q5_K) {
        const uint8_t *p = row + (size_t)u * (t == SWL_T_Q4_K ? 144 : 176), *qs = p + (t == SWL_T_Q4_K ? 16 : 48);
        unpack_scales_k4(p, U);
        __m256i qh = t == SWL_T_Q5_K ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
        const __m256i one = _mm256_set1_epi8(1);
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (t == SWL_T_Q5_K) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
                qh = _mm256_srli_epi16(qh, 2);
            }
            _mm256_store_si256((__m256i *)(U->q + 64 * c), lo);
            _mm256_store_si256((__m256i *)(U->q + 64 * c + 32), hi);
        }
        return;
    }
    if (t == SWL_T_Q6_K) {
        const uint8_t *p = row + (size_t)u * 210, *ql = p, *qhp = p + 128;
        float df = f16s(p + 208);
        U->d = df;
        U->ne = 256;
        __m128i s8 = _mm_loadu_si128((const __m128i *)(p + 192));
        __m256i s16 = _mm256_cvtepi8_epi16(s8);
        _mm256_storeu_si256((__m256i *)U->isc, s16);
        __m256 d = _mm256_set1_ps(df);
        _mm256_store_ps(U->sc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s8))));
        _mm256_store_ps(U->sc + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(s8, 8)))));
        const __m256i m3 = _mm256_set1_epi8(3), b32 = _mm256_set1_epi8(32);
        for (int n = 0; n < 2; n++) {
            __m256i h = _mm256_loadu_si256((const __m256i *)(qhp + 32 * n));
            __m256i a = _mm256_loadu_si256((const __m256i *)(ql + 64 * n)), b = _mm256_loadu_si256((const __m256i *)(ql + 64 * n + 32));
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            _mm256_store_si256((__m256i *)(U->q + 128 * n), _mm256_sub_epi8(q0, b32));
            _mm256_store_si256((__m256i *)(U->q + 128 * n + 32), _mm256_sub_epi8(q1, b32));
            _mm256_store_si256((__m256i *)(U->q + 128 * n + 64), _mm256_sub_epi8(q2, b32));
            _mm256_store_si256((__m256i *)(U->q + 128 * n + 96), _mm256_sub_epi8(q3, b32));
        }
        return;
    }
    if (t == SWL_T_Q2_K || t == SWL_T_Q3_K) {
        // scales in C (scalar stores, scalar reloads); the quants vectorised (byte stores then vector loads stall)
        const uint8_t *p = row + (size_t)u * (t == SWL_T_Q2_K ? 84 : 110), *qs = p + (t == SWL_T_Q2_K ? 16 : 32);
        if (t == SWL_T_Q2_K) {
            U->d = f16s(p + 80);
            U->dmin = f16s(p + 82);
            for (int i = 0; i < 16; i++) {
                U->isc[i] = p[i] & 0xF; U->imn[i] = p[i] >> 4;
                U->sc[i] = U->d * (float)(p[i] & 0xF); U->mn[i] = U->dmin * (float)(p[i] >> 4);
            }
        } else {
            uint32_t a[4];
            memcpy(a, p + 96, 12);
            uint32_t tmp = a[2];
            a[2] = ((a[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
            a[3] = ((a[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
            a[0] = (a[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
            a[1] = (a[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
            U->d = f16s(p + 108);
            for (int i = 0; i < 16; i++) {
                int sv = (int)((a[i >> 2] >> (8 * (i & 3))) & 0xFF) - 32;
                U->isc[i] = (int16_t)sv; U->sc[i] = U->d * (float)sv;
            }
        }
        U->ne = 256;
        const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
        const __m256i hm = t == SWL_T_Q3_K ? _mm256_loadu_si256((const __m256i *)p) : _mm256_setzero_si256();
        for (int n = 0; n < 2; n++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * n));
            for (int jj = 0; jj < 4; jj++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(v, 2 * jj), m3);
                if (t == SWL_T_Q3_K) {   // − 4 where the high bit (4n + jj) is clear
                    __m256i bit = _mm256_set1_epi8((char)(1 << (4 * n + jj)));
                    __m256i clear = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), _mm256_setzero_si256());
                    q = _mm256_sub_epi8(q, _mm256_and_si256(clear, four));
                }
                _mm256_store_si256((__m256i *)(U->q + 128 * n + 32 * jj), q);
            }
        }
        return;
    }
    unpack_portable(t, row, nbq, u, U);
}

AVX2 __m256 ld8_i8(const int8_t *q) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q))); }

// Exact GEMV: Σ w·x = Σ_sub sc·Σ q·x − Σ_sub mn·Σx; class A takes Σx per 32-block from the precomputed sums (one
// 8-wide FMA a unit), class C folds its per-16 minimums into an FMA over x.
AVX2 void gemv_k_body(const job_t *j, int r0, const int R, int n0, int n1, const int t) {
    const swl_matrix *W = j->W;
    const int cls = kclass(t), nb32 = W->cols / 32, nu = (nb32 + 7) / 8, nbq = W->cols / swl_type_block_elems(t);
    const float *xr[4], *xs[4];
    for (int r = 0; r < R; r++) {
        xr[r] = j->X + (size_t)(r0 + r) * j->ldx;
        xs[r] = cls == KC_A ? j->act->xsum + (size_t)(r0 + r) * nb32 : NULL;
    }
    kunit U;
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        __m256 acc[4], acc2[4], off[4];
        float tail[4] = {0, 0, 0, 0};
        for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); acc2[r] = _mm256_setzero_ps(); off[r] = _mm256_setzero_ps(); }
        for (int u = 0; u < nu; u++) {
            if (t == SWL_T_Q4_K) {
                // nibbles converted straight from the row (as the legacy Q4 GEMV): each 8-byte load gives 8 weights
                // of sub-block 2c (low nibbles) and 8 of 2c + 1 (high nibbles); 25 vs 18 GFLOP/s a core at M = 1.
                // (Q5_K, with its 5th bits from qh, is quicker through the unpacked int8 quants.)
                unpack_scales_k4(row + (size_t)u * (t == SWL_T_Q4_K ? 144 : 176), &U);
                const uint8_t *qs = row + (size_t)u * (t == SWL_T_Q4_K ? 144 : 176) + (t == SWL_T_Q4_K ? 16 : 48);
                const uint8_t *qh = row + (size_t)u * 176 + 16;
                const __m256i m4 = _mm256_set1_epi32(0xF), b16 = _mm256_set1_epi32(0x10);
                for (int c = 0; c < 4; c++) {
                    __m256 s0[4], s1[4];
                    for (int h = 0; h < 4; h++) {
                        __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 32 * c + 8 * h)));
                        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_srli_epi32(v, 4);
                        if (t == SWL_T_Q5_K) {
                            __m256i hv = _mm256_srli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + 8 * h))), 2 * c);
                            lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi32(hv, 4), b16));
                            hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi32(hv, 3), b16));
                        }
                        __m256 wl = _mm256_cvtepi32_ps(lo), wh = _mm256_cvtepi32_ps(hi);
                        for (int r = 0; r < R; r++) {
                            const float *x = xr[r] + 256 * u + 64 * c + 8 * h;
                            if (h == 0) { s0[r] = _mm256_mul_ps(wl, _mm256_loadu_ps(x)); s1[r] = _mm256_mul_ps(wh, _mm256_loadu_ps(x + 32)); }
                            else { s0[r] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(x), s0[r]); s1[r] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(x + 32), s1[r]); }
                        }
                    }
                    __m256 d0 = _mm256_broadcast_ss(U.sc + 2 * c), d1 = _mm256_broadcast_ss(U.sc + 2 * c + 1);
                    for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(s1[r], d1, _mm256_fmadd_ps(s0[r], d0, acc[r]));
                }
                __m256 mv = _mm256_load_ps(U.mn);
                for (int r = 0; r < R; r++) off[r] = _mm256_fnmadd_ps(mv, _mm256_loadu_ps(xs[r] + 8 * u), off[r]);
                continue;
            }
            unpack_avx2(t, row, nbq, u, &U);
            if (cls == KC_A) {
                const int ns = U.ne / 32;
                for (int i = 0; i < ns; i++) {
                    const int8_t *q = U.q + 32 * i;
                    __m256 w0 = ld8_i8(q), w1 = ld8_i8(q + 8), w2 = ld8_i8(q + 16), w3 = ld8_i8(q + 24);
                    __m256 d = _mm256_broadcast_ss(U.sc + i);
                    for (int r = 0; r < R; r++) {
                        const float *x = xr[r] + 256 * u + 32 * i;
                        __m256 s = _mm256_mul_ps(w0, _mm256_loadu_ps(x));
                        s = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), s);
                        s = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 16), s);
                        s = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x + 24), s);
                        acc[r] = _mm256_fmadd_ps(s, d, acc[r]);
                    }
                }
                if (ns == 8) {
                    __m256 mv = _mm256_load_ps(U.mn);
                    for (int r = 0; r < R; r++) off[r] = _mm256_fnmadd_ps(mv, _mm256_loadu_ps(xs[r] + 8 * u), off[r]);
                } else
                    for (int i = 0; i < ns; i++)
                        for (int r = 0; r < R; r++) tail[r] -= U.mn[i] * xs[r][8 * u + i];
            } else {
                for (int i = 0; i < 16; i++) {
                    const int8_t *q = U.q + 16 * i;
                    __m256 w0 = ld8_i8(q), w1 = ld8_i8(q + 8);
                    __m256 d = _mm256_broadcast_ss(U.sc + i);
                    __m256 mv = cls == KC_C ? _mm256_broadcast_ss(U.mn + i) : d;
                    for (int r = 0; r < R; r++) {
                        const float *x = xr[r] + 256 * u + 16 * i;
                        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
                        __m256 s = _mm256_fmadd_ps(w1, x1, _mm256_mul_ps(w0, x0));
                        // two accumulator chains: one FMA a 16-block would be latency-bound at one row
                        if (i & 1) acc2[r] = _mm256_fmadd_ps(s, d, acc2[r]);
                        else acc[r] = _mm256_fmadd_ps(s, d, acc[r]);
                        if (cls == KC_C) off[r] = _mm256_fnmadd_ps(mv, _mm256_add_ps(x0, x1), off[r]);
                    }
                }
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, hsum8(_mm256_add_ps(acc[r], acc2[r])) + hsum8(off[r]) + tail[r]);
    }
}

// int8: class A as the legacy formats (u8 × s8 per 32-block, scales sc·xd, offsets mn·xsum); classes B and C
// weight the two 16-halves of a 32-block by their integer scales inside the integer dot (madd with the scale pair).
AVX2 void int8_k_body(const job_t *j, int r0, const int R, int n0, int n1, const int t) {
    const swl_matrix *W = j->W;
    const act_t *a = j->act;
    const int cls = kclass(t), nb = a->nb, nu = (nb + 7) / 8, nbq = W->cols / swl_type_block_elems(t);
    const int8_t *xq[4];
    const float *xd[4], *xs[4];
    for (int r = 0; r < R; r++) {
        xq[r] = a->xq + (size_t)(r0 + r) * a->K;
        xd[r] = a->xd + (size_t)(r0 + r) * nb;
        xs[r] = a->xsum + (size_t)(r0 + r) * nb;
    }
    if (t == SWL_T_Q5_0 && R == 1) {
        // one row of Q5_0: each block's quants built in registers straight into the dot (no unit unpacked to memory
        // and reloaded), its scale d·xd a scalar; the same integer block dots and scales as the unit path
        const __m256i m4 = _mm256_set1_epi8(0xF), b16 = _mm256_set1_epi8(0x10), ones = _mm256_set1_epi16(1);
        for (int n = n0; n < n1; n++) {
            const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            float off = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *p = row + (size_t)b * 22;
                uint32_t qh;
                memcpy(&qh, p + 2, 4);
                __m128i raw = _mm_loadu_si128((const __m128i *)(p + 6));
                __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), m4);
                q = _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(qh), b16));
                __m256i x = _mm256_loadu_si256((const __m256i *)(xq[0] + 32 * b));
                __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q, x), ones));
                float d = f16s(p);
                __m256 s = _mm256_set1_ps(d * xd[0][b]);
                if (b & 1) acc1 = _mm256_fmadd_ps(dot, s, acc1);
                else acc0 = _mm256_fmadd_ps(dot, s, acc0);
                off -= 16.0f * d * xs[0][b];
            }
            store(j, r0, n, hsum8(_mm256_add_ps(acc0, acc1)) + off);
        }
        return;
    }
    float pr[4][8] __attribute__((aligned(32))), pm[4][8] __attribute__((aligned(32)));
    const __m256i ones8 = _mm256_set1_epi8(1);
    kunit U;
    for (int n = n0; n < n1; n++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)n * W->row_bytes;
        __m256 acc[4], acc2[4], off[4];   // one row: acc2 (class A) or off (class B) is a second accumulator chain
        float tail[4] = {0, 0, 0, 0};
        for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); acc2[r] = _mm256_setzero_ps(); off[r] = _mm256_setzero_ps(); }
        for (int u = 0; u < nu; u++) {
            unpack_avx2(t, row, nbq, u, &U);
            if (cls == KC_A) {
                const int ns = U.ne / 32;
                if (ns == 8) {
                    __m256 sv = _mm256_load_ps(U.sc), mv = _mm256_load_ps(U.mn);
                    for (int r = 0; r < R; r++) {
                        _mm256_store_ps(pr[r], _mm256_mul_ps(sv, _mm256_loadu_ps(xd[r] + 8 * u)));
                        off[r] = _mm256_fnmadd_ps(mv, _mm256_loadu_ps(xs[r] + 8 * u), off[r]);
                    }
                } else
                    for (int i = 0; i < ns; i++)
                        for (int r = 0; r < R; r++) {
                            pr[r][i] = U.sc[i] * xd[r][8 * u + i];
                            tail[r] -= U.mn[i] * xs[r][8 * u + i];
                        }
                for (int i = 0; i < ns; i++) {
                    __m256i wq = _mm256_load_si256((const __m256i *)(U.q + 32 * i));
                    for (int r = 0; r < R; r++) {
                        __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + 256 * u + 32 * i));
                        if (R == 1 && (i & 1)) acc2[r] = _mm256_fmadd_ps(dot_u8s8(wq, x), _mm256_broadcast_ss(pr[r] + i), acc2[r]);
                        else acc[r] = _mm256_fmadd_ps(dot_u8s8(wq, x), _mm256_broadcast_ss(pr[r] + i), acc[r]);
                    }
                }
            } else {
                __m256 dv = _mm256_set1_ps(U.d), dmv = _mm256_set1_ps(U.dmin);
                for (int r = 0; r < R; r++) {
                    __m256 xdv = _mm256_loadu_ps(xd[r] + 8 * u);
                    _mm256_store_ps(pr[r], _mm256_mul_ps(dv, xdv));
                    if (cls == KC_C) _mm256_store_ps(pm[r], _mm256_mul_ps(dmv, xdv));
                }
                for (int k = 0; k < 8; k++) {
                    __m256i w = _mm256_load_si256((const __m256i *)(U.q + 32 * k));
                    __m256i sp = _mm256_set_m128i(_mm_set1_epi16(U.isc[2 * k + 1]), _mm_set1_epi16(U.isc[2 * k]));
                    if (cls == KC_B) {
                        __m256i aw = _mm256_sign_epi8(w, w);
                        for (int r = 0; r < R; r++) {
                            __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + 256 * u + 32 * k));
                            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), sp);
                            if (R == 1 && (k & 1)) off[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(pr[r] + k), off[r]);
                            else acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(pr[r] + k), acc[r]);
                        }
                    } else {
                        __m256i mp = _mm256_set_m128i(_mm_set1_epi16(U.imn[2 * k + 1]), _mm_set1_epi16(U.imn[2 * k]));
                        for (int r = 0; r < R; r++) {
                            __m256i x = _mm256_loadu_si256((const __m256i *)(xq[r] + 256 * u + 32 * k));
                            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), sp);
                            __m256i m = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, x), mp);
                            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(pr[r] + k), acc[r]);
                            off[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_broadcast_ss(pm[r] + k), off[r]);
                        }
                    }
                }
            }
        }
        for (int r = 0; r < R; r++) store(j, r0 + r, n, hsum8(_mm256_add_ps(acc[r], acc2[r])) + hsum8(off[r]) + tail[r]);
    }
}
#define KQ_KERNELS(NAME, T)                                                                                   \
    ROWS_DISPATCH(gemv_##NAME##_avx2, KQ_GEMV, T)                                                             \
    ROWS_DISPATCH(int8_##NAME##_avx2, KQ_INT8, T)
#define KQ_GEMV(j, r0, R, n0, n1, T) gemv_k_body(j, r0, R, n0, n1, T)
#define KQ_INT8(j, r0, R, n0, n1, T) int8_k_body(j, r0, R, n0, n1, T)
KQ_KERNELS(q5_0, SWL_T_Q5_0)
KQ_KERNELS(q5_1, SWL_T_Q5_1)
KQ_KERNELS(q2_k, SWL_T_Q2_K)
KQ_KERNELS(q3_k, SWL_T_Q3_K)
KQ_KERNELS(q4_k, SWL_T_Q4_K)
KQ_KERNELS(q5_k, SWL_T_Q5_K)
KQ_KERNELS(q6_k, SWL_T_Q6_K)

// The same tiling for the class-A formats (Q5_0, Q5_1, Q4_K, Q5_K: unsigned quants per 32-block, w = sc·q − mn):
// 8 rows' units unpacked as the untiled kernel does, their quants interleaved 4 at a time, and per 32-block the 8
// rows' sc and mn; the unsigned quants go straight into vpmaddubsw, and mn·Σx is one FMA a block per activation row.
enum { KAT_BLOCK = 8 * 32 + 2 * 8 * 4 };   // per 32-block: q[8 chunks][32], sc[8], mn[8] (f32)

AVX2 void transpose8x32(const __m256i v[8], __m256i o[8]) {   // o[c] lane i = 32-bit word c of v[i]
    __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
    __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    o[0] = _mm256_permute2x128_si256(u0, u4, 0x20); o[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    o[1] = _mm256_permute2x128_si256(u1, u5, 0x20); o[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    o[2] = _mm256_permute2x128_si256(u2, u6, 0x20); o[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    o[3] = _mm256_permute2x128_si256(u3, u7, 0x20); o[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

AVX2 void kat_pack_body(const swl_matrix *W, int n, int nb, uint8_t *dst, const int t) {
    const int nbq = W->cols / swl_type_block_elems(t), nu = (nb + 7) / 8;
    const uint8_t *rows[8];
    for (int i = 0; i < 8; i++) rows[i] = (const uint8_t *)W->data + (size_t)(n + i) * W->row_bytes;
    kunit U[8];
    for (int u = 0; u < nu; u++) {
        for (int i = 0; i < 8; i++) unpack_avx2(t, rows[i], nbq, u, &U[i]);
        const int ns = U[0].ne / 32;
        for (int s = 0; s < ns; s++) {
            __m256i v[8], o[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_load_si256((const __m256i *)(U[i].q + 32 * s));
            transpose8x32(v, o);
            uint8_t *p = dst + (size_t)(8 * u + s) * KAT_BLOCK;
            for (int c = 0; c < 8; c++) _mm256_store_si256((__m256i *)(p + 32 * c), o[c]);
            float *sc = (float *)(p + 256), *mn = sc + 8;
            for (int i = 0; i < 8; i++) { sc[i] = U[i].sc[s]; mn[i] = U[i].mn[s]; }
        }
    }
}

/// Outputs n..n+7 of activation rows r0..r0+R from a packed class-A tile.
AVX2 void kat_body(const job_t *j, const uint8_t *tile, int r0, const int R, int n) {
    const act_t *a = j->act;
    const int nb = a->nb;
    const int8_t *xq[4];
    const float *xd[4], *xs[4];
    for (int r = 0; r < R; r++) {
        xq[r] = a->xq + (size_t)(r0 + r) * a->K;
        xd[r] = a->xd + (size_t)(r0 + r) * nb;
        xs[r] = a->xsum + (size_t)(r0 + r) * nb;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4], off[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); off[r] = _mm256_setzero_ps(); }
    for (int b = 0; b < nb; b++) {
        const uint8_t *p = tile + (size_t)b * KAT_BLOCK;
        __m256i is[4];
        for (int c = 0; c < 8; c++) {
            __m256i q = _mm256_load_si256((const __m256i *)(p + 32 * c));
            for (int r = 0; r < R; r++) {
                int32_t xv;
                memcpy(&xv, xq[r] + 32 * b + 4 * c, 4);
                __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_set1_epi32(xv)), ones);
                is[r] = c ? _mm256_add_epi32(is[r], d) : d;
            }
        }
        __m256 sc = _mm256_load_ps((const float *)(p + 256)), mn = _mm256_load_ps((const float *)(p + 288));
        for (int r = 0; r < R; r++) {
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[r]), _mm256_mul_ps(sc, _mm256_broadcast_ss(xd[r] + b)), acc[r]);
            off[r] = _mm256_fnmadd_ps(mn, _mm256_broadcast_ss(xs[r] + b), off[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *y = j->Y + (size_t)(r0 + r) * j->ldy + n;
        __m256 v = _mm256_add_ps(acc[r], off[r]);
        _mm256_storeu_ps(y, j->acc ? _mm256_add_ps(_mm256_loadu_ps(y), v) : v);
    }
}
AVX2F void kat_pack(const swl_matrix *W, int n, int nb, uint8_t *dst) {
    switch (W->type) {
    case SWL_T_Q5_0: kat_pack_body(W, n, nb, dst, SWL_T_Q5_0); break;
    case SWL_T_Q5_1: kat_pack_body(W, n, nb, dst, SWL_T_Q5_1); break;
    case SWL_T_Q4_K: kat_pack_body(W, n, nb, dst, SWL_T_Q4_K); break;
    default: kat_pack_body(W, n, nb, dst, SWL_T_Q5_K); break;
    }
}
AVX2F void kat_1(const job_t *j, const uint8_t *t, int r0, int n) { kat_body(j, t, r0, 1, n); }
AVX2F void kat_2(const job_t *j, const uint8_t *t, int r0, int n) { kat_body(j, t, r0, 2, n); }
AVX2F void kat_3(const job_t *j, const uint8_t *t, int r0, int n) { kat_body(j, t, r0, 3, n); }
AVX2F void kat_4(const job_t *j, const uint8_t *t, int r0, int n) { kat_body(j, t, r0, 4, n); }

// Class B (Q6_K, Q3_K: signed quants, 16-element sub-blocks with integer scales, d per super-block): the same tiles,
// quants stored as the mask q < 0 and |q| (as Q8_0), the two 16-halves of each 32-block weighted by the 8 rows'
// integer scales in the vpmaddwd (as the untiled kernel), d of the 8 rows per 32-block.
enum { KBT_BLOCK = 2 * 8 * 32 + 2 * 32 + 8 * 4 };   // per 32-block: (q < 0)[8][32], |q|[8][32], isc pairs[2][32], d[8]

AVX2 void kbt_pack_body(const swl_matrix *W, int n, int nb, uint8_t *dst, const int t) {
    const int nbq = W->cols / 256, nu = nb / 8;
    const uint8_t *rows[8];
    for (int i = 0; i < 8; i++) rows[i] = (const uint8_t *)W->data + (size_t)(n + i) * W->row_bytes;
    kunit U[8];
    for (int u = 0; u < nu; u++) {
        for (int i = 0; i < 8; i++) unpack_avx2(t, rows[i], nbq, u, &U[i]);
        for (int s = 0; s < 8; s++) {
            __m256i v[8], o[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_load_si256((const __m256i *)(U[i].q + 32 * s));
            transpose8x32(v, o);
            uint8_t *p = dst + (size_t)(8 * u + s) * KBT_BLOCK;
            for (int c = 0; c < 8; c++) {
                _mm256_store_si256((__m256i *)(p + 32 * c), _mm256_cmpgt_epi8(_mm256_setzero_si256(), o[c]));
                _mm256_store_si256((__m256i *)(p + 256 + 32 * c), _mm256_sign_epi8(o[c], o[c]));
            }
            int16_t *sc = (int16_t *)(p + 512);
            float *d = (float *)(p + 576);
            for (int i = 0; i < 8; i++) {
                sc[2 * i] = sc[2 * i + 1] = U[i].isc[2 * s];
                sc[16 + 2 * i] = sc[16 + 2 * i + 1] = U[i].isc[2 * s + 1];
                d[i] = U[i].d;
            }
        }
    }
}

AVX2 void kbt_body(const job_t *j, const uint8_t *tile, int r0, const int R, int n) {
    const act_t *a = j->act;
    const int nb = a->nb;
    const int8_t *xq[4];
    const float *xd[4];
    for (int r = 0; r < R; r++) {
        xq[r] = a->xq + (size_t)(r0 + r) * a->K;
        xd[r] = a->xd + (size_t)(r0 + r) * nb;
    }
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *p = tile + (size_t)b * KBT_BLOCK;
        __m256i is[4];
        for (int c = 0; c < 8; c++) {
            __m256i neg = _mm256_load_si256((const __m256i *)(p + 32 * c));
            __m256i aw = _mm256_load_si256((const __m256i *)(p + 256 + 32 * c));
            __m256i sp = _mm256_load_si256((const __m256i *)(p + 512 + 32 * (c >> 2)));
            for (int r = 0; r < R; r++) {
                int32_t xv;
                memcpy(&xv, xq[r] + 32 * b + 4 * c, 4);
                __m256i xs = _mm256_sub_epi8(_mm256_xor_si256(_mm256_set1_epi32(xv), neg), neg);
                __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), sp);
                is[r] = c ? _mm256_add_epi32(is[r], d) : d;
            }
        }
        __m256 dw = _mm256_load_ps((const float *)(p + 576));
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[r]), _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[r] + b)), acc[r]);
    }
    for (int r = 0; r < R; r++) {
        float *y = j->Y + (size_t)(r0 + r) * j->ldy + n;
        _mm256_storeu_ps(y, j->acc ? _mm256_add_ps(_mm256_loadu_ps(y), acc[r]) : acc[r]);
    }
}
AVX2F void kbt_pack(const swl_matrix *W, int n, int nb, uint8_t *dst) {
    if (W->type == SWL_T_Q6_K) kbt_pack_body(W, n, nb, dst, SWL_T_Q6_K);
    else kbt_pack_body(W, n, nb, dst, SWL_T_Q3_K);
}
AVX2F void kbt_1(const job_t *j, const uint8_t *t, int r0, int n) { kbt_body(j, t, r0, 1, n); }
AVX2F void kbt_2(const job_t *j, const uint8_t *t, int r0, int n) { kbt_body(j, t, r0, 2, n); }
AVX2F void kbt_3(const job_t *j, const uint8_t *t, int r0, int n) { kbt_body(j, t, r0, 3, n); }
AVX2F void kbt_4(const job_t *j, const uint8_t *t, int r0, int n) { kbt_body(j, t, r0, 4, n); }
#endif

typedef void (*kernel_fn)(const job_t *, int r0, int R, int n0, int n1);

static kernel_fn gemv_kernel(int type, int isa) {
#ifdef SWL_X86
    if (isa >= SWL_ISA_AVX2) switch (type) {
        case SWL_T_Q4_0 | SWL_LAYOUT_R8: return gemv_q4_0_avx2;
        case SWL_T_Q4_1 | SWL_LAYOUT_R8: return gemv_q4_1_avx2;
        case SWL_T_Q8_0 | SWL_LAYOUT_R8: return gemv_q8_0_avx2;
        case SWL_T_F32: return gemv_f32_avx2;
        case SWL_T_F16: return gemv_f16_avx2;
        case SWL_T_BF16: return gemv_bf16_avx2;
        case SWL_T_Q5_0: return gemv_q5_0_avx2;
        case SWL_T_Q5_1: return gemv_q5_1_avx2;
        case SWL_T_Q2_K: return gemv_q2_k_avx2;
        case SWL_T_Q3_K: return gemv_q3_k_avx2;
        case SWL_T_Q4_K: return gemv_q4_k_avx2;
        case SWL_T_Q5_K: return gemv_q5_k_avx2;
        case SWL_T_Q6_K: return gemv_q6_k_avx2;
        }
#endif
    (void)type; (void)isa;
    return gemv_portable;
}

static kernel_fn int8_kernel(int type, int isa) {
    int base = type & 0xFF;
    if (kclass(type) != KC_NONE) {
#ifdef SWL_X86
        if (isa >= SWL_ISA_AVX2) switch (type) {
            case SWL_T_Q5_0: return int8_q5_0_avx2;
            case SWL_T_Q5_1: return int8_q5_1_avx2;
            case SWL_T_Q2_K: return int8_q2_k_avx2;
            case SWL_T_Q3_K: return int8_q3_k_avx2;
            case SWL_T_Q4_K: return int8_q4_k_avx2;
            case SWL_T_Q5_K: return int8_q5_k_avx2;
            case SWL_T_Q6_K: return int8_q6_k_avx2;
            }
#endif
        return int8_k_portable;
    }
    if (base != SWL_T_Q4_0 && base != SWL_T_Q4_1 && base != SWL_T_Q8_0) return NULL;
#ifdef SWL_X86
    if (isa >= SWL_ISA_AVX2) switch (type) {
        case SWL_T_Q4_0 | SWL_LAYOUT_R8: return int8_q4_0_avx2;
        case SWL_T_Q4_1 | SWL_LAYOUT_R8: return int8_q4_1_avx2;
        case SWL_T_Q8_0 | SWL_LAYOUT_R8: return int8_q8_0_avx2;
        }
#endif
    return int8_portable;
}

/// Does the exact GEMV need Σx per block (Q4 formats on the vector path)?
static int gemv_needs_sums(int type, int isa) {
    return isa >= SWL_ISA_AVX2 && (type == (SWL_T_Q4_0 | SWL_LAYOUT_R8) || type == (SWL_T_Q4_1 | SWL_LAYOUT_R8) ||
                                   kclass(type) == KC_A);
}

// ---------------------------------------------------------------------------------------------------------
// Scratch (grown under linear_mu; one swl_linear runs at a time)

static pthread_mutex_t linear_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { void *p; size_t cap; } act_buf;
static struct { float *p; size_t cap; } panels[256];
#ifdef SWL_X86
static struct { void *p; size_t cap; } tiles[256];   // per-thread packed weight tile (tile_task)
#endif

static void *grow(void **p, size_t *cap, size_t need) {
    if (need > *cap) {
        free(*p);
        size_t n = need + need / 2;
        *p = aligned_alloc(64, (n + 63) / 64 * 64);
        *cap = n;
    }
    return *p;
}

// ---------------------------------------------------------------------------------------------------------
// Dispatch

typedef struct {
    job_t job;
    kernel_fn kern;
    int M, path, prep;      // prep: 0 none, 1 block sums, 2 int8 quantization
    int isa;
    act_t *act;
} task_t;

/// Output features split evenly (in multiples of 8 where there are enough) over nth workers.
static void split(int N, int tid, int nth, int *n0, int *n1) {
    int units = (N + 7) / 8;
    if (units < nth) { *n0 = (int)((long)N * tid / nth); *n1 = (int)((long)N * (tid + 1) / nth); return; }
    int u0 = (int)((long)units * tid / nth), u1 = (int)((long)units * (tid + 1) / nth);
    *n0 = u0 * 8;
    *n1 = u1 * 8 < N ? u1 * 8 : N;
}

static void prep_task(void *ctx, int tid, int nth) {
    task_t *t = ctx;
    for (int r = tid; r < t->M; r += nth) {
        if (t->prep == 1) act_sums(t->act, r);
        else {
#ifdef SWL_X86
            if (t->isa >= SWL_ISA_AVX2) { act_quant_avx2(t->act, r); continue; }
#endif
            act_quant_portable(t->act, r);
        }
    }
}

// Rows are taken 4 at a time so that a weight block unpacked once serves four activation rows; output
// features are walked in chunks that stay in L1/L2 while every row tile passes over them.
static void rows_task(void *ctx, int tid, int nth) {
    task_t *t = ctx;
    int n0, n1;
    split(t->job.W->rows, tid, nth, &n0, &n1);
    if (n0 >= n1) return;
    size_t chunkBytes = 16384;
    int chunk = (int)(chunkBytes / (t->job.W->row_bytes ? t->job.W->row_bytes : 1));
    if (chunk < 8) chunk = 8;
    if (t->M <= 4) { t->kern(&t->job, 0, t->M, n0, n1); return; }
    for (int rb = 0; rb < t->M; rb += 64) {
        int re = rb + 64 < t->M ? rb + 64 : t->M;
        for (int c0 = n0; c0 < n1; c0 += chunk) {
            int c1 = c0 + chunk < n1 ? c0 + chunk : n1;
            for (int r = rb; r < re; r += 4) t->kern(&t->job, r, re - r < 4 ? re - r : 4, c0, c1);
        }
    }
}

#ifdef SWL_X86
// int8 tiles (Q8_0, classes A and B) from a few activation rows up: each thread packs 8 weight rows at a time, then
// runs every activation row over them (R = 4 a pass); the rows past the last whole 8 go through the untiled kernel.
// Where the tiles start to pay (best-of runs, Zen 3): Q8_0 on the 262144 x 640 head (rows streamed from DRAM, where
// the pack is an extra pass) trails the untiled kernel at M = 8 (2 threads ~46-49 vs ~52-54 GOP/s on a loaded
// machine) and leads from 12 (~59 vs 54; 16: ~60-66 vs 53), so from 12; Q5_0 2048 x 640 and Q4_K 640 x 2048 lead from
// 4 (one thread ~64 vs 53, ~74 vs 66 GOP/s); Q6_K 640 x 2048 is level at 4 and ahead at 6 (~64 vs ~50).

typedef void (*tile_pack_fn)(const swl_matrix *, int n, int nb, uint8_t *dst);
typedef void (*tile_fn)(const job_t *, const uint8_t *tile, int r0, int n);

static int tile_kind(int type, int isa, int M) {   // 0 none, 1 Q8_0, 2 class A, 3 class B
    if (isa < SWL_ISA_AVX2) return 0;
    if (type == (SWL_T_Q8_0 | SWL_LAYOUT_R8)) return M >= 12 ? 1 : 0;
    if (type == SWL_T_Q5_0 || type == SWL_T_Q5_1 || type == SWL_T_Q4_K || type == SWL_T_Q5_K) return M >= 4 ? 2 : 0;
    if (type == SWL_T_Q6_K || type == SWL_T_Q3_K) return M >= 6 ? 3 : 0;
    return 0;
}

static void tile_task(void *ctx, int tid, int nth) {
    task_t *t = ctx;
    const swl_matrix *W = t->job.W;
    int n0, n1;
    split(W->rows, tid, nth, &n0, &n1);
    if (n0 >= n1) return;
    const int nb = W->cols / 32, M = t->M, kind = tile_kind(W->type, t->isa, M);
    tile_pack_fn pack = kind == 1 ? q8t_pack : kind == 2 ? kat_pack : kbt_pack;
    tile_fn f1 = kind == 1 ? q8t_1 : kind == 2 ? kat_1 : kbt_1, f2 = kind == 1 ? q8t_2 : kind == 2 ? kat_2 : kbt_2;
    tile_fn f3 = kind == 1 ? q8t_3 : kind == 2 ? kat_3 : kbt_3, f4 = kind == 1 ? q8t_4 : kind == 2 ? kat_4 : kbt_4;
    uint8_t *tile = grow(&tiles[tid].p, &tiles[tid].cap, (size_t)nb * (kind == 1 ? Q8T_BLOCK : kind == 2 ? KAT_BLOCK : KBT_BLOCK));
    int n = n0;
    for (; n + 8 <= n1; n += 8) {
        pack(W, n, nb, tile);
        // the next 8 rows (contiguous) towards L2 while this tile computes: without it, at M = 8 on the full
        // 262144-row head the pack's misses do not overlap the compute and the tiles trail the untiled kernel
        if (n + 16 <= n1) {
            const char *nx = (const char *)W->data + (size_t)(n + 8) * W->row_bytes;
            for (size_t o = 0; o < 8 * W->row_bytes; o += 64) _mm_prefetch(nx + o, _MM_HINT_T1);
        }
        int r = 0;
        for (; r + 4 <= M; r += 4) f4(&t->job, tile, r, n);
        switch (M - r) {
        case 1: f1(&t->job, tile, r, n); break;
        case 2: f2(&t->job, tile, r, n); break;
        case 3: f3(&t->job, tile, r, n); break;
        default: break;
        }
    }
    if (n < n1)
        for (int r = 0; r < M; r += 4) t->kern(&t->job, r, M - r < 4 ? M - r : 4, n, n1);
}
#endif

static void panel_task(void *ctx, int tid, int nth) {
    task_t *t = ctx;
    const swl_matrix *W = t->job.W;
    int n0, n1;
    split(W->rows, tid, nth, &n0, &n1);
    if (n0 >= n1) return;
    int K = W->cols;
    float beta = t->job.acc ? 1.0f : 0.0f;
    if (W->type == SWL_T_F32 && W->row_bytes == (size_t)K * 4) {
        swl_sgemm(0, 1, t->M, n1 - n0, K, 1.0f, t->job.X, t->job.ldx, (const float *)W->data + (size_t)n0 * K, K,
                  beta, t->job.Y + n0, t->job.ldy);
        return;
    }
    // a panel of NB dequantized rows, about 256 KiB, reused by all M activation rows
    int NB = (int)(65536 / K);
    NB = NB < 8 ? 8 : (NB > 256 ? 256 : NB / 8 * 8);
    float *panel = grow((void **)&panels[tid].p, &panels[tid].cap, (size_t)NB * K * sizeof(float));
    for (int c0 = n0; c0 < n1; c0 += NB) {
        int nbr = c0 + NB < n1 ? NB : n1 - c0;
        swl_matrix_rows(W, c0, nbr, panel);
        swl_sgemm(0, 1, t->M, nbr, K, 1.0f, t->job.X, t->job.ldx, panel, K, beta, t->job.Y + c0, t->job.ldy);
    }
}

// Thresholds measured on AMD Zen 3 (2 cores, AVX2; KernelsBench and /work/dev-style sweeps, SmolLM2 shapes):
// exact GEMV with 4-row tiles beats panel + SGEMM up to ~32 rows (85 vs 73 GOP/s at 32, 66 vs 25 at 8); the int8
// tiles run ~97-107 GOP/s from 8 rows up, level with panel + SGEMM at 512.
int swl_linear_choose(const swl_matrix *W, int M, int precision) {
    int isa = swl_isa_get();
    if (precision == SWL_PREC_FAST && M <= 64 && int8_kernel(W->type, isa) && W->cols % 32 == 0) return SWL_PATH_INT8;
    if (M <= 32) return SWL_PATH_GEMV;
    return SWL_PATH_PANEL;
}

void swl_linear_path(const swl_matrix *W, const float *X, int ldx, int M, float *Y, int ldy, int accumulate,
                     int path) {
    if (M <= 0 || W->rows <= 0) return;
    int isa = swl_isa_get();
    if (path == SWL_PATH_AUTO) path = swl_linear_choose(W, M, SWL_PREC_EXACT);
    if (path == SWL_PATH_INT8 && (!int8_kernel(W->type, isa) || W->cols % 32)) path = SWL_PATH_PANEL;
    task_t t = {.job = {W, X, ldx, Y, ldy, accumulate, NULL}, .M = M, .path = path, .isa = isa};
    act_t act = {.M = M, .K = W->cols, .nb = W->cols / 32, .X = X, .ldx = ldx};
    pthread_mutex_lock(&linear_mu);
    if (path == SWL_PATH_INT8) t.prep = 2;
    else if (path == SWL_PATH_GEMV && gemv_needs_sums(W->type, isa)) t.prep = 1;
    if (t.prep) {
        size_t nbf = (size_t)M * act.nb * sizeof(float);
        size_t need = 2 * nbf + (t.prep == 2 ? (size_t)M * act.K : 0) + 128;
        uint8_t *buf = grow(&act_buf.p, &act_buf.cap, need);
        act.xsum = (float *)buf;
        act.xd = (float *)(buf + nbf);
        act.xq = (int8_t *)(buf + 2 * nbf);
        t.act = &act;
        t.job.act = &act;
        swl_pool_run(prep_task, &t, M < swl_pool_size() ? M : swl_pool_size());
    }
    int nth = swl_pool_size();
    if ((long)W->rows * W->row_bytes * (M < 4 ? 1 : M / 4) < 65536) nth = 1;   // too small to split
    if (path == SWL_PATH_PANEL) swl_pool_run(panel_task, &t, nth);
    else {
        t.kern = path == SWL_PATH_INT8 ? int8_kernel(W->type, isa) : gemv_kernel(W->type, isa);
#ifdef SWL_X86
        if (path == SWL_PATH_INT8 && tile_kind(W->type, isa, M)) swl_pool_run(tile_task, &t, nth);
        else
#endif
        swl_pool_run(rows_task, &t, nth);
    }
    pthread_mutex_unlock(&linear_mu);
}

void swl_linear(const swl_matrix *W, const float *X, int ldx, int M, float *Y, int ldy, int accumulate,
                int precision) {
    swl_linear_path(W, X, ldx, M, Y, ldy, accumulate, swl_linear_choose(W, M, precision));
}
