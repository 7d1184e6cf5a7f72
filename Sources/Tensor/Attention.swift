import CKernels
/// One layer's paged K/V storage: `numBlocks` blocks of `blockSize` token slots, each slot `kvDim` floats
/// (all KV heads of one token). Position p of a sequence lives in block `table[p / blockSize]`, slot `p % blockSize`.
public struct PagedLayerKV: @unchecked Sendable {
    public let k: UnsafeMutablePointer<Float>   // [numBlocks, blockSize, kvDim]
    public let v: UnsafeMutablePointer<Float>   // [numBlocks, blockSize, kvDim]
    public let blockSize: Int
    public let kvDim: Int

    public init(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, blockSize: Int, kvDim: Int) {
        self.k = k; self.v = v; self.blockSize = blockSize; self.kvDim = kvDim
    }

    @inline(__always)
    public func slot(_ table: UnsafePointer<Int32>, _ pos: Int) -> Int {
        (Int(table[pos / blockSize]) * blockSize + pos % blockSize) * kvDim
    }
}

/// Shapes of one attention call.
public struct AttentionShape: Sendable {
    public let nHeads: Int
    public let nKVHeads: Int
    public let headDim: Int
    public var group: Int { nHeads / nKVHeads }
    public var scale: Float { 1 / Float(headDim).squareRoot() }
    public init(nHeads: Int, nKVHeads: Int, headDim: Int) {
        self.nHeads = nHeads; self.nKVHeads = nKVHeads; self.headDim = headDim
    }
}

/// Causal attention of query tokens over paged K/V. Token t attends to positions 0...pos[t] of its sequence.
public enum PagedAttention {
    /// One query token, all heads (decode and short chunks). Walks the block table block by block and scores
    /// all query heads of a KV group against each key as it streams by (GQA: K and V are read once per group).
    /// q: [nHeads, headDim]; out: [nHeads, headDim]; scores: scratch of at least group · (pos + 1) floats.
    public static func token(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, pos: Int,
                             table: UnsafePointer<Int32>, kv: PagedLayerKV, shape: AttentionShape,
                             scores: UnsafeMutablePointer<Float>) {
        swl_attention_token(q, out, Int32(pos + 1), table, kv.k, kv.v, Int32(kv.blockSize), Int32(kv.kvDim),
                            Int32(shape.nHeads), Int32(shape.nKVHeads), Int32(shape.headDim), shape.scale, scores)
    }

    /// A chunk of `count` query tokens of one sequence at consecutive positions start..<start+count, through
    /// SGEMM: K and V of the context are gathered once per KV head into contiguous scratch.
    /// q rows are `qStride` apart ([count, nHeads·headDim] inside a wider row); out rows `outStride` apart.
    /// Scratch sizes: kc, vc ≥ (start+count)·headDim; s ≥ count·(start+count).
    public static func chunk(q: UnsafePointer<Float>, qStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                             start: Int, count: Int, table: UnsafePointer<Int32>, kv: PagedLayerKV,
                             shape: AttentionShape, kc: UnsafeMutablePointer<Float>, vc: UnsafeMutablePointer<Float>,
                             s: UnsafeMutablePointer<Float>) {
        let hd = shape.headDim, ctx = start + count
        for g in 0..<shape.nKVHeads {
            let bs = kv.blockSize
            for b in 0..<((ctx + bs - 1) / bs) {   // gather [ctx, hd], block by block
                let base = Int(table[b]) * bs * kv.kvDim + g * hd
                for j in 0..<min(bs, ctx - b * bs) {
                    let p = b * bs + j
                    (kc + p * hd).update(from: kv.k + base + j * kv.kvDim, count: hd)
                    (vc + p * hd).update(from: kv.v + base + j * kv.kvDim, count: hd)
                }
            }
            for h in (g * shape.group)..<((g + 1) * shape.group) {
                // s[count, ctx] = scale · Q_h[count, hd] · Kᵀ
                BLAS.sgemm(transB: true, m: count, n: ctx, k: hd, alpha: shape.scale, a: q + h * hd, lda: qStride,
                           b: kc, ldb: hd, c: s, ldc: ctx)
                // Causal mask: row i sees positions 0...start+i. Rows split over the cores (no BLAS runs meanwhile).
                let rows = SendablePointer(s), workers = count >= 64 ? Kernels.cpuCount : 1
                Kernels.parallel(workers: workers) { w in
                    var i = w
                    while i < count {
                        let row = rows.p + i * ctx, visible = start + i + 1
                        Kernels.softmax(row, visible)
                        if visible < ctx { (row + visible).update(repeating: 0, count: ctx - visible) }
                        i += workers
                    }
                }
                // out_h[count, hd] = s · V
                BLAS.sgemm(transB: false, m: count, n: hd, k: ctx, a: s, lda: ctx, b: vc, ldb: hd,
                           c: out + h * hd, ldc: outStride)
            }
        }
    }
}

/// A raw pointer handed to the parallel kernels, which write disjoint parts of it.
struct SendablePointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}
