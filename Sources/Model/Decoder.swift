import Foundation
public import Tensor

/// Logits of the rows a batch asked for: [rows, vocab], valid until the next `forward`.
public struct Logits: @unchecked Sendable {
    public let base: UnsafePointer<Float>
    public let rows: Int
    public let vocab: Int
    public func row(_ i: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: base + i * vocab, count: vocab) }
    public func array(_ i: Int) -> [Float] { Array(row(i)) }
}

/// What the engine holds: a causal language model that runs a flat batch of token runs over a paged KV cache and
/// returns the logits of the rows asked for. It sees no requests.
public protocol CausalLM: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// Numerics of the projections (see `Precision`).
    var precision: Precision { get set }
    /// Attaches a KV cache of `numBlocks` blocks of `blockSize` positions (replacing any previous one).
    func allocateKVCache(blockSize: Int, numBlocks: Int) throws(ModelError)
    /// Runs every token of the batch, writes their K/V into the cache at the slots their block tables give, and
    /// returns the logits of `batch.logitRows` (valid until the next call). One thread calls it at a time.
    func forward(_ batch: ForwardBatch) -> Logits
}

/// Loads any model file the engine runs (see `DecoderModel.load`).
public enum ModelLoader {
    public static func load(path: String, progress: LoadProgress? = nil) throws(ModelError) -> any CausalLM {
        try DecoderModel.load(path: path, progress: progress)
    }
}

/// The decoder-only transformer every registered architecture is (RMSNorm, RoPE, GQA, gated FFN), with the
/// architecture's features from its config (`ModelConfig`: biases, Q/K norms, sandwich norms, GeGLU, embedding
/// scale, sliding-window layers with their own RoPE, soft-capping), over a paged KV cache.
/// Not thread-safe: one thread (the engine's step loop) calls `forward` at a time.
public final class DecoderModel: CausalLM, @unchecked Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights
    public private(set) var kv: PagedKVStorage?
    let rope: RoPE
    /// RoPE of the sliding-window layers when their base differs (Gemma 3), else nil.
    let localRope: RoPE?
    let shape: AttentionShape
    let localShape: AttentionShape
    var scratch = Scratch()
    /// Numerics of the projections (see `Precision`); the engine sets it from `--precision`.
    public var precision: Precision = .exact
    /// Chunks of at least this many query tokens use the SGEMM attention path.
    public var gemmAttentionThreshold = 8
    /// Seconds spent per phase of `forward`, accumulated while `profiling` is on (for tuning, not the hot path).
    public var profiling = false
    public private(set) var phaseSeconds: [String: Double] = [:]

    @inline(__always)
    func phase<T>(_ name: String, _ body: () -> T) -> T {
        guard profiling else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        phaseSeconds[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return r
    }

    public init(config: ModelConfig, weights: ModelWeights) {
        self.config = config
        self.weights = weights
        rope = RoPE(style: config.ropeStyle, headDim: config.headDim, theta: config.ropeTheta,
                    freqScale: config.ropeFreqScale, factors: weights.ropeFactors)
        let local = config.localLayers.contains(true) && config.slidingWindow > 0
        localRope = local ? RoPE(style: config.ropeStyle, headDim: config.headDim,
                                 theta: config.ropeThetaLocal ?? config.ropeTheta) : nil
        shape = AttentionShape(nHeads: config.nHeads, nKVHeads: config.nKVHeads, headDim: config.headDim,
                               scale: config.attentionScale)
        localShape = AttentionShape(nHeads: config.nHeads, nKVHeads: config.nKVHeads, headDim: config.headDim,
                                    scale: config.attentionScale, window: config.slidingWindow)
    }

    /// Loads a GGUF (any registered architecture), llama2.c or Hugging Face safetensors checkpoint
    /// (see `loadAnyFormat`).
    public static func load(path: String, progress: LoadProgress? = nil) throws(ModelError) -> DecoderModel {
        do { try BLAS.load() } catch { throw ModelError(error.message) }
        let (c, w) = try loadAnyFormat(path: path, progress: progress)
        return DecoderModel(config: c, weights: w)
    }

    /// Attaches a KV cache of `numBlocks` blocks (replacing any previous one).
    public func allocateKVCache(blockSize: Int, numBlocks: Int) throws(ModelError) {
        kv = try PagedKVStorage(config: config, blockSize: blockSize, numBlocks: numBlocks)
    }

    /// Runs every token of the batch through the model, writes their K/V into the cache at the slots their
    /// block tables give, and returns the logits of `batch.logitRows`.
    public func forward(_ batch: ForwardBatch) -> Logits {
        guard let kv else { preconditionFailure("allocateKVCache before forward") }
        let c = config, t = batch.count, nOut = batch.logitRows.count
        scratch.reserve(tokens: t, outRows: nOut, maxContext: batch.maxContext, config: c)
        let s = scratch
        embed(batch.tokens, into: s.x)
        prepareRoPE(batch, s)
        let plan = attentionPlan(batch, s)   // the same for every layer: built once per step
        for l in 0..<c.nLayers {
            attentionBlock(layer: l, batch: batch, plan: plan, kv: kv.layer(l), s)
            feedForwardBlock(layer: l, tokens: t, s)
        }
        return phase("head") { head(batch.logitRows, s) }
    }

    /// x[t, :] = embedding[token t] (× the architecture's embedding scale), dequantized row by row.
    func embed(_ tokens: [Int32], into x: UnsafeMutablePointer<Float>) {
        let d = config.dim
        for (i, tok) in tokens.enumerated() {
            precondition(tok >= 0 && Int(tok) < config.vocabSize, "token id \(tok) outside the vocabulary")
            weights.embedding.dequantizeRows(Int(tok), into: x + i * d)
            if config.embeddingScale != 1 { Kernels.scale(x + i * d, by: config.embeddingScale, d) }
        }
    }

    /// cos/sin tables [t, headDim/2] for each token's position, shared by all layers (the local layers' own
    /// tables too when their RoPE base differs).
    func prepareRoPE(_ batch: ForwardBatch, _ s: Scratch) {
        let half = config.headDim / 2
        for seq in batch.sequences {
            for i in 0..<seq.tokenCount {
                let row = (seq.tokenStart + i) * half
                rope.table(pos: seq.startPosition + i, cos: s.cos + row, sin: s.sin + row)
                localRope?.table(pos: seq.startPosition + i, cos: s.cosLocal + row, sin: s.sinLocal + row)
            }
        }
    }

    func attentionBlock(layer l: Int, batch: ForwardBatch, plan: AttentionPlan, kv: PagedLayerKV, _ s: Scratch) {
        let c = config, w = weights.layers[l], t = batch.count
        phase("norm") { Kernels.rmsNorm(s.x, weight: w.attnNorm, rows: t, dim: c.dim, eps: c.rmsEps, into: s.xn) }
        phase("qkv") {
            w.wqkv.linear(s.xn, rows: t, into: s.qkv, precision: precision)
            if let bias = w.qkvBias { for r in 0..<t { Kernels.add(bias, into: s.qkv + r * c.qkvDim, c.qkvDim) } }
        }
        let local = c.isLocal(l)
        phase("rope+store") { storeKV(batch: batch, kv: kv, layer: w, local: local, s) }
        phase("attention") { attend(batch: batch, plan: plan, kv: kv, shape: local ? localShape : shape, s) }
        phase("wo") {
            if let post = w.postAttnNorm {
                w.wo.linear(s.attn, rows: t, into: s.xn, precision: precision)
                Kernels.rmsNorm(s.xn, weight: post, rows: t, dim: c.dim, eps: c.rmsEps, into: s.xn)
                Kernels.add(s.xn, into: s.x, t * c.dim)
            } else {
                w.wo.linear(s.attn, rows: t, into: s.x, accumulate: true, precision: precision)
            }
        }
    }

    /// Normalizes (Q/K norm architectures) and rotates Q and K of every token and writes K, V into the token's
    /// cache slot.
    func storeKV(batch: ForwardBatch, kv: PagedLayerKV, layer w: LayerWeights, local: Bool, _ s: Scratch) {
        let c = config, half = c.headDim / 2
        let r = local ? (localRope ?? rope) : rope
        let cosT = local && localRope != nil ? s.cosLocal : s.cos, sinT = local && localRope != nil ? s.sinLocal : s.sin
        for seq in batch.sequences {
            seq.blockTable.withUnsafeBufferPointer { table in
                for i in 0..<seq.tokenCount {
                    let ti = seq.tokenStart + i
                    let q = s.qkv + ti * c.qkvDim, k = q + c.qDim, v = k + c.kvDim
                    if let qn = w.qNorm, let kn = w.kNorm {
                        Kernels.rmsNorm(q, weight: qn, rows: c.nHeads, dim: c.headDim, eps: c.rmsEps, into: q)
                        Kernels.rmsNorm(k, weight: kn, rows: c.nKVHeads, dim: c.headDim, eps: c.rmsEps, into: k)
                    }
                    r.apply(q, heads: c.nHeads, cos: cosT + ti * half, sin: sinT + ti * half)
                    r.apply(k, heads: c.nKVHeads, cos: cosT + ti * half, sin: sinT + ti * half)
                    kv.store(k: k, v: v, table: table.baseAddress!, pos: seq.startPosition + i)
                }
            }
        }
    }

    /// Which sequences attend as SGEMM chunks and which tokens one by one (their queries point into `s`).
    struct AttentionPlan: Sendable {
        var chunks: [Int] = []             // sequence indices
        var tokens: [TokenQuery] = []      // single-token queries, block tables copied to s.tables
    }

    func attentionPlan(_ batch: ForwardBatch, _ s: Scratch) -> AttentionPlan {
        let c = config
        var plan = AttentionPlan()
        s.reserveTables(batch.sequences.reduce(0) { $0 + $1.blockTable.count })
        var at = 0
        for (si, seq) in batch.sequences.enumerated() {
            if seq.tokenCount >= gemmAttentionThreshold { plan.chunks.append(si); continue }
            let table = s.tables + at
            seq.blockTable.withUnsafeBufferPointer { table.update(from: $0.baseAddress!, count: $0.count) }
            at += seq.blockTable.count
            for i in 0..<seq.tokenCount {
                let ti = seq.tokenStart + i
                plan.tokens.append(TokenQuery(q: s.qkv + ti * c.qkvDim, out: s.attn + ti * c.qDim,
                                              positions: seq.startPosition + i + 1, table: table))
            }
        }
        return plan
    }

    /// Long runs (prefill chunks) go through SGEMM tiles, one chunk after another, its tiles spread over the pool;
    /// single tokens and short runs go to the pool in one dispatch, (token, KV head) pairs at a time.
    func attend(batch: ForwardBatch, plan: AttentionPlan, kv: PagedLayerKV, shape: AttentionShape, _ s: Scratch) {
        for si in plan.chunks { attendChunk(batch.sequences[si], kv: kv, shape: shape, s) }
        plan.tokens.withUnsafeBufferPointer { queries in
            PagedAttention.tokens(queries, kv: kv, shape: shape, workers: Kernels.cpuCount, scores: s.scores,
                                  scoresStride: s.scoresStride)
        }
    }

    func attendChunk(_ seq: ForwardBatch.Sequence, kv: PagedLayerKV, shape: AttentionShape, _ s: Scratch) {
        let c = config, ti = seq.tokenStart
        seq.blockTable.withUnsafeBufferPointer { table in
            PagedAttention.chunk(q: s.qkv + ti * c.qkvDim, qStride: c.qkvDim, out: s.attn + ti * c.qDim,
                                 outStride: c.qDim, start: seq.startPosition, count: seq.tokenCount,
                                 table: table.baseAddress!, kv: kv, shape: shape, kc: s.kc, vc: s.vc,
                                 s: s.chunkScores, qo: s.chunkQO, workers: Kernels.cpuCount)
        }
    }

    func feedForwardBlock(layer l: Int, tokens t: Int, _ s: Scratch) {
        let c = config, w = weights.layers[l]
        phase("norm") { Kernels.rmsNorm(s.x, weight: w.ffnNorm, rows: t, dim: c.dim, eps: c.rmsEps, into: s.xn) }
        phase("gate_up") { w.wGateUp.linear(s.xn, rows: t, into: s.gateUp, precision: precision) }
        let workers = t >= 4 ? min(Kernels.cpuCount, t) : 1
        let gelu = c.activation == .geluTanh
        phase("swiglu") {
            Kernels.parallel(workers: workers) { wk in
                let lo = t * wk / workers, hi = t * (wk + 1) / workers
                if gelu {
                    Kernels.geglu(s.gateUp + lo * 2 * c.hiddenDim, rows: hi - lo, hidden: c.hiddenDim,
                                  into: s.hidden + lo * c.hiddenDim)
                } else {
                    Kernels.swiglu(s.gateUp + lo * 2 * c.hiddenDim, rows: hi - lo, hidden: c.hiddenDim,
                                   into: s.hidden + lo * c.hiddenDim)
                }
            }
        }
        phase("down") {
            if let post = w.postFFNNorm {
                w.wDown.linear(s.hidden, rows: t, into: s.xn, precision: precision)
                Kernels.rmsNorm(s.xn, weight: post, rows: t, dim: c.dim, eps: c.rmsEps, into: s.xn)
                Kernels.add(s.xn, into: s.x, t * c.dim)
            } else {
                w.wDown.linear(s.hidden, rows: t, into: s.x, accumulate: true, precision: precision)
            }
        }
    }

    /// Final norm and output projection for the requested rows only.
    func head(_ rows: [Int32], _ s: Scratch) -> Logits {
        let c = config
        for (o, r) in rows.enumerated() {
            Kernels.rmsNorm(s.x + Int(r) * c.dim, weight: weights.finalNorm, rows: 1, dim: c.dim, eps: c.rmsEps,
                            into: s.outNorm + o * c.dim)
        }
        if !rows.isEmpty {
            weights.output.linear(s.outNorm, rows: rows.count, into: s.logits, precision: precision)
            if c.finalLogitSoftcap > 0 { Kernels.softcap(s.logits, cap: c.finalLogitSoftcap, rows.count * c.vocabSize) }
        }
        return Logits(base: s.logits, rows: rows.count, vocab: c.vocabSize)
    }
}

extension ForwardBatch {
    /// The longest context any sequence reaches in this batch.
    var maxContext: Int { sequences.reduce(0) { max($0, $1.startPosition + $1.tokenCount) } }
}
