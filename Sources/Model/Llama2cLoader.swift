import ModelFormats
import Tensor

extension DecoderModel {
    /// Reads a llama2.c checkpoint (legacy `.bin`, shared or separate classifier).
    static func loadLlama2c(path: String, progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        let ck: Llama2cCheckpoint
        do { ck = try Llama2cCheckpoint(path: path) } catch { throw ModelError(error.description) }
        let h = ck.config
        let c = ModelConfig(architecture: .llama, dim: h.dim, hiddenDim: h.hiddenDim, nLayers: h.nLayers,
                            nHeads: h.nHeads, nKVHeads: h.nKVHeads, vocabSize: h.vocabSize, contextLength: h.seqLen,
                            ropeTheta: 10000, ropeStyle: .adjacent, rmsEps: 1e-5, tiedOutput: h.sharedClassifier)
        try c.validate()
        func f32(_ b: UnsafeBufferPointer<Float>, rows: Int, cols: Int) -> TensorSource {
            TensorSource(type: .f32, bytes: UnsafeRawPointer(b.baseAddress!), rows: rows, cols: cols)
        }
        let w = try ModelWeights.build(c, progress: progress) { (role) throws(ModelError) -> TensorSource in
            switch role {
            case .embedding: f32(ck.floats(.tokenEmbedding), rows: c.vocabSize, cols: c.dim)
            case .finalNorm: f32(ck.floats(.rmsFinal), rows: 1, cols: c.dim)
            case .output: f32(ck.floats(.wcls), rows: c.vocabSize, cols: c.dim)
            case .attnNorm(let l): f32(ck.floats(.rmsAtt, layer: l), rows: 1, cols: c.dim)
            case .q(let l): f32(ck.floats(.wq, layer: l), rows: c.qDim, cols: c.dim)
            case .k(let l): f32(ck.floats(.wk, layer: l), rows: c.kvDim, cols: c.dim)
            case .v(let l): f32(ck.floats(.wv, layer: l), rows: c.kvDim, cols: c.dim)
            case .o(let l): f32(ck.floats(.wo, layer: l), rows: c.dim, cols: c.qDim)
            case .ffnNorm(let l): f32(ck.floats(.rmsFFN, layer: l), rows: 1, cols: c.dim)
            case .gate(let l): f32(ck.floats(.w1, layer: l), rows: c.hiddenDim, cols: c.dim)
            case .up(let l): f32(ck.floats(.w3, layer: l), rows: c.hiddenDim, cols: c.dim)
            case .down(let l): f32(ck.floats(.w2, layer: l), rows: c.dim, cols: c.hiddenDim)
            default: throw ModelError("\(path): llama2.c checkpoints have no tensor for \(role)")
            }
        }
        return (c, w)
    }
}
