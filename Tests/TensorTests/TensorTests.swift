import Foundation
import Testing
@testable import Tensor

@Suite("Kernels")
struct TensorTests {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1
        }
    }

    @Test func openBLASLoadsWithTheFastestKernels() throws {
        try BLAS.load()
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
           cpuinfo.contains(" avx512f "), cpuinfo.contains(" avx512bw "), cpuinfo.contains(" avx512vl ") {
            #expect(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(BLAS.coreName), "got \(BLAS.coreName)")
        }
        #expect(!BLAS.coreName.isEmpty)
    }

    @Test(arguments: [(1, 7, 5), (3, 64, 17), (33, 96, 64)])
    func linearMatchesNaive(rows: Int, out: Int, inF: Int) throws {
        try BLAS.load()
        let x = random(rows * inF, seed: 1), w = random(out * inF, seed: 2)
        var y = [Float](repeating: 0.5, count: rows * out)
        for accumulate in [false, true] {
            let before = y
            BLAS.linear(x, rows: rows, inFeatures: inF, weight: w, outFeatures: out, into: &y, accumulate: accumulate)
            for r in 0..<rows {
                for o in 0..<out {
                    var s: Float = accumulate ? before[r * out + o] : 0
                    for k in 0..<inF { s += x[r * inF + k] * w[o * inF + k] }
                    #expect(abs(y[r * out + o] - s) < 1e-4)
                }
            }
        }
    }

    @Test func dequantQ4_1AndQ8_0() {
        // Q4_1 block: d = 0.5 (f16 0x3800), m = -1 (f16 0xBC00), nibbles j -> low = j % 16, high = 15 - j % 16
        var q41: [UInt8] = [0x00, 0x38, 0x00, 0xBC]
        for j in 0..<16 { q41.append(UInt8(j % 16) | UInt8(15 - j % 16) << 4) }
        var out = [Float](repeating: 0, count: 32)
        q41.withUnsafeBytes { GGMLType.q4_1.dequantize($0.baseAddress!, count: 32, into: &out) }
        for j in 0..<16 {
            #expect(out[j] == Float(j) * 0.5 - 1)
            #expect(out[j + 16] == Float(15 - j) * 0.5 - 1)
        }
        // Q8_0 block: d = 2 (f16 0x4000), q = -16...15
        var q80: [UInt8] = [0x00, 0x40]
        for j in 0..<32 { q80.append(UInt8(bitPattern: Int8(j - 16))) }
        q80.withUnsafeBytes { GGMLType.q8_0.dequantize($0.baseAddress!, count: 32, into: &out) }
        for j in 0..<32 { #expect(out[j] == Float(j - 16) * 2) }
        // Q4_0: (q - 8) * d
        var q40: [UInt8] = [0x00, 0x3C]
        for j in 0..<16 { q40.append(UInt8(j) | UInt8(j) << 4) }
        q40.withUnsafeBytes { GGMLType.q4_0.dequantize($0.baseAddress!, count: 32, into: &out) }
        for j in 0..<16 { #expect(out[j] == Float(j - 8)); #expect(out[j + 16] == Float(j - 8)) }
        // F16 and BF16
        let h: [UInt16] = [0x3C00, 0xC000, 0x3555]
        h.withUnsafeBytes { GGMLType.f16.dequantize($0.baseAddress!, count: 3, into: &out) }
        #expect(out[0] == 1 && out[1] == -2 && abs(out[2] - 0.33325) < 1e-4)
        let b: [UInt16] = [0x3F80, 0xC040]
        b.withUnsafeBytes { GGMLType.bf16.dequantize($0.baseAddress!, count: 2, into: &out) }
        #expect(out[0] == 1 && out[1] == -3)
    }

    /// NeoX rotation of x equals adjacent-pair rotation of x with each head's halves interleaved.
    @Test func ropeLayoutsAgreeUnderPermutation() {
        let hd = 8, heads = 2
        let x = random(hd * heads, seed: 3)
        var neox = x
        var adj = [Float](repeating: 0, count: x.count)
        for h in 0..<heads { for i in 0..<(hd / 2) { adj[h * hd + 2 * i] = x[h * hd + i]; adj[h * hd + 2 * i + 1] = x[h * hd + i + hd / 2] } }
        var c = [Float](repeating: 0, count: hd / 2), s = c
        let rn = RoPE(style: .neox, headDim: hd, theta: 10000), ra = RoPE(style: .adjacent, headDim: hd, theta: 10000)
        rn.table(pos: 7, cos: &c, sin: &s)
        rn.apply(&neox, heads: heads, cos: c, sin: s)
        ra.apply(&adj, heads: heads, cos: c, sin: s)
        for h in 0..<heads { for i in 0..<(hd / 2) {
            #expect(abs(neox[h * hd + i] - adj[h * hd + 2 * i]) < 1e-6)
            #expect(abs(neox[h * hd + i + hd / 2] - adj[h * hd + 2 * i + 1]) < 1e-6)
        } }
        // Position 0 is the identity.
        var z = x
        rn.table(pos: 0, cos: &c, sin: &s)
        rn.apply(&z, heads: heads, cos: c, sin: s)
        #expect(z == x)
    }

    /// The SGEMM chunk path and the per-token path give the same attention output over shuffled blocks.
    @Test func chunkAttentionEqualsTokenAttention() throws {
        try BLAS.load()
        let shape = AttentionShape(nHeads: 4, nKVHeads: 2, headDim: 16)
        let bs = 4, blocks = 12, ctx = 37, start = 20
        var k = random(blocks * bs * 32, seed: 4), v = random(blocks * bs * 32, seed: 5)
        let table: [Int32] = [7, 2, 11, 0, 5, 9, 1, 3, 10, 4]
        let q = random((ctx - start) * 64, seed: 6)
        var outChunk = [Float](repeating: 0, count: (ctx - start) * 64), outTok = outChunk
        var kc = [Float](repeating: 0, count: ctx * 16), vc = kc, s = [Float](repeating: 0, count: 2 * 17 * ctx)
        var qo = [Float](repeating: 0, count: 2 * 2 * PagedAttention.tileRows * 16)   // one worker's regions
        var scores = [Float](repeating: 0, count: shape.group * ctx)   // [group, context]
        k.withUnsafeMutableBufferPointer { kp in v.withUnsafeMutableBufferPointer { vp in
            let kv = PagedLayerKV(k: kp.baseAddress!, v: vp.baseAddress!, blockSize: bs, nKVHeads: 2, headDim: 16)
            table.withUnsafeBufferPointer { t in
                PagedAttention.chunk(q: q, qStride: 64, out: &outChunk, outStride: 64, start: start, count: ctx - start,
                                     table: t.baseAddress!, kv: kv, shape: shape, kc: &kc, vc: &vc, s: &s, qo: &qo)
                for i in 0..<(ctx - start) {
                    q.withUnsafeBufferPointer { qp in outTok.withUnsafeMutableBufferPointer { op in
                        PagedAttention.token(q: qp.baseAddress! + i * 64, out: op.baseAddress! + i * 64, pos: start + i,
                                             table: t.baseAddress!, kv: kv, shape: shape, scores: &scores)
                    } }
                }
            }
        } }
        for i in outChunk.indices { #expect(abs(outChunk[i] - outTok[i]) < 1e-5) }
    }
}
