/// The llama2.c checkpoint header. `sharedClassifier` is true when the header's vocab size is positive
/// (the classifier reuses the token embedding); a negative vocab size means a separate `wcls` follows.
public struct Llama2cConfig: Sendable, Equatable {
    public let dim, hiddenDim, nLayers, nHeads, nKVHeads, vocabSize, seqLen: Int
    public let sharedClassifier: Bool

    public init(dim: Int, hiddenDim: Int, nLayers: Int, nHeads: Int, nKVHeads: Int, vocabSize: Int,
                seqLen: Int, sharedClassifier: Bool) {
        self.dim = dim
        self.hiddenDim = hiddenDim
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.sharedClassifier = sharedClassifier
    }

    public var headSize: Int { dim / nHeads }
    public var kvDim: Int { dim / nHeads * nKVHeads }
}

/// Karpathy's llama2.c legacy checkpoint (`.bin`): 7 x Int32 header, then float32 weights in run.c order.
/// The file is mapped; `floats` returns views into it (valid while this object is alive).
public final class Llama2cCheckpoint: Sendable {
    public enum Weight: Sendable, Hashable, CaseIterable {
        case tokenEmbedding, rmsAtt, wq, wk, wv, wo, rmsFFN, w1, w2, w3, rmsFinal, wcls
    }

    static let headerSize = 7 * 4

    public let config: Llama2cConfig
    public let file: MappedFile
    private let layout: Llama2cLayout

    public init(path: String) throws(ModelFileError) {
        let file = try MappedFile(path: path)
        let config = try Self.readHeader(file.bytes, path: path)
        let layout = try Llama2cLayout(config: config, path: path)
        try layout.checkFileSize(file.bytes.count, config: config, path: path)
        self.file = file
        self.config = config
        self.layout = layout
    }

    /// The whole tensor (all layers), e.g. `wq` is [nLayers, dim, dim] row-major.
    public func floats(_ w: Weight) -> UnsafeBufferPointer<Float> {
        let span = layout.span(w)
        return view(floatOffset: span.floatOffset, count: span.count)
    }

    /// One layer's slice of a per-layer tensor, e.g. `wq` layer l is [dim, dim].
    public func floats(_ w: Weight, layer: Int) -> UnsafeBufferPointer<Float> {
        let span = layout.span(w)
        precondition(w.isPerLayer, "\(w) is not a per-layer weight")
        precondition(layer >= 0 && layer < config.nLayers, "layer \(layer) out of range 0..<\(config.nLayers)")
        let perLayer = span.count / config.nLayers
        return view(floatOffset: span.floatOffset + layer * perLayer, count: perLayer)
    }

    private func view(floatOffset: Int, count: Int) -> UnsafeBufferPointer<Float> {
        // The mapping is page-aligned and weights start at byte 28, so every float is 4-byte aligned.
        // Bounds were checked in init (file size == header-implied size).
        guard let base = file.bytes.baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        let start = (base + Self.headerSize + 4 * floatOffset).bindMemory(to: Float.self, capacity: count)
        return UnsafeBufferPointer(start: start, count: count)
    }

    private static func readHeader(_ bytes: UnsafeRawBufferPointer,
                                   path: String) throws(ModelFileError) -> Llama2cConfig {
        guard bytes.count >= headerSize else {
            throw ModelFileError(path: path, message:
                "truncated llama2.c checkpoint: \(bytes.count) bytes, the header alone needs \(headerSize)")
        }
        var reader = ByteReader(bytes: bytes, path: path)
        var h: [Int] = []  // dim, hidden, layers, heads, kvHeads, vocab, seqLen
        for _ in 0..<7 { h.append(Int(try reader.read(Int32.self))) }
        let config = Llama2cConfig(dim: h[0], hiddenDim: h[1], nLayers: h[2], nHeads: h[3], nKVHeads: h[4],
                                   vocabSize: abs(h[5]), seqLen: h[6], sharedClassifier: h[5] > 0)
        try validate(config, rawVocab: h[5], path: path)
        return config
    }

    private static func validate(_ c: Llama2cConfig, rawVocab: Int, path: String) throws(ModelFileError) {
        func bad(_ why: String) -> ModelFileError {
            ModelFileError(path: path, message: "bad llama2.c header (dim=\(c.dim) hidden_dim=\(c.hiddenDim) "
                + "n_layers=\(c.nLayers) n_heads=\(c.nHeads) n_kv_heads=\(c.nKVHeads) vocab_size=\(rawVocab) "
                + "seq_len=\(c.seqLen)): \(why)")
        }
        let positive = [("dim", c.dim), ("hidden_dim", c.hiddenDim), ("n_layers", c.nLayers),
                        ("n_heads", c.nHeads), ("n_kv_heads", c.nKVHeads), ("seq_len", c.seqLen)]
        for (name, value) in positive where value <= 0 { throw bad("\(name) must be positive") }
        guard rawVocab != 0 else { throw bad("vocab_size must be non-zero") }
        guard c.dim % c.nHeads == 0 else { throw bad("n_heads does not divide dim") }
        guard c.nHeads % c.nKVHeads == 0 else { throw bad("n_kv_heads does not divide n_heads") }
        guard c.headSize % 2 == 0 else { throw bad("head size \(c.headSize) is odd (RoPE rotates pairs)") }
    }
}

extension Llama2cCheckpoint.Weight {
    var isPerLayer: Bool {
        switch self {
        case .rmsAtt, .wq, .wk, .wv, .wo, .rmsFFN, .w1, .w2, .w3: true
        case .tokenEmbedding, .rmsFinal, .wcls: false
        }
    }
}

/// Where each weight lives, in floats after the header, computed with overflow checks.
struct Llama2cLayout: Sendable {
    struct Span: Sendable { var floatOffset: Int; var count: Int; var layers: Int }

    private let spans: [Llama2cCheckpoint.Weight: Span]
    /// Floats after the header without / with a separate classifier.
    let floatsShared: Int
    let floatsSeparate: Int

    init(config c: Llama2cConfig, path: String) throws(ModelFileError) {
        typealias W = Llama2cCheckpoint.Weight
        let L = c.nLayers
        let order: [(W?, [Int], Int)] = [  // weight (nil = skipped), shape factors, layers
            (.tokenEmbedding, [c.vocabSize, c.dim], 1), (.rmsAtt, [L, c.dim], L), (.wq, [L, c.dim, c.dim], L),
            (.wk, [L, c.kvDim, c.dim], L), (.wv, [L, c.kvDim, c.dim], L), (.wo, [L, c.dim, c.dim], L),
            (.rmsFFN, [L, c.dim], L), (.w1, [L, c.hiddenDim, c.dim], L), (.w2, [L, c.dim, c.hiddenDim], L),
            (.w3, [L, c.hiddenDim, c.dim], L), (.rmsFinal, [c.dim], 1),
            (nil, [c.seqLen, c.headSize / 2], 1), (nil, [c.seqLen, c.headSize / 2], 1),  // freq_cis real, imag
        ]
        var spans: [W: Span] = [:]
        var offset = 0
        for (weight, factors, layers) in order {
            let count = try Self.product(factors, path: path)
            if let weight { spans[weight] = Span(floatOffset: offset, count: count, layers: layers) }
            offset = try Self.sum(offset, count, path: path)
        }
        floatsShared = offset
        let classifier = try Self.product([c.vocabSize, c.dim], path: path)
        floatsSeparate = try Self.sum(offset, classifier, path: path)
        spans[.wcls] = c.sharedClassifier ? spans[.tokenEmbedding]
            : Span(floatOffset: offset, count: classifier, layers: 1)
        self.spans = spans
    }

    func span(_ w: Llama2cCheckpoint.Weight) -> Span {
        spans[w]!  // every case is filled in init
    }

    func checkFileSize(_ size: Int, config: Llama2cConfig, path: String) throws(ModelFileError) {
        let floats = config.sharedClassifier ? floatsShared : floatsSeparate
        let expected = try Self.sum(Llama2cCheckpoint.headerSize, try Self.product([floats, 4], path: path),
                                    path: path)
        guard size != expected else { return }
        let kind = config.sharedClassifier ? "shared classifier (vocab_size > 0)" : "separate classifier (vocab_size < 0)"
        let other = config.sharedClassifier ? floatsSeparate : floatsShared
        let (otherBytes, overflow) = other.multipliedReportingOverflow(by: 4)
        let hint = !overflow && size - Llama2cCheckpoint.headerSize == otherBytes
            ? "; the size would fit the other classifier layout, so the sign of vocab_size looks wrong" : ""
        let what = size < expected ? "truncated" : "size mismatch"
        throw ModelFileError(path: path, message: "\(what): file has \(size) bytes but the header implies "
            + "\(expected) bytes for a \(kind)\(hint)")
    }

    private static func product(_ factors: [Int], path: String) throws(ModelFileError) -> Int {
        var p = 1
        for f in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: f)
            guard !overflow else { throw absurd(path) }
            p = r
        }
        return p
    }

    private static func sum(_ a: Int, _ b: Int, path: String) throws(ModelFileError) -> Int {
        let (r, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw absurd(path) }
        return r
    }

    private static func absurd(_ path: String) -> ModelFileError {
        ModelFileError(path: path, message: "bad llama2.c header: the sizes it implies overflow")
    }
}
