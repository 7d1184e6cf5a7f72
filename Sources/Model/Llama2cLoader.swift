import ModelFormats
import Tensor

extension LlamaModel {
    /// Reads a llama2.c checkpoint (legacy `.bin`, shared or separate classifier).
    static func loadLlama2c(path: String, progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        let ck: Llama2cCheckpoint
        do { ck = try Llama2cCheckpoint(path: path) } catch { throw ModelError(error.description) }
        let h = ck.config
        let c = ModelConfig(architecture: "llama2.c", dim: h.dim, hiddenDim: h.hiddenDim, nLayers: h.nLayers,
                            nHeads: h.nHeads, nKVHeads: h.nKVHeads, vocabSize: h.vocabSize, contextLength: h.seqLen,
                            ropeTheta: 10000, ropeStyle: .adjacent, rmsEps: 1e-5, tiedOutput: h.sharedClassifier)
        try c.validate()
        let w = ModelWeights.allocate(c)
        var jobs: [CopyJob] = []
        func add(_ src: UnsafeBufferPointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
            jobs.append(CopyJob(type: .f32, src: UnsafeRawPointer(src.baseAddress!), count: src.count, dst: dst))
        }
        add(ck.floats(.tokenEmbedding), w.embedding)
        add(ck.floats(.rmsFinal), w.finalNorm)
        if !c.tiedOutput { add(ck.floats(.wcls), w.output) }
        for (l, lw) in w.layers.enumerated() {
            add(ck.floats(.rmsAtt, layer: l), lw.attnNorm)
            add(ck.floats(.wq, layer: l), lw.wqkv)
            add(ck.floats(.wk, layer: l), lw.wqkv + c.qDim * c.dim)
            add(ck.floats(.wv, layer: l), lw.wqkv + (c.qDim + c.kvDim) * c.dim)
            add(ck.floats(.wo, layer: l), lw.wo)
            add(ck.floats(.rmsFFN, layer: l), lw.ffnNorm)
            add(ck.floats(.w1, layer: l), lw.wGateUp)
            add(ck.floats(.w3, layer: l), lw.wGateUp + c.hiddenDim * c.dim)
            add(ck.floats(.w2, layer: l), lw.wDown)
        }
        LoadRunner.run(jobs, progress: progress)
        return (c, w)
    }
}
