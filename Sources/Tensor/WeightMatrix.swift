import CKernels

/// Numerics of the projections: `exact` keeps fp32 activations (weights unpacked to fp32 in registers or in a
/// cached panel); `fast` quantizes activations to int8 per 32-block and uses integer dot products where the weight
/// format has them (every quantized format: Q8_0, Q4_x, Q5_x, the K-quants) and that is quicker for the batch shape.
public enum Precision: String, Sendable, CaseIterable, Codable {
    case exact, fast
    var c: Int32 { self == .exact ? Int32(SWL_PREC_EXACT) : Int32(SWL_PREC_FAST) }
}

/// The kernel paths of `WeightMatrix.linear` (see CQuant.h), for tests and benchmarks that force one.
public enum LinearPath: Int32, Sendable, CaseIterable {
    case gemv = 1, panel = 2, int8 = 3
}

/// The instruction-set level the kernels use (best available by default; tests force each in turn). Setting it
/// applies to the calling thread only (the kernel is chosen on the caller's thread).
public enum KernelISA: Int32, Sendable, CaseIterable, Comparable {
    case portable = 0, avx2 = 1
    public static var best: KernelISA { KernelISA(rawValue: swl_isa_best()) ?? .portable }
    public static var current: KernelISA {
        get { KernelISA(rawValue: swl_isa_get()) ?? .portable }
        set { _ = swl_isa_set(newValue.rawValue) }
    }
    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }
}

/// Owned, 64-byte aligned memory for weights (quantized blocks as in the file, or floats).
public final class WeightStorage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { base.deallocate() }
}

/// A weight matrix [rows = out features, cols = in features] in its file encoding: rows of `rowBytes` bytes,
/// each a run of blocks. No fp32 copy of a quantized matrix exists; the kernels unpack blocks as they stream.
/// Q4_0/Q4_1/Q8_0 rows are held in the kernels' R8 order (the same blocks, each run of 8 with its scales together,
/// see CQuant.h): `WeightMatrix.repack` puts file rows in that order. Q5_x and the K-quants keep the file layout.
public struct WeightMatrix: @unchecked Sendable {
    public let format: GGMLType
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    /// Keeps `data` alive.
    public let owner: WeightStorage

    public var rowBytes: Int { format.rowBytes(cols) }
    public var byteCount: Int { rows * rowBytes }

    public init(format: GGMLType, rows: Int, cols: Int, data: UnsafeRawPointer, owner: WeightStorage) {
        precondition(cols % format.blockSize == 0, "\(format) rows need a multiple of \(format.blockSize) elements")
        self.format = format; self.rows = rows; self.cols = cols; self.data = data; self.owner = owner
    }

    /// A matrix of its own storage holding `rows × cols` values encoded in `format` at `src` in the file layout.
    public init(format: GGMLType, rows: Int, cols: Int, copying src: UnsafeRawPointer) {
        let s = WeightStorage(byteCount: rows * format.rowBytes(cols))
        Self.repack(format, from: src, to: s.base, rows: rows, cols: cols)
        self.init(format: format, rows: rows, cols: cols, data: UnsafeRawPointer(s.base), owner: s)
    }

    /// Copies `rows` file-layout rows of `cols` elements into the kernels' layout (a plain copy for float formats).
    public static func repack(_ format: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer,
                              rows: Int, cols: Int) {
        swl_repack_rows(Int32(format.rawValue), src, dst, rows, Int32(cols))
    }

    var c: swl_matrix {
        swl_matrix(data: data, type: swl_repacked_type(Int32(format.rawValue)), rows: Int32(rows), cols: Int32(cols),
                   row_bytes: rowBytes)
    }

    /// Y[r, :] = X[r, :] · Wᵀ (+ Y[r, :] when accumulate) for r < `rows`: the projection every layer does.
    /// The kernel is chosen by batch shape, format and precision; output features are split over the pool.
    @inline(__always)
    public func linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>,
                       ldy: Int? = nil, accumulate: Bool = false, precision: Precision = .exact) {
        var w = c
        swl_linear(&w, x, Int32(ldx ?? cols), Int32(m), y, Int32(ldy ?? rows), accumulate ? 1 : 0, precision.c)
    }

    /// The same with the kernel path forced.
    public func linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>,
                       ldy: Int? = nil, accumulate: Bool = false, path: LinearPath) {
        var w = c
        swl_linear_path(&w, x, Int32(ldx ?? cols), Int32(m), y, Int32(ldy ?? rows), accumulate ? 1 : 0, path.rawValue)
    }

    /// The path `linear` takes for `m` rows.
    public func path(rows m: Int, precision: Precision) -> LinearPath {
        var w = c
        return LinearPath(rawValue: swl_linear_choose(&w, Int32(m), precision.c)) ?? .panel
    }

    /// Rows r0..<r0+count as floats ([count, cols]): the embedding lookup dequantizes only the rows it needs.
    public func dequantizeRows(_ r0: Int, count: Int = 1, into dst: UnsafeMutablePointer<Float>) {
        var w = c
        swl_matrix_rows(&w, Int32(r0), Int32(count), dst)
    }
}

/// Several matrices over the same input whose outputs sit side by side (Q|K|V, gate|up): one matrix when the parts
/// share a format (concatenated at load), else one call per part writing its columns of the output.
public struct FusedLinear: Sendable {
    public let parts: [WeightMatrix]
    public let outFeatures: Int
    public init(_ parts: [WeightMatrix]) {
        self.parts = parts
        outFeatures = parts.reduce(0) { $0 + $1.rows }
    }
    public var byteCount: Int { parts.reduce(0) { $0 + $1.byteCount } }

    @inline(__always)
    public func linear(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>,
                       accumulate: Bool = false, precision: Precision) {
        if parts.count == 1 {
            parts[0].linear(x, rows: m, ldx: ldx, into: y, ldy: outFeatures, accumulate: accumulate, precision: precision)
            return
        }
        var col = 0
        for p in parts {
            p.linear(x, rows: m, ldx: ldx, into: y + col, ldy: outFeatures, accumulate: accumulate, precision: precision)
            col += p.rows
        }
    }
}
