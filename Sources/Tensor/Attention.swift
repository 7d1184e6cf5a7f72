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
    /// One query token, all heads, scalar path (decode and short chunks).
    /// q: [nHeads, headDim]; out: [nHeads, headDim]; scores: scratch of at least pos + 1 floats.
    public static func token(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, pos: Int,
                             table: UnsafePointer<Int32>, kv: PagedLayerKV, shape: AttentionShape,
                             scores: UnsafeMutablePointer<Float>) {
        let hd = shape.headDim, n = pos + 1, scale = shape.scale
        for h in 0..<shape.nHeads {
            let qh = q + h * hd, oh = out + h * hd
            let kvOff = (h / shape.group) * hd
            for p in 0..<n { scores[p] = Kernels.dot(qh, kv.k + kv.slot(table, p) + kvOff, hd) * scale }
            Kernels.softmax(scores, n)
            oh.update(repeating: 0, count: hd)
            for p in 0..<n { Kernels.axpy(scores[p], kv.v + kv.slot(table, p) + kvOff, oh, hd) }
        }
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
            for p in 0..<ctx {   // gather [ctx, hd]
                let o = kv.slot(table, p) + g * hd
                (kc + p * hd).update(from: kv.k + o, count: hd)
                (vc + p * hd).update(from: kv.v + o, count: hd)
            }
            for h in (g * shape.group)..<((g + 1) * shape.group) {
                // s[count, ctx] = scale · Q_h[count, hd] · Kᵀ
                BLAS.sgemm(transB: true, m: count, n: ctx, k: hd, alpha: shape.scale, a: q + h * hd, lda: qStride,
                           b: kc, ldb: hd, c: s, ldc: ctx)
                for i in 0..<count {   // causal mask: row i sees positions 0...start+i
                    let row = s + i * ctx, visible = start + i + 1
                    Kernels.softmax(row, visible)
                    if visible < ctx { (row + visible).update(repeating: 0, count: ctx - visible) }
                }
                // out_h[count, hd] = s · V
                BLAS.sgemm(transB: false, m: count, n: hd, k: ctx, a: s, lda: ctx, b: vc, ldb: hd,
                           c: out + h * hd, ldc: outStride)
            }
        }
    }
}
