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
}

public struct ModelWeights: @unchecked Sendable {
    public var embedding: WeightMatrix                 // [vocab, dim]; looked up a row at a time
    public var finalNorm: UnsafeMutablePointer<Float>  // [dim]
    public var output: WeightMatrix                    // [vocab, dim] (the embedding itself when tied)
    public var layers: [LayerWeights]
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

/// The tensors of a Llama-family decoder by role; each file format maps roles to its own tensor names.
enum TensorRole: Sendable {
    case embedding, finalNorm, output
    case attnNorm(Int), q(Int), k(Int), v(Int), o(Int), ffnNorm(Int), gate(Int), up(Int), down(Int)
}

extension ModelWeights {
    /// Assembles the weights from a format's tensors (`tensor` checks names, shapes and types and throws the
    /// format's error) and copies them into owned storage on all cores.
    static func build(_ c: ModelConfig, progress: LoadProgress?,
                      tensor: (TensorRole) throws(ModelError) -> TensorSource) throws(ModelError) -> ModelWeights {
        var b = WeightBuilder()
        let embedding = b.matrix([try tensor(.embedding)])
        let finalNorm = b.vector(try tensor(.finalNorm))
        let output = c.tiedOutput ? embedding : b.matrix([try tensor(.output)])
        var layers: [LayerWeights] = []
        for l in 0..<c.nLayers {
            layers.append(LayerWeights(
                attnNorm: b.vector(try tensor(.attnNorm(l))),
                wqkv: b.linear([try tensor(.q(l)), try tensor(.k(l)), try tensor(.v(l))]),
                wo: b.linear([try tensor(.o(l))]),
                ffnNorm: b.vector(try tensor(.ffnNorm(l))),
                wGateUp: b.linear([try tensor(.gate(l)), try tensor(.up(l))]),
                wDown: b.linear([try tensor(.down(l))])))
        }
        b.run(progress: progress)
        return ModelWeights(embedding: embedding, finalNorm: finalNorm, output: output, layers: layers,
                            storage: b.storage)
    }
}
