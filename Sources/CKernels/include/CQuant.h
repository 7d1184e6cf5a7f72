#ifndef SWIFTLET_CQUANT_H
#define SWIFTLET_CQUANT_H
#include <stddef.h>
#include <stdint.h>

/// Weight formats by their ggml type id. Block geometry and dequantization of every format live here, once.
enum {
    SWL_T_F32 = 0, SWL_T_F16 = 1, SWL_T_Q4_0 = 2, SWL_T_Q4_1 = 3, SWL_T_Q5_0 = 6, SWL_T_Q5_1 = 7, SWL_T_Q8_0 = 8,
    SWL_T_Q2_K = 10, SWL_T_Q3_K = 11, SWL_T_Q4_K = 12, SWL_T_Q5_K = 13, SWL_T_Q6_K = 14, SWL_T_BF16 = 30,
};
/// The kernels' layout of a row of Q4_0/Q4_1/Q8_0 blocks (a flag on the type): each run of 8 blocks holds its 8
/// f16 scales, then (Q4_1) its 8 minimums, then its 8 quant arrays. Same bytes per row as the file layout.
#define SWL_LAYOUT_R8 0x100
/// Q5_0/Q5_1 and the K-quants (Q2_K..Q6_K, 256-element super-blocks) keep the file layout (swl_repack_rows copies).
/// The type a matrix of `type` has after swl_repack_rows (the R8 layout for the legacy quants; others unchanged).
int swl_repacked_type(int type);
/// Copies `rows` rows of `cols` elements from the file layout at src to the kernels' layout at dst.
void swl_repack_rows(int type, const void *src, void *dst, long rows, int cols);
/// Elements per block (1 for F32/F16/BF16, 32 for Q4_x/Q5_x/Q8_0, 256 for the K-quants); 0 for a format this library lacks.
int swl_type_block_elems(int type);
/// Bytes per block; 0 for a format this library lacks.
int swl_type_block_bytes(int type);
/// dst[0..n) = the values of the first n elements at src (n a multiple of the block size).
void swl_dequant(int type, const void *src, float *dst, long n);

/// Instruction-set levels of the kernels. The best one the CPU runs is chosen at first use;
/// SWIFTLET_ISA=portable|avx2 in the environment forces a lower one for the process; swl_isa_set for the calling
/// thread only (tests force each in turn without changing the numerics of models running beside them).
enum { SWL_ISA_PORTABLE = 0, SWL_ISA_AVX2 = 1 };
int swl_isa_best(void);
int swl_isa_get(void);
/// Sets the level in force (clamped to what the CPU runs); returns it.
int swl_isa_set(int isa);

/// A weight matrix [rows = out features, cols = in features], rows `row_bytes` apart, in its file encoding.
typedef struct {
    const void *data;
    int type;
    int rows;
    int cols;
    size_t row_bytes;
} swl_matrix;

/// Kernel paths of swl_linear.
enum {
    SWL_PATH_AUTO = 0,
    /// Streaming GEMV over fp32 activations: blocks unpacked in registers, up to 4 activation rows per pass.
    SWL_PATH_GEMV = 1,
    /// Exact many-row path: a dequantized weight panel in cache, then single-threaded OpenBLAS SGEMM per core.
    SWL_PATH_PANEL = 2,
    /// Activations quantized to int8 per 32-block, integer dot products with per-block (per-sub-block for the
    /// K-quants) scales: every quantized format.
    SWL_PATH_INT8 = 3,
};
/// Numerics: exact keeps fp32 activations; fast takes the int8 path where the format has one.
enum { SWL_PREC_EXACT = 0, SWL_PREC_FAST = 1 };

/// Y[m, n] = X[m, :] · W[n, :] (+ Y[m, n] when accumulate), m < M, n < W.rows; X rows ldx apart, Y rows ldy.
/// Picks the kernel by M, format and precision; splits output features over the compute pool.
void swl_linear(const swl_matrix *W, const float *X, int ldx, int M, float *Y, int ldy, int accumulate,
                int precision);
/// The same with the kernel path forced (tests and benchmarks). A path the format lacks falls back to PANEL.
void swl_linear_path(const swl_matrix *W, const float *X, int ldx, int M, float *Y, int ldy, int accumulate,
                     int path);
/// The path swl_linear takes for this shape.
int swl_linear_choose(const swl_matrix *W, int M, int precision);
/// Dequantizes rows [r0, r0 + n) of W into dst ([n, cols]); the embedding lookup.
void swl_matrix_rows(const swl_matrix *W, int r0, int n, float *dst);

/// The compute pool: `n` threads including the caller (n ≤ 0: all online CPUs). Created at first use;
/// one pool per process, shared by every model (calls from several threads are serialised).
void swl_pool_init(int n);
int swl_pool_size(void);
/// Runs fn(ctx, tid, nth) for tid in [0, nth) (nth clamped to the pool size), the caller as tid 0; returns when
/// all are done. A call from inside a pool task runs every tid inline.
typedef void (*swl_task_fn)(void *ctx, int tid, int nth);
void swl_pool_run(swl_task_fn fn, void *ctx, int nth);

#endif
