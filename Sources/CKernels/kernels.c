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

MULTI void swl_rmsnorm(const float *x, const float *w, float *out, int n, float eps) {
    float ss = swl_dot(x, x, n) / (float)n;
    float scale = 1.0f / sqrtf(ss + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define ld16(p) (*(const v16u *)(p))

/// Scores of one query head against `count` consecutive keys (kvDim apart) of a block.
static inline void score_block(const float *restrict q, const float *restrict k, int count, int kvDim, int headDim,
                               float scale, float *restrict out) {
    if (headDim == 64) {   // the common head size: q in four registers, a tree of FMAs per key
        v16 q0 = ld16(q), q1 = ld16(q + 16), q2 = ld16(q + 32), q3 = ld16(q + 48);
        for (int j = 0; j < count; j++) {
            const float *kp = k + (long)j * kvDim;
            v16 a = q0 * ld16(kp) + q1 * ld16(kp + 16);
            v16 b = q2 * ld16(kp + 32) + q3 * ld16(kp + 48);
            v16 t = a + b;
            float sum = 0;
            for (int i = 0; i < 16; i++) sum += t[i];
            out[j] = sum * scale;
        }
        return;
    }
    for (int j = 0; j < count; j++) {
        const float *restrict kp = k + (long)j * kvDim;
        float s = 0;
        for (int d = 0; d < headDim; d++) s += q[d] * kp[d];
        out[j] = s * scale;
    }
}

MULTI void swl_attention_token(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                               int blockSize, int kvDim, int nHeads, int nKVHeads, int headDim, float scale,
                               float *scores) {
    int group = nHeads / nKVHeads, nBlocks = (n + blockSize - 1) / blockSize;
    float acc[256];   // one head's output, kept in L1 while the values stream by
    for (int g = 0; g < nKVHeads; g++) {
        for (int h = 0; h < group; h++) {
            const float *restrict qh = q + (g * group + h) * headDim;
            float *restrict s = scores + h * n;
            for (int b = 0; b < nBlocks; b++) {
                int count = n - b * blockSize < blockSize ? n - b * blockSize : blockSize;
                score_block(qh, k + (long)table[b] * blockSize * kvDim + g * headDim, count, kvDim, headDim, scale,
                            s + b * blockSize);
            }
            float m = swl_max(s, n);
            float inv = 1.0f / swl_exp_shifted_sum(s, n, m);
            if (headDim == 64) {
                v16 o0 = {0}, o1 = {0}, o2 = {0}, o3 = {0};
                for (int b = 0; b < nBlocks; b++) {
                    int count = n - b * blockSize < blockSize ? n - b * blockSize : blockSize;
                    const float *vb = v + (long)table[b] * blockSize * kvDim + g * headDim;
                    for (int j = 0; j < count; j++) {
                        float w = s[b * blockSize + j];
                        const float *vp = vb + (long)j * kvDim;
                        o0 += w * ld16(vp); o1 += w * ld16(vp + 16); o2 += w * ld16(vp + 32); o3 += w * ld16(vp + 48);
                    }
                }
                float *o = out + (g * group + h) * headDim;
                o0 *= inv; o1 *= inv; o2 *= inv; o3 *= inv;
                *(v16u *)o = o0; *(v16u *)(o + 16) = o1; *(v16u *)(o + 32) = o2; *(v16u *)(o + 48) = o3;
                continue;
            }
            for (int d = 0; d < headDim; d++) acc[d] = 0;
            for (int b = 0; b < nBlocks; b++) {
                int count = n - b * blockSize < blockSize ? n - b * blockSize : blockSize;
                const float *restrict vb = v + (long)table[b] * blockSize * kvDim + g * headDim;
                for (int j = 0; j < count; j++) {
                    float w = s[b * blockSize + j];
                    const float *restrict vp = vb + (long)j * kvDim;
                    for (int d = 0; d < headDim; d++) acc[d] += w * vp[d];
                }
            }
            float *restrict o = out + (g * group + h) * headDim;
            for (int d = 0; d < headDim; d++) o[d] = acc[d] * inv;
        }
    }
}
