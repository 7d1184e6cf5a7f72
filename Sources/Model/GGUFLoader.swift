import ModelFormats
import Tensor

extension DecoderModel {
    /// Tensor formats the kernels run (`WeightMatrix`); norms and biases of any of them are dequantized to Float.
    static var supportedTypes: Set<GGMLType> { Set(GGMLType.allCases) }

    /// Hyper-parameters from GGUF metadata: the keys every llama.cpp architecture shares, then the architecture's own.
    static func configFromGGUF(_ g: GGUFFile) throws(ModelError) -> ModelConfig {
        let name = g.architecture ?? "(missing general.architecture)"
        guard let def = Architectures.gguf(name) else {
            throw ModelError("\(g.path): unsupported architecture '\(name)' (supported: \(Architectures.ggufSupported))")
        }
        let key = { (k: String) in "\(name).\(k)" }
        func req(_ k: String) throws(ModelError) -> Int {
            guard let v = g.int(key(k)) else { throw ModelError("\(g.path): missing metadata \(key(k))") }
            return v
        }
        let dim = try req("embedding_length"), heads = try req("attention.head_count")
        let embd = g.tensorInfo("token_embd.weight")
        let vocab = g.stringArray("tokenizer.ggml.tokens")?.count ?? embd?.dims.last ?? 0
        let headDim = g.int(key("attention.key_length")) ?? dim / max(heads, 1)
        if let v = g.int(key("attention.value_length")), v != headDim {
            throw ModelError("\(g.path): \(key("attention.value_length")) \(v) differs from key_length \(headDim) (not supported)")
        }
        if let r = g.int(key("rope.dimension_count")), r != headDim {
            throw ModelError("\(g.path): \(key("rope.dimension_count")) \(r) rotates part of a \(headDim)-wide head (partial RoPE is not supported)")
        }
        var c = ModelConfig(
            architecture: def.architecture, dim: dim, hiddenDim: try req("feed_forward_length"),
            nLayers: try req("block_count"), nHeads: heads, nKVHeads: g.int(key("attention.head_count_kv")) ?? heads,
            headDim: headDim, vocabSize: vocab, contextLength: g.int(key("context_length")) ?? 2048,
            ropeTheta: g.float(key("rope.freq_base")) ?? 10000, ropeStyle: .neox,
            rmsEps: g.float(key("attention.layer_norm_rms_epsilon")) ?? 1e-5,
            tiedOutput: g.tensorInfo("output.weight") == nil)
        try def.configure(&c, gguf: g, key: key)
        return c
    }

    static func loadGGUF(path: String, progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        let g: GGUFFile
        do { g = try GGUFFile(path: path) } catch { throw ModelError(error.description) }
        let c = try configFromGGUF(g)
        try c.validate()
        let def = Architectures.definition(c.architecture)
        // ggml dims are [in, out]: a [cols, rows] matrix; vectors are [n]
        func source(_ role: TensorRole) throws(ModelError) -> TensorSource {
            guard let name = def.ggufTensor(role) else {
                throw ModelError("\(path): architecture \(c.architecture.rawValue) has no tensor for \(role)")
            }
            let (rows, cols) = role.shape(c)
            do {
                let info = try g.requireTensor(name, type: supportedTypes, dims: rows == 1 ? [cols] : [cols, rows])
                let bytes = try g.tensorBytes(name)
                return TensorSource(type: info.type, bytes: bytes.baseAddress!, rows: rows, cols: cols)
            } catch { throw ModelError(error.description) }
        }
        let w = try ModelWeights.build(c, progress: progress, tensor: source) { (role) throws(ModelError) -> TensorSource? in
            guard let name = def.ggufTensor(role), g.tensorInfo(name) != nil else { return nil }
            return try source(role)
        }
        return (c, w)
    }
}
