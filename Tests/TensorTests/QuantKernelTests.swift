import Foundation
import Testing
@testable import Tensor

/// Every weight format × every kernel path × odd shapes against a dequantize-then-fp32 (Double) reference, with each
/// ISA level the CPU runs forced in turn (the portable path always).
@Suite("Quantized linear kernels", .serialized)
struct QuantKernelTests {
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 11 }
        mutating func float() -> Float { Float(Int64(next() % 2001) - 1000) / 1000 }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    }

    static let formats: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1,
                                      .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// The f16 fields of a block (byte offset, whether it is a signed offset rather than a positive scale) and the
    /// magnitude of its scales; every other byte of these formats may be anything.
    static func halfFields(_ t: GGMLType) -> (fields: [(Int, Bool)], scale: Float) {
        switch t {
        case .q5_0: return ([(0, false)], 0.05)
        case .q5_1: return ([(0, false), (2, true)], 0.05)
        case .q2_K: return ([(80, false), (82, false)], 0.01)
        case .q3_K: return ([(108, false)], 0.003)
        case .q4_K: return ([(0, false), (2, false)], 0.003)
        case .q5_K: return ([(0, false), (2, false)], 0.002)
        case .q6_K: return ([(208, false)], 0.002)
        default: return ([], 0)
        }
    }

    /// Random but valid bytes of a [rows, cols] matrix: small f16 scales, random quants; floats in [-1, 1].
    static func randomMatrix(_ t: GGMLType, rows: Int, cols: Int, seed: UInt64) -> WeightMatrix {
        var r = RNG(s: seed)
        var bytes: [UInt8] = []
        func f16(_ v: Float) -> [UInt8] { let b = Float16(v).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
        for _ in 0..<(rows * cols / t.blockSize) {
            switch t {
            case .f32: bytes += withUnsafeBytes(of: r.float()) { Array($0) }
            case .f16: bytes += f16(r.float())
            case .bf16: let b = r.float().bitPattern >> 16; bytes += [UInt8(b & 0xFF), UInt8(b >> 8)]
            case .q8_0: bytes += f16(0.002 + abs(r.float()) * 0.01); for _ in 0..<32 { bytes.append(r.byte()) }
            case .q4_0: bytes += f16(0.01 + abs(r.float()) * 0.1); for _ in 0..<16 { bytes.append(r.byte()) }
            case .q4_1: bytes += f16(0.01 + abs(r.float()) * 0.1) + f16(r.float()); for _ in 0..<16 { bytes.append(r.byte()) }
            case .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
                var block = (0..<t.bytesPerBlock).map { _ in r.byte() }
                let (fields, scale) = Self.halfFields(t)
                for (offset, signed) in fields {
                    let h = f16(signed ? r.float() * 0.5 : scale * (0.2 + abs(r.float())))
                    block[offset] = h[0]; block[offset + 1] = h[1]
                }
                bytes += block
            }
        }
        return bytes.withUnsafeBytes { WeightMatrix(format: t, rows: rows, cols: cols, copying: $0.baseAddress!) }
    }

    static func reference(_ w: WeightMatrix, _ x: [Float], rows m: Int) -> [Double] {
        var wf = [Float](repeating: 0, count: w.rows * w.cols)
        w.dequantizeRows(0, count: w.rows, into: &wf)
        var y = [Double](repeating: 0, count: m * w.rows)
        for r in 0..<m { for n in 0..<w.rows {
            var s = 0.0
            for k in 0..<w.cols { s += Double(wf[n * w.cols + k]) * Double(x[r * w.cols + k]) }
            y[r * w.rows + n] = s
        } }
        return y
    }

    /// Relative error of y against the reference, scaled by the output's magnitude.
    static func error(_ y: [Float], _ ref: [Double], offset: Float) -> Double {
        let scale = max(ref.map { abs($0) }.max() ?? 1, 1e-3)
        return zip(y, ref).map { abs(Double($0 - offset) - $1) }.max()! / scale
    }

    @Test(arguments: formats)
    func everyPathAndISAMatchesTheReference(format t: GGMLType) throws {
        try BLAS.load()
        let saved = KernelISA.current
        defer { KernelISA.current = saved }
        // K not a multiple of 256 (and for float formats not of 32; K-quants: 1 and 3 super-blocks); 37 and 13
        // output features: uneven splits over the cores. M crosses the GEMV (32) and int8 (64) thresholds.
        let ks = t.blockSize == 1 ? [72, 200] : t.blockSize == 32 ? [96, 544] : [256, 768]
        for k in ks {
            let w = Self.randomMatrix(t, rows: k == 768 ? 13 : 37, cols: k, seed: UInt64(k) &* 31 &+ UInt64(t.rawValue))
            for m in [1, 3, 17, 33, 64] {
                var rng = RNG(s: UInt64(m * 1000 + k))
                let x = (0..<(m * k)).map { _ in rng.float() }
                let ref = Self.reference(w, x, rows: m)
                for isa in KernelISA.allCases where isa <= KernelISA.best {
                    KernelISA.current = isa
                    #expect(KernelISA.current == isa)
                    for path in LinearPath.allCases {
                        for accumulate in [false, true] {
                            var y = [Float](repeating: accumulate ? 0.25 : 99, count: m * w.rows)
                            w.linear(x, rows: m, into: &y, accumulate: accumulate, path: path)
                            let err = Self.error(y, ref, offset: accumulate ? 0.25 : 0)
                            // int8 activations: ~1/127 relative error per block; fp32 paths: rounding only
                            let tol = path == .int8 && t.blockSize > 1 ? 2e-2 : 1e-5
                            #expect(err < tol, "\(t) K=\(k) M=\(m) \(isa) \(path) acc=\(accumulate): error \(err)")
                        }
                    }
                }
            }
        }
    }

    /// The int8 path really is a different computation (it must not silently be the exact one), and the portable
    /// and vector int8 paths agree with each other closely.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
    func int8PathQuantizesActivations(format t: GGMLType) throws {
        try BLAS.load()
        let saved = KernelISA.current
        defer { KernelISA.current = saved }
        let w = Self.randomMatrix(t, rows: 16, cols: 256, seed: 7)
        var rng = RNG(s: 9)
        let x = (0..<(4 * 256)).map { _ in rng.float() }
        var exact = [Float](repeating: 0, count: 64), fast = exact
        w.linear(x, rows: 4, into: &exact, path: .gemv)
        w.linear(x, rows: 4, into: &fast, path: .int8)
        #expect(exact != fast)
        #expect(w.path(rows: 1, precision: .fast) == .int8)
        #expect(w.path(rows: 1, precision: .exact) == .gemv)
        var outs: [[Float]] = []
        for isa in KernelISA.allCases where isa <= KernelISA.best {
            KernelISA.current = isa
            var y = [Float](repeating: 0, count: 64)
            w.linear(x, rows: 4, into: &y, path: .int8)
            outs.append(y)
        }
        for o in outs.dropFirst() {
            for i in o.indices { #expect(abs(o[i] - outs[0][i]) <= 1e-4 * max(1, abs(outs[0][i]))) }
        }
    }

    @Test func embeddingRowsDequantizeOnlyTheRowAsked() {
        let w = Self.randomMatrix(.q4_1, rows: 10, cols: 64, seed: 3)
        var all = [Float](repeating: 0, count: 640), row = [Float](repeating: 0, count: 64)
        w.dequantizeRows(0, count: 10, into: &all)
        w.dequantizeRows(7, into: &row)
        #expect(Array(all[(7 * 64)..<(8 * 64)]) == row)
    }

    @Test func poolRunsEveryIndexOnce() {
        let n = 1000
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        hits.initialize(repeating: 0, count: n)
        defer { hits.deallocate() }
        let p = HitPointer(p: hits)
        Kernels.parallel(workers: n) { i in p.p[i] += 1 }
        #expect((0..<n).allSatisfy { hits[$0] == 1 })
    }
}

struct HitPointer: @unchecked Sendable { let p: UnsafeMutablePointer<Int32> }
