import Tensor

/// One owned, 64-byte aligned Float arena that holds every weight of the model (fp32).
/// Weights are converted once at load; the forward pass reads plain row-major [out, in] matrices.
public final class WeightArena: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private var used = 0

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Reserves `n` floats, 16-float aligned.
    func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = base + used
        used += (n + 15) / 16 * 16
        precondition(used <= count + 16, "weight arena overflow")
        return p
    }

    static func size(_ counts: [Int]) -> Int { counts.reduce(0) { $0 + ($1 + 15) / 16 * 16 } }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// One decoder layer's weights, fused for fewer, larger GEMMs.
public struct LayerWeights: @unchecked Sendable {
    public var attnNorm: UnsafeMutablePointer<Float>   // [dim]
    public var wqkv: UnsafeMutablePointer<Float>       // [qDim + 2·kvDim, dim]: Q rows, then K rows, then V rows
    public var wo: UnsafeMutablePointer<Float>         // [dim, qDim]
    public var ffnNorm: UnsafeMutablePointer<Float>    // [dim]
    public var wGateUp: UnsafeMutablePointer<Float>    // [2·hidden, dim]: gate rows, then up rows
    public var wDown: UnsafeMutablePointer<Float>      // [dim, hidden]
}

public struct ModelWeights: @unchecked Sendable {
    public let arena: WeightArena
    public var embedding: UnsafeMutablePointer<Float>  // [vocab, dim]
    public var finalNorm: UnsafeMutablePointer<Float>  // [dim]
    public var output: UnsafeMutablePointer<Float>     // [vocab, dim] (== embedding when tied)
    public var layers: [LayerWeights]

    /// Lays out the arena for `config`; `fill` is then called for each destination.
    static func allocate(_ c: ModelConfig) -> ModelWeights {
        var counts = [c.vocabSize * c.dim, c.dim]
        if !c.tiedOutput { counts.append(c.vocabSize * c.dim) }
        for _ in 0..<c.nLayers {
            counts += [c.dim, c.qkvDim * c.dim, c.dim * c.qDim, c.dim, 2 * c.hiddenDim * c.dim, c.dim * c.hiddenDim]
        }
        let arena = WeightArena(count: WeightArena.size(counts))
        let emb = arena.take(c.vocabSize * c.dim)
        let fin = arena.take(c.dim)
        let out = c.tiedOutput ? emb : arena.take(c.vocabSize * c.dim)
        var layers: [LayerWeights] = []
        for _ in 0..<c.nLayers {
            layers.append(LayerWeights(attnNorm: arena.take(c.dim), wqkv: arena.take(c.qkvDim * c.dim),
                                       wo: arena.take(c.dim * c.qDim), ffnNorm: arena.take(c.dim),
                                       wGateUp: arena.take(2 * c.hiddenDim * c.dim),
                                       wDown: arena.take(c.dim * c.hiddenDim)))
        }
        return ModelWeights(arena: arena, embedding: emb, finalNorm: fin, output: out, layers: layers)
    }
}
