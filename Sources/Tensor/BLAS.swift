internal import CBLAS

/// OpenBLAS, loaded at first use with the fastest kernel family for this CPU (see CBLAS.h).
/// All matrices are row-major `Float`.
public enum BLAS {
    /// Loads the library; throws with the loader's message when OpenBLAS is missing.
    public static func load() throws(BLASError) {
        if swl_blas_load() != 0 { throw BLASError(message: String(cString: swl_blas_error())) }
    }

    /// OpenBLAS's name for the kernels in use, e.g. "SkylakeX".
    public static var coreName: String { String(cString: swl_blas_corename()) }
    /// The OPENBLAS_CORETYPE this process chose ("" when the environment chose).
    public static var chosenCoreType: String { _ = swl_blas_load(); return String(cString: swl_blas_chosen_coretype()) }

    public static var threads: Int {
        get { Int(swl_blas_get_threads()) }
        set { swl_blas_set_threads(Int32(newValue)) }
    }

    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major. `transB` reads B as [N,K] (weights stored [out, in]).
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemmRaw(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func sgemmRaw(_ ta: Int32, _ tb: Int32, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                         _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                         _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        swl_sgemm(ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M] = alpha * A[M,N] x + beta * y (A row-major).
    public static func sgemv(m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        swl_sgemv(0, Int32(m), Int32(n), alpha, a, Int32(lda), x, beta, y)
    }

    /// Y[rows, out] = X[rows, in] · W[out, in]ᵀ (+ Y when accumulate). The projection every layer does.
    @inlinable
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
                              weight: UnsafePointer<Float>, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
        if rows == 1 {   // OpenBLAS 0.3.21 does not route M = 1 SGEMM to GEMV itself
            sgemv(m: outFeatures, n: inFeatures, a: weight, lda: inFeatures, x: x, beta: accumulate ? 1 : 0, y: y)
        } else {
            sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: ldx ?? inFeatures,
                  b: weight, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: ldy ?? outFeatures)
        }
    }
}

public struct BLASError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
