import ModelFormats
import Tensor

extension LlamaModel {
    static let supportedTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

    /// Reads a GGUF `llama`-architecture model: hyper-parameters from metadata, tensors converted to fp32.
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
        let w = ModelWeights.allocate(c)
        var jobs: [CopyJob] = []
        func add(_ name: String, _ dims: [Int], _ dst: UnsafeMutablePointer<Float>) throws(ModelError) {
            let info: GGUFTensorInfo, bytes: UnsafeRawBufferPointer
            do {
                info = try g.requireTensor(name, type: supportedTypes, dims: dims)
                bytes = try g.tensorBytes(name)
            } catch { throw ModelError(error.description) }
            jobs += CopyJob.rows(info.type, bytes.baseAddress!, elements: info.elementCount, rowElements: dims[0], into: dst)
        }
        try add("token_embd.weight", [c.dim, c.vocabSize], w.embedding)
        try add("output_norm.weight", [c.dim], w.finalNorm)
        if !c.tiedOutput { try add("output.weight", [c.dim, c.vocabSize], w.output) }
        for (l, lw) in w.layers.enumerated() {
            let b = "blk.\(l)."
            try add(b + "attn_norm.weight", [c.dim], lw.attnNorm)
            try add(b + "attn_q.weight", [c.dim, c.qDim], lw.wqkv)
            try add(b + "attn_k.weight", [c.dim, c.kvDim], lw.wqkv + c.qDim * c.dim)
            try add(b + "attn_v.weight", [c.dim, c.kvDim], lw.wqkv + (c.qDim + c.kvDim) * c.dim)
            try add(b + "attn_output.weight", [c.qDim, c.dim], lw.wo)
            try add(b + "ffn_norm.weight", [c.dim], lw.ffnNorm)
            try add(b + "ffn_gate.weight", [c.dim, c.hiddenDim], lw.wGateUp)
            try add(b + "ffn_up.weight", [c.dim, c.hiddenDim], lw.wGateUp + c.hiddenDim * c.dim)
            try add(b + "ffn_down.weight", [c.hiddenDim, c.dim], lw.wDown)
        }
        LoadRunner.run(jobs, progress: progress)
        return (c, w)
    }
}
