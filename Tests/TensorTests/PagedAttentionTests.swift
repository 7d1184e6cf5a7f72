import Foundation
import Testing
@testable import Tensor

/// The paged attention kernels against a plain reference (Double, no paging) on random data: GQA groups of several
/// sizes, partial last blocks, block tables shuffled over a pool shared by several sequences, both the fast path
/// (block size 16, head size 64) and the generic one.
@Suite("Paged attention")
struct PagedAttentionTests {
    /// A pool holding `contexts.count` sequences' K/V at shuffled blocks, with each sequence's logical K/V kept aside.
    struct Fixture {
        let shape: AttentionShape
        let blockSize: Int
        var k: [Float], v: [Float]          // pools [numBlocks, blockSize · kvDim]
        var tables: [[Int32]]               // per sequence
        var keys: [[Float]], values: [[Float]]   // per sequence [context, kvDim]

        init(shape: AttentionShape, blockSize: Int, contexts: [Int], seed: UInt64) {
            self.shape = shape; self.blockSize = blockSize
            var rng = Rng(seed)
            let kvDim = shape.nKVHeads * shape.headDim
            let need = contexts.map { ($0 + blockSize - 1) / blockSize }, numBlocks = need.reduce(0, +) + 3
            var ids = Array(0..<Int32(numBlocks))
            for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, rng.below(i + 1)) }
            tables = []; var at = 0
            for n in need { tables.append(Array(ids[at..<(at + n)])); at += n }
            // Garbage everywhere first: slots past a sequence's end must not leak into its result.
            k = rng.floats(numBlocks * blockSize * kvDim, 1e3); v = rng.floats(numBlocks * blockSize * kvDim, 1e3)
            keys = contexts.map { rng.floats($0 * kvDim, 1) }
            values = contexts.map { rng.floats($0 * kvDim, 1) }
            k.withUnsafeMutableBufferPointer { kp in v.withUnsafeMutableBufferPointer { vp in
                let kv = PagedLayerKV(k: kp.baseAddress!, v: vp.baseAddress!, blockSize: blockSize,
                                      nKVHeads: shape.nKVHeads, headDim: shape.headDim)
                for s in contexts.indices {
                    for p in 0..<contexts[s] {
                        kv.store(k: keys[s].withUnsafeBufferPointer { $0.baseAddress! + p * kvDim },
                                 v: values[s].withUnsafeBufferPointer { $0.baseAddress! + p * kvDim },
                                 table: tables[s].withUnsafeBufferPointer { $0.baseAddress! }, pos: p)
                    }
                }
            } }
        }

        /// Softmax(q·Kᵀ·scale)·V over positions 0..<n of sequence s, every head, in Double.
        func reference(q: [Float], seq s: Int, positions n: Int) -> [Float] {
            let hd = shape.headDim, kvDim = shape.nKVHeads * hd
            var out = [Float](repeating: 0, count: shape.nHeads * hd)
            for h in 0..<shape.nHeads {
                let g = h / shape.group
                let scores = (0..<n).map { p in
                    (0..<hd).reduce(0.0) { $0 + Double(q[h * hd + $1]) * Double(keys[s][p * kvDim + g * hd + $1]) }
                        * Double(shape.scale)
                }
                let m = scores.max()!, w = scores.map { Foundation.exp($0 - m) }, sum = w.reduce(0, +)
                for d in 0..<hd {
                    let acc = (0..<n).reduce(0.0) { $0 + w[$1] * Double(values[s][$1 * kvDim + g * hd + d]) }
                    out[h * hd + d] = Float(acc / sum)
                }
            }
            return out
        }

        func withKV<T>(_ body: (PagedLayerKV) -> T) -> T {
            var k = k, v = v
            return k.withUnsafeMutableBufferPointer { kp in v.withUnsafeMutableBufferPointer { vp in
                body(PagedLayerKV(k: kp.baseAddress!, v: vp.baseAddress!, blockSize: blockSize,
                                  nKVHeads: shape.nKVHeads, headDim: shape.headDim))
            } }
        }
    }

    static let cases: [(AttentionShape, Int)] = [
        (AttentionShape(nHeads: 9, nKVHeads: 3, headDim: 64), 16),   // SmolLM2: the fast path, group 3
        (AttentionShape(nHeads: 8, nKVHeads: 1, headDim: 64), 16),   // fast path, group 8
        (AttentionShape(nHeads: 6, nKVHeads: 6, headDim: 64), 16),   // fast path, no grouping
        (AttentionShape(nHeads: 4, nKVHeads: 2, headDim: 16), 4),    // generic path
        (AttentionShape(nHeads: 6, nKVHeads: 3, headDim: 64), 8),    // generic path (block size)
    ]
    static let contexts = [1, 16, 17, 37, 300]

    @Test(arguments: 0..<cases.count)
    func storeThenLoadRoundTrips(_ c: Int) {
        let (shape, bs) = Self.cases[c], kvDim = shape.nKVHeads * shape.headDim
        let f = Fixture(shape: shape, blockSize: bs, contexts: Self.contexts, seed: 1)
        var k = [Float](repeating: 0, count: kvDim), v = k
        f.withKV { kv in
            for s in Self.contexts.indices {
                for p in [0, Self.contexts[s] / 2, Self.contexts[s] - 1] {
                    f.tables[s].withUnsafeBufferPointer { kv.load(table: $0.baseAddress!, pos: p, k: &k, v: &v) }
                    #expect(k == Array(f.keys[s][(p * kvDim)..<((p + 1) * kvDim)]))
                    #expect(v == Array(f.values[s][(p * kvDim)..<((p + 1) * kvDim)]))
                }
            }
        }
    }

    /// `token` and the batched `tokens` against the reference, with queries of ordinary and of peaked scale.
    @Test(arguments: 0..<cases.count, [Float(1), 6])
    func decodeMatchesReference(_ c: Int, qScale: Float) {
        let (shape, bs) = Self.cases[c], qDim = shape.nHeads * shape.headDim
        let f = Fixture(shape: shape, blockSize: bs, contexts: Self.contexts, seed: 2)
        var rng = Rng(3)
        let qs = Self.contexts.map { _ in rng.floats(qDim, qScale) }
        let expected = Self.contexts.indices.map { f.reference(q: qs[$0], seq: $0, positions: Self.contexts[$0]) }
        var single = [Float](repeating: .nan, count: qDim * qs.count), batched = single
        var scores = [Float](repeating: 0, count: 2 * 512)
        f.withKV { kv in
            let tables = f.tables.map { t in
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: t.count); p.initialize(from: t, count: t.count)
                return p
            }
            defer { tables.forEach { $0.deallocate() } }
            let q = UnsafeMutablePointer<Float>.allocate(capacity: qDim * qs.count)
            defer { q.deallocate() }
            for (i, row) in qs.enumerated() { (q + i * qDim).initialize(from: row, count: qDim) }
            single.withUnsafeMutableBufferPointer { out in
                for s in qs.indices {
                    PagedAttention.token(q: q + s * qDim, out: out.baseAddress! + s * qDim, pos: Self.contexts[s] - 1,
                                         table: tables[s], kv: kv, shape: shape, scores: &scores)
                }
            }
            batched.withUnsafeMutableBufferPointer { out in
                let queries = qs.indices.map { s in
                    TokenQuery(q: q + s * qDim, out: out.baseAddress! + s * qDim, positions: Self.contexts[s],
                               table: tables[s])
                }
                scores.withUnsafeMutableBufferPointer { sc in
                    queries.withUnsafeBufferPointer {
                        PagedAttention.tokens($0, kv: kv, shape: shape, workers: 2, scores: sc.baseAddress!,
                                              scoresStride: 512)
                    }
                }
            }
        }
        for s in qs.indices {
            for i in 0..<qDim {
                #expect(abs(single[s * qDim + i] - expected[s][i]) < 2e-5, "seq \(s) [\(i)] token")
                #expect(abs(batched[s * qDim + i] - expected[s][i]) < 2e-5, "seq \(s) [\(i)] tokens")
            }
        }
    }

    /// The SGEMM chunk path (gathering Kᵀ and V from the tiles) against the reference, causal rows: a short chunk
    /// and one of several row tiles, the last partial.
    @Test(arguments: 0..<cases.count, [283, 150])
    func chunkMatchesReference(_ c: Int, start: Int) throws {
        try BLAS.load()
        let (shape, bs) = Self.cases[c], qDim = shape.nHeads * shape.headDim, hd = shape.headDim
        let ctx = 300, count = ctx - start, s = 4, tile = shape.group * PagedAttention.tileRows
        let f = Fixture(shape: shape, blockSize: bs, contexts: Self.contexts, seed: 4)
        var rng = Rng(5)
        let q = rng.floats(count * qDim, 1)
        var out = [Float](repeating: .nan, count: count * qDim)
        var kc = [Float](repeating: 0, count: ctx * hd), vc = kc, sc = [Float](repeating: 0, count: tile * ctx)
        var qo = [Float](repeating: 0, count: 2 * tile * hd)
        f.withKV { kv in
            f.tables[s].withUnsafeBufferPointer { t in
                PagedAttention.chunk(q: q, qStride: qDim, out: &out, outStride: qDim, start: start, count: count,
                                     table: t.baseAddress!, kv: kv, shape: shape, kc: &kc, vc: &vc, s: &sc, qo: &qo)
            }
        }
        for i in 0..<count {
            let expected = f.reference(q: Array(q[(i * qDim)..<((i + 1) * qDim)]), seq: s, positions: start + i + 1)
            for j in 0..<qDim { #expect(abs(out[i * qDim + j] - expected[j]) < 2e-5, "row \(i) [\(j)]") }
        }
    }
}

/// SplitMix64, for reproducible test data.
struct Rng {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// n floats uniform in [-scale, scale).
    mutating func floats(_ n: Int, _ scale: Float) -> [Float] {
        (0..<n).map { _ in (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }
}
