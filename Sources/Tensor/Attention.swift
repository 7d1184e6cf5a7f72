import CKernels
/// One layer's paged K/V storage: `numBlocks` blocks of `blockSize` token slots for `nKVHeads` heads of `headDim`.
/// Position p of a sequence lives in block `table[p / blockSize]`, slot `p % blockSize`. Within a block each KV head
/// has a K tile stored transposed, [headDim][blockSize], and a V tile [blockSize][headDim] (see CKernels.h), so
/// decode attention scores a block's slots with vector FMAs and reads each (block, head) as two contiguous tiles.
public struct PagedLayerKV: @unchecked Sendable {
    public let k: UnsafeMutablePointer<Float>   // [numBlocks, nKVHeads, headDim, blockSize]
    public let v: UnsafeMutablePointer<Float>   // [numBlocks, nKVHeads, blockSize, headDim]
    public let blockSize: Int
    public let nKVHeads: Int
    public let headDim: Int
    public var kvDim: Int { nKVHeads * headDim }

    public init(k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, blockSize: Int, nKVHeads: Int,
                headDim: Int) {
        self.k = k; self.v = v; self.blockSize = blockSize; self.nKVHeads = nKVHeads; self.headDim = headDim
    }

    /// Writes one token's K and V ([nKVHeads · headDim] each) at position `pos` of the sequence with `table`.
    @inline(__always)
    public func store(k key: UnsafePointer<Float>, v value: UnsafePointer<Float>, table: UnsafePointer<Int32>,
                      pos: Int) {
        swl_kv_store(key, value, k, v, table[pos / blockSize], Int32(pos % blockSize), Int32(blockSize),
                     Int32(nKVHeads), Int32(headDim))
    }

    /// K and V of position `pos` as [nKVHeads · headDim] rows (for tests and debugging; not the hot path).
    public func load(table: UnsafePointer<Int32>, pos: Int, k key: UnsafeMutablePointer<Float>,
                     v value: UnsafeMutablePointer<Float>) {
        let tile = headDim * blockSize, slot = pos % blockSize
        for g in 0..<nKVHeads {
            let base = (Int(table[pos / blockSize]) * nKVHeads + g) * tile
            for d in 0..<headDim { key[g * headDim + d] = k[base + d * blockSize + slot] }
            (value + g * headDim).update(from: v + base + slot * headDim, count: headDim)
        }
    }
}

/// One decode query for `PagedAttention.tokens`: a token's q and out rows ([nHeads · headDim]), how many positions
/// it attends to (its position + 1) and its sequence's block table.
public struct TokenQuery: @unchecked Sendable {
    public var q: UnsafePointer<Float>
    public var out: UnsafeMutablePointer<Float>
    public var positions: Int
    public var table: UnsafePointer<Int32>
    public init(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, positions: Int, table: UnsafePointer<Int32>) {
        self.q = q; self.out = out; self.positions = positions; self.table = table
    }
}

/// Shapes of one attention call.
public struct AttentionShape: Sendable {
    public let nHeads: Int
    public let nKVHeads: Int
    public let headDim: Int
    /// Score scale: 1/√headDim unless the architecture says otherwise.
    public let scale: Float
    /// Sliding window: a query at position p attends to positions p - window + 1 ... p only; 0 = unlimited.
    public var window: Int
    public var group: Int { nHeads / nKVHeads }
    public init(nHeads: Int, nKVHeads: Int, headDim: Int, scale: Float? = nil, window: Int = 0) {
        self.nHeads = nHeads; self.nKVHeads = nKVHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot(); self.window = window
    }
    /// The first position a query that attends to `positions` positions sees.
    @inline(__always)
    public func first(positions: Int) -> Int { window > 0 ? max(0, positions - window) : 0 }
}

/// Causal attention of query tokens over paged K/V. Token t attends to positions 0...pos[t] of its sequence.
public enum PagedAttention {
    /// One query token, all heads. For block size 16 and head size 64: one pass over the blocks per KV head with an
    /// online softmax, all query heads of the group scored against each K tile (GQA: K and V read once per group).
    /// q: [nHeads, headDim]; out: [nHeads, headDim]; scores: scratch of at least pos + 1 floats.
    public static func token(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, pos: Int,
                             table: UnsafePointer<Int32>, kv: PagedLayerKV, shape: AttentionShape,
                             scores: UnsafeMutablePointer<Float>) {
        let group = shape.group, hd = shape.headDim
        for g in 0..<shape.nKVHeads {
            swl_attention_window(q + g * group * hd, out + g * group * hd, Int32(shape.first(positions: pos + 1)),
                                 Int32(pos + 1), table, kv.k, kv.v, Int32(kv.blockSize), Int32(shape.nKVHeads),
                                 Int32(g), Int32(group), Int32(hd), shape.scale, scores)
        }
    }

    /// Many decode queries in one parallel dispatch: the (query, KV head) pairs are handed out to `workers`
    /// threads one at a time from a shared counter, so uneven contexts and a busy core balance out.
    /// scores: [workers, scoresStride] scratch with scoresStride ≥ the longest `positions`.
    public static func tokens(_ queries: UnsafeBufferPointer<TokenQuery>, kv: PagedLayerKV, shape: AttentionShape,
                              workers: Int, scores: UnsafeMutablePointer<Float>, scoresStride: Int) {
        let units = queries.count * shape.nKVHeads, group = shape.group, hd = shape.headDim
        if units == 0 { return }
        let counter = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        let next = SendableCounter(counter), qs = SendableQueries(queries), scratch = SendablePointer(scores)
        Kernels.parallel(workers: min(workers, units)) { w in
            let s = scratch.p + w * scoresStride
            while true {
                let u = Int(swl_fetch_add(next.p, 1))
                if u >= units { break }
                let item = qs.b[u / shape.nKVHeads], g = u % shape.nKVHeads, off = g * group * hd
                swl_attention_window(item.q + off, item.out + off, Int32(shape.first(positions: item.positions)),
                                     Int32(item.positions), item.table, kv.k, kv.v, Int32(kv.blockSize),
                                     Int32(shape.nKVHeads), Int32(g), Int32(group), Int32(hd), shape.scale, s)
            }
        }
    }

    /// Query rows per SGEMM tile of `chunk`: tiles of the causal triangle, so little of the masked part is computed.
    public static let tileRows = 64

    /// A chunk of `count` query tokens of one sequence at consecutive positions start..<start+count, through
    /// SGEMM: K (transposed, [hd, ctx]) and V ([ctx, hd]) of the context are gathered per KV head into contiguous
    /// scratch; then per tile of `tileRows` query rows, the group's query heads stacked into one matrix attend to the
    /// positions the tile's last row sees. (KV head, tile) units are dealt to `workers` pool threads from a shared
    /// counter, each with its own scratch region (OpenBLAS runs single-threaded inside them).
    /// q rows are `qStride` apart ([count, nHeads·headDim] inside a wider row); out rows `outStride` apart.
    /// Scratch sizes, per worker (regions laid end to end): kc, vc ≥ (start+count)·headDim;
    /// s ≥ group·min(count, tileRows)·(start+count); qo ≥ 2·group·tileRows·headDim.
    public static func chunk(q: UnsafePointer<Float>, qStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                             start: Int, count: Int, table: UnsafePointer<Int32>, kv: PagedLayerKV,
                             shape: AttentionShape, kc: UnsafeMutablePointer<Float>, vc: UnsafeMutablePointer<Float>,
                             s: UnsafeMutablePointer<Float>, qo: UnsafeMutablePointer<Float>, workers: Int = 1) {
        let hd = shape.headDim, ctx = start + count, group = shape.group
        let tiles = (count + tileRows - 1) / tileRows, units = shape.nKVHeads * tiles
        let kvStride = ctx * hd, sStride = group * min(count, tileRows) * ctx, qoStride = 2 * group * tileRows * hd
        let counter = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        let next = SendableCounter(counter), qp = SendableConstPointer(q), op = SendablePointer(out)
        let kcp = SendablePointer(kc), vcp = SendablePointer(vc), sp = SendablePointer(s), qop = SendablePointer(qo)
        let tablep = SendableTable(table)
        Kernels.parallel(workers: min(workers, units)) { w in
            let kcw = kcp.p + w * kvStride, vcw = vcp.p + w * kvStride
            var gathered = -1
            while true {
                let u = Int(swl_fetch_add(next.p, 1))
                if u >= units { break }
                let g = u / tiles, done = (u % tiles) * tileRows
                if g != gathered {   // kc: Kᵀ [hd, ctx]; vc: V [ctx, hd]
                    swl_kv_gather(kv.k, kv.v, tablep.p, Int32(ctx), Int32(kv.blockSize), Int32(kv.nKVHeads), Int32(hd),
                                  Int32(g), kcw, vcw)
                    gathered = g
                }
                let rows = min(tileRows, count - done), head = g * group * hd
                chunkTile(q: qp.p + done * qStride + head, qStride: qStride, out: op.p + done * outStride + head,
                          outStride: outStride, first: start + done, rows: rows, shape: shape, kT: kcw, ldk: ctx,
                          v: vcw, s: sp.p + w * sStride, qo: qop.p + w * qoStride)
            }
        }
    }

    /// One tile: `rows` query tokens at positions first..<first+rows, the `group` heads of one KV head (q, out point at
    /// the group's first head). kT: [hd, ≥ first+rows] with row stride ldk; v: [≥ first+rows, hd].
    static func chunkTile(q: UnsafePointer<Float>, qStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int,
                          first: Int, rows: Int, shape: AttentionShape, kT: UnsafePointer<Float>, ldk: Int,
                          v: UnsafePointer<Float>, s: UnsafeMutablePointer<Float>, qo: UnsafeMutablePointer<Float>) {
        let hd = shape.headDim, group = shape.group, n = first + rows, m = group * rows
        let qs = qo, os = qo + m * hd   // [group·rows, hd] each, row j·rows + i = head j of token i
        for j in 0..<group {
            for i in 0..<rows { (qs + (j * rows + i) * hd).update(from: q + i * qStride + j * hd, count: hd) }
        }
        // s[m, n] = scale · Qs[m, hd] · Kᵀ[hd, n]
        BLAS.sgemm(transB: false, m: m, n: n, k: hd, alpha: shape.scale, a: qs, lda: hd, b: kT, ldb: ldk, c: s, ldc: n)
        // Causal mask: token i sees positions 0...first+i (a sliding window: only the last `window` of them).
        for r in 0..<m {
            let row = s + r * n, visible = first + r % rows + 1, lo = shape.first(positions: visible)
            if lo > 0 { row.update(repeating: 0, count: lo) }
            Kernels.softmax(row + lo, visible - lo)
            if visible < n { (row + visible).update(repeating: 0, count: n - visible) }
        }
        // Os[m, hd] = s · V[n, hd]
        BLAS.sgemm(transB: false, m: m, n: hd, k: n, a: s, lda: n, b: v, ldb: hd, c: os, ldc: hd)
        for j in 0..<group {
            for i in 0..<rows { (out + i * outStride + j * hd).update(from: os + (j * rows + i) * hd, count: hd) }
        }
    }
}

/// The work counter and queries of `PagedAttention.tokens`, shared by its workers.
struct SendableCounter: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int32>
    init(_ p: UnsafeMutablePointer<Int32>) { self.p = p }
}

struct SendableQueries: @unchecked Sendable {
    let b: UnsafeBufferPointer<TokenQuery>
    init(_ b: UnsafeBufferPointer<TokenQuery>) { self.b = b }
}

struct SendableConstPointer: @unchecked Sendable {
    let p: UnsafePointer<Float>
    init(_ p: UnsafePointer<Float>) { self.p = p }
}

struct SendableTable: @unchecked Sendable {
    let p: UnsafePointer<Int32>
    init(_ p: UnsafePointer<Int32>) { self.p = p }
}

/// A raw pointer handed to the parallel kernels, which write disjoint parts of it.
struct SendablePointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}
