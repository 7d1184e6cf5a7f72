public import Tensor

/// One decoder layer's weights. Projections stay in their file encoding; Q|K|V and gate|up are fused into one
/// matrix each when their formats agree (see `FusedLinear`).
public struct LayerWeights: @unchecked Sendable {
    public var attnNorm: UnsafeMutablePointer<Float>   // [dim]
    public var wqkv: FusedLinear                       // [qDim + 2·kvDim, dim]: Q rows, then K rows, then V rows
    public var wo: FusedLinear                         // [dim, qDim]
    public var ffnNorm: UnsafeMutablePointer<Float>    // [dim]
    public var wGateUp: FusedLinear                    // [2·hidden, dim]: gate rows, then up rows
    public var wDown: FusedLinear                      // [dim, hidden]
    /// Architecture extras (nil when the architecture has none):
    public var qkvBias: UnsafeMutablePointer<Float>?       // [qDim + 2·kvDim] (Qwen 2)
    public var qNorm: UnsafeMutablePointer<Float>?         // [headDim] (Qwen 3, Gemma 3)
    public var kNorm: UnsafeMutablePointer<Float>?         // [headDim]
    public var postAttnNorm: UnsafeMutablePointer<Float>?  // [dim] (Gemma 3)
    public var postFFNNorm: UnsafeMutablePointer<Float>?   // [dim]
}

public struct ModelWeights: @unchecked Sendable {
    public var embedding: WeightMatrix                 // [vocab, dim]; looked up a row at a time
    public var finalNorm: UnsafeMutablePointer<Float>  // [dim]
    public var output: WeightMatrix                    // [vocab, dim] (the embedding itself when tied)
    public var layers: [LayerWeights]
    /// Per-frequency RoPE divisors ([headDim / 2], Llama 3's `rope_freqs`), empty if the file has none.
    public var ropeFactors: [Float] = []
    /// Owners of the norm vectors (the matrices own their storage).
    let storage: [WeightStorage]

    /// Bytes the weights occupy in memory (tied output counted once).
    public var byteCount: Int {
        let mats = layers.reduce(0) { $0 + $1.wqkv.byteCount + $1.wo.byteCount + $1.wGateUp.byteCount + $1.wDown.byteCount }
        let head = output.data == embedding.data ? 0 : output.byteCount
        return mats + embedding.byteCount + head + storage.reduce(0) { $0 + $1.byteCount }
    }

    /// The formats of the projection matrices with how many matrices use each (for logs and tests).
    public var formats: [GGMLType: Int] {
        var f: [GGMLType: Int] = [:]
        for l in layers {
            for p in l.wqkv.parts + l.wo.parts + l.wGateUp.parts + l.wDown.parts { f[p.format, default: 0] += 1 }
        }
        f[embedding.format, default: 0] += 1
        if output.data != embedding.data { f[output.format, default: 0] += 1 }
        return f
    }
}

/// The tensors of a decoder by role; each architecture maps roles to its tensor names in each file format.
public enum TensorRole: Sendable, Hashable {
    case embedding, finalNorm, output, ropeFactors
    case attnNorm(Int), q(Int), k(Int), v(Int), o(Int), ffnNorm(Int), gate(Int), up(Int), down(Int)
    case qBias(Int), kBias(Int), vBias(Int), qNorm(Int), kNorm(Int), postAttnNorm(Int), postFFNNorm(Int)
}

extension ModelWeights {
    /// Assembles the weights from a format's tensors (`tensor` checks names, shapes and types and throws the
    /// format's error) and copies them into owned storage on all cores.
    /// `optional` gives the tensors an architecture may or may not have (nil when absent).
    static func build(_ c: ModelConfig, progress: LoadProgress?,
                      tensor: (TensorRole) throws(ModelError) -> TensorSource,
                      optional: (TensorRole) throws(ModelError) -> TensorSource? = { _ in nil }) throws(ModelError) -> ModelWeights {
        var b = WeightBuilder()
        let embedding = b.matrix([try tensor(.embedding)])
        let finalNorm = b.vector(try tensor(.finalNorm))
        let output = c.tiedOutput ? embedding : b.matrix([try tensor(.output)])
        var layers: [LayerWeights] = []
        for l in 0..<c.nLayers {
            var layer = LayerWeights(
                attnNorm: b.vector(try tensor(.attnNorm(l))),
                wqkv: b.linear([try tensor(.q(l)), try tensor(.k(l)), try tensor(.v(l))]),
                wo: b.linear([try tensor(.o(l))]),
                ffnNorm: b.vector(try tensor(.ffnNorm(l))),
                wGateUp: b.linear([try tensor(.gate(l)), try tensor(.up(l))]),
                wDown: b.linear([try tensor(.down(l))]))
            if c.attentionBias {
                layer.qkvBias = b.vector([try tensor(.qBias(l)), try tensor(.kBias(l)), try tensor(.vBias(l))])
            }
            if c.qkNorm {
                layer.qNorm = b.vector(try tensor(.qNorm(l)))
                layer.kNorm = b.vector(try tensor(.kNorm(l)))
            }
            if c.postNorms {
                layer.postAttnNorm = b.vector(try tensor(.postAttnNorm(l)))
                layer.postFFNNorm = b.vector(try tensor(.postFFNNorm(l)))
            }
            layers.append(layer)
        }
        b.run(progress: progress)
        var factors: [Float] = []
        if let f = try optional(.ropeFactors) {
            factors = [Float](repeating: 0, count: f.rows * f.cols)
            factors.withUnsafeMutableBufferPointer { f.type.dequantize(f.bytes, count: f.rows * f.cols, into: $0.baseAddress!) }
        }
        return ModelWeights(embedding: embedding, finalNorm: finalNorm, output: output, layers: layers,
                            ropeFactors: factors, storage: b.storage)
    }
}
