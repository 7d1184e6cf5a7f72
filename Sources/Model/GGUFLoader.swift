import ModelFormats
import Tensor

extension LlamaModel {
    static let supportedTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

    /// Reads a GGUF `llama`-architecture model: hyper-parameters from metadata, tensors kept in their encoding.
    static func configFromGGUF(_ g: GGUFFile) throws(ModelError) -> ModelConfig {
        let arch = g.architecture ?? "?"
        guard arch == "llama" else {
            throw ModelError("\(g.path): unsupported architecture '\(arch)' (supported: llama)")
        }
        func req(_ key: String) throws(ModelError) -> Int {
            guard let v = g.int("\(arch).\(key)") else { throw ModelError("\(g.path): missing metadata \(arch).\(key)") }
            return v
        }
        let dim = try req("embedding_length"), heads = try req("attention.head_count")
        let embd = g.tensorInfo("token_embd.weight")
        let vocab = g.stringArray("tokenizer.ggml.tokens")?.count ?? embd?.dims.last ?? 0
        return ModelConfig(
            architecture: arch, dim: dim, hiddenDim: try req("feed_forward_length"), nLayers: try req("block_count"),
            nHeads: heads, nKVHeads: g.int("\(arch).attention.head_count_kv") ?? heads,
            headDim: g.int("\(arch).attention.key_length") ?? dim / max(heads, 1),
            vocabSize: vocab, contextLength: g.int("\(arch).context_length") ?? 2048,
            ropeTheta: g.float("\(arch).rope.freq_base") ?? 10000,
            ropeStyle: .adjacent,   // GGUF `llama` stores Q/K permuted for the adjacent-pair rotation
            rmsEps: g.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5,
            tiedOutput: g.tensorInfo("output.weight") == nil)
    }

    static func loadGGUF(path: String, progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        let g: GGUFFile
        do { g = try GGUFFile(path: path) } catch { throw ModelError(error.description) }
        let c = try configFromGGUF(g)
        try c.validate()
        // ggml dims are [in, out]: a [cols, rows] matrix
        func source(_ name: String, _ dims: [Int]) throws(ModelError) -> TensorSource {
            do {
                let info = try g.requireTensor(name, type: supportedTypes, dims: dims)
                let bytes = try g.tensorBytes(name)
                return TensorSource(type: info.type, bytes: bytes.baseAddress!, rows: dims.count > 1 ? dims[1] : 1,
                                    cols: dims[0])
            } catch { throw ModelError(error.description) }
        }
        let w = try ModelWeights.build(c, progress: progress) { (role) throws(ModelError) -> TensorSource in
            switch role {
            case .embedding: try source("token_embd.weight", [c.dim, c.vocabSize])
            case .finalNorm: try source("output_norm.weight", [c.dim])
            case .output: try source("output.weight", [c.dim, c.vocabSize])
            case .attnNorm(let l): try source("blk.\(l).attn_norm.weight", [c.dim])
            case .q(let l): try source("blk.\(l).attn_q.weight", [c.dim, c.qDim])
            case .k(let l): try source("blk.\(l).attn_k.weight", [c.dim, c.kvDim])
            case .v(let l): try source("blk.\(l).attn_v.weight", [c.dim, c.kvDim])
            case .o(let l): try source("blk.\(l).attn_output.weight", [c.qDim, c.dim])
            case .ffnNorm(let l): try source("blk.\(l).ffn_norm.weight", [c.dim])
            case .gate(let l): try source("blk.\(l).ffn_gate.weight", [c.dim, c.hiddenDim])
            case .up(let l): try source("blk.\(l).ffn_up.weight", [c.dim, c.hiddenDim])
            case .down(let l): try source("blk.\(l).ffn_down.weight", [c.hiddenDim, c.dim])
            }
        }
        return (c, w)
    }
}
