#ifndef SWIFTLET_CBLAS_H
#define SWIFTLET_CBLAS_H
#include <stddef.h>

/// Loads OpenBLAS (once; later calls return the first result). When the environment does not
/// set OPENBLAS_CORETYPE, picks the fastest kernel family this CPU supports (SkylakeX's AVX-512
/// kernels on AVX-512 CPUs that OpenBLAS 0.3.21 does not recognise, such as AMD Zen 4) before the
/// library initialises. Returns 0 on success, -1 when the library cannot be loaded (see swl_blas_error).
int swl_blas_load(void);
const char *swl_blas_error(void);
/// OpenBLAS's own name for the kernel family in use ("SkylakeX", "Haswell", ...).
const char *swl_blas_corename(void);
/// The OPENBLAS_CORETYPE that swl_blas_load chose ("" when the environment already set one or none was needed).
const char *swl_blas_chosen_coretype(void);
void swl_blas_set_threads(int n);
int swl_blas_get_threads(void);

/// Row-major SGEMM: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
void swl_sgemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/// Row-major SGEMV: y[M] = alpha * op(A) x + beta * y, A is [M,N] row-major.
void swl_sgemv(int transA, int M, int N, float alpha, const float *A, int lda,
               const float *x, float beta, float *y);

#endif
