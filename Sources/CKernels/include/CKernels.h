#ifndef SWIFTLET_CKERNELS_H
#define SWIFTLET_CKERNELS_H
/// Elementwise and reduction kernels in C so the compiler can vectorise them for each x86 ISA level
/// (AVX-512, AVX2, baseline) with run-time dispatch (target_clones); Swift's SIMD types lower to scalar code
/// for some operations (rounding, float/int conversion) and Swift cannot multiversion a function.

float swl_dot(const float *a, const float *b, int n);
void swl_axpy(float w, const float *x, float *y, int n);
/// x[i] = exp(x[i] - shift); returns the sum.
float swl_exp_shifted_sum(float *x, int n, float shift);
float swl_max(const float *x, int n);
/// In-place softmax of x[0..n).
void swl_softmax(float *x, int n);
/// out[i] = silu(g[i]) * u[i]
void swl_swiglu(const float *g, const float *u, float *out, int n);
/// out = x / rms(x) * w
void swl_rmsnorm(const float *x, const float *w, float *out, int n, float eps);

/// Causal attention of one query token at position n-1 over paged K/V (all heads).
/// q, out: [nHeads * headDim]; k, v: one layer's pools [numBlocks, blockSize, kvDim]; table: block ids;
/// scores: scratch of group * n floats (group = nHeads / nKVHeads).
void swl_attention_token(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                         int blockSize, int kvDim, int nHeads, int nKVHeads, int headDim, float scale, float *scores);

#endif
