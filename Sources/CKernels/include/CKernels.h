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
/// out[i] = gelu_tanh(g[i]) * u[i] (GeGLU, Gemma)
void swl_geglu(const float *g, const float *u, float *out, int n);
/// y[i] += x[i]
void swl_add(const float *x, float *y, int n);
/// x[i] *= s
void swl_scale(float *x, float s, int n);
/// x[i] = cap · tanh(x[i] / cap) (final logit soft-capping)
void swl_softcap(float *x, float cap, int n);
/// out = x / rms(x) * w
void swl_rmsnorm(const float *x, const float *w, float *out, int n, float eps);

/// Paged KV layout, per layer, block b, KV head g (offsets in floats, tile = headDim · blockSize):
///   K: kPool + (b · nKVHeads + g) · tile, transposed [headDim][blockSize];
///   V: vPool + (b · nKVHeads + g) · tile, [blockSize][headDim].

/// Writes one token's K and V ([nKVHeads · headDim] each) into slot `slot` of block `block`.
void swl_kv_store(const float *k, const float *v, float *kPool, float *vPool, int block, int slot, int blockSize,
                  int nKVHeads, int headDim);

/// Gathers positions 0..<n of KV head g: kT [headDim][n] (transposed), vc [n][headDim].
void swl_kv_gather(const float *kPool, const float *vPool, const int *table, int n, int blockSize, int nKVHeads,
                   int headDim, int g, float *kT, float *vc);

/// Atomically adds `value` to *counter; returns the previous value (work distribution across threads).
int swl_fetch_add(int *counter, int value);

/// Causal attention of one query token over positions 0..<n for the `group` query heads of KV head g.
/// q, out: [group · headDim]; table: block ids; scores: scratch of n floats (used unless blockSize 16 and
/// headDim 64, which run one pass with an online softmax).
void swl_attention_group(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                         int blockSize, int nKVHeads, int g, int group, int headDim, float scale, float *scores);

/// As swl_attention_group over positions lo..<n only (a sliding-window layer: lo = max(0, n - window)).
void swl_attention_window(const float *q, float *out, int lo, int n, const int *table, const float *k,
                          const float *v, int blockSize, int nKVHeads, int g, int group, int headDim, float scale,
                          float *scores);

/// All heads of one query token: q, out [nHeads · headDim]; scores: scratch of n floats.
void swl_attention_token(const float *q, float *out, int n, const int *table, const float *k, const float *v,
                         int blockSize, int nHeads, int nKVHeads, int headDim, float scale, float *scores);

#include "CQuant.h"

#endif
