public import Tensor

/// The decoder architectures Swiftlet runs; each has one file under `Sources/Model/Architectures/` with its
/// metadata keys and tensor-name tables (see `ArchitectureDefinition`).
public enum Architecture: String, Sendable, Codable, CaseIterable {
    case llama, qwen2, qwen3, gemma3
}

/// The gated feed-forward's activation.
public enum Activation: String, Sendable, Codable {
    case silu       // SwiGLU (Llama, Qwen)
    case geluTanh   // GeGLU with the tanh GELU (Gemma)
}

/// The hyper-parameters of a decoder-only transformer, whichever file they came from. The architecture fills in
/// the features below; their defaults are Llama's.
public struct ModelConfig: Sendable, Codable, Equatable {
    public var architecture: Architecture
    public var dim: Int                 // embedding_length
    public var hiddenDim: Int           // feed_forward_length
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var ropeTheta: Float
    public var ropeStyle: RoPE.Style
    public var rmsEps: Float
    public var tiedOutput: Bool

    /// Q, K and V projections have biases (Qwen 2).
    public var attentionBias = false
    /// Per-head RMSNorm of Q and K before RoPE, one weight vector of headDim shared by the heads (Qwen 3, Gemma 3).
    public var qkNorm = false
    /// RMSNorm of the attention output and of the FFN output before each residual add (Gemma's sandwich norms).
    public var postNorms = false
    public var activation: Activation = .silu
    /// The token embedding is multiplied by this (Gemma: √dim).
    public var embeddingScale: Float = 1
    /// Attention score scale; nil = 1/√headDim.
    public var attentionScale: Float?
    /// Sliding window of the local layers (a query at position p sees p - window + 1 ... p); 0 = none.
    public var slidingWindow = 0
    /// Which layers are local (sliding-window, `ropeThetaLocal`); empty = none.
    public var localLayers: [Bool] = []
    /// RoPE base of the local layers (Gemma 3: 10 000 while the global layers use `ropeTheta`).
    public var ropeThetaLocal: Float?
    /// Linear RoPE position scaling of the global layers (1 / rope scaling factor).
    public var ropeFreqScale: Float = 1
    /// Final logits are soft-capped: cap · tanh(logit / cap); 0 = off.
    public var finalLogitSoftcap: Float = 0

    /// Whether layer `l` attends through the sliding window.
    public func isLocal(_ l: Int) -> Bool { slidingWindow > 0 && l < localLayers.count && localLayers[l] }

    public var kvDim: Int { nKVHeads * headDim }
    public var qDim: Int { nHeads * headDim }
    /// Width of the fused Q|K|V projection output.
    public var qkvDim: Int { qDim + 2 * kvDim }

    public init(architecture: Architecture, dim: Int, hiddenDim: Int, nLayers: Int, nHeads: Int, nKVHeads: Int,
                headDim: Int? = nil, vocabSize: Int, contextLength: Int, ropeTheta: Float, ropeStyle: RoPE.Style,
                rmsEps: Float, tiedOutput: Bool) {
        self.architecture = architecture; self.dim = dim; self.hiddenDim = hiddenDim; self.nLayers = nLayers
        self.nHeads = nHeads; self.nKVHeads = nKVHeads; self.headDim = headDim ?? dim / max(nHeads, 1)
        self.vocabSize = vocabSize; self.contextLength = contextLength; self.ropeTheta = ropeTheta
        self.ropeStyle = ropeStyle; self.rmsEps = rmsEps; self.tiedOutput = tiedOutput
    }

    /// Checks the numbers fit together; the message names what is wrong.
    public func validate() throws(ModelError) {
        func fail(_ m: String) -> ModelError { ModelError("invalid model configuration: \(m)") }
        guard dim > 0, hiddenDim > 0, nLayers > 0, nHeads > 0, nKVHeads > 0, headDim > 0, vocabSize > 0 else {
            throw fail("sizes must be positive (dim \(dim), hidden \(hiddenDim), layers \(nLayers), heads \(nHeads)/\(nKVHeads), vocab \(vocabSize))")
        }
        guard nHeads % nKVHeads == 0 else { throw fail("head_count \(nHeads) is not a multiple of head_count_kv \(nKVHeads)") }
        guard headDim % 2 == 0 else { throw fail("head dimension \(headDim) must be even for RoPE") }
        guard contextLength > 0 else { throw fail("context length \(contextLength)") }
        guard localLayers.isEmpty || localLayers.count == nLayers else {
            throw fail("\(localLayers.count) sliding-window layer flags for \(nLayers) layers")
        }
    }

    /// Floats of K and V for one token in one layer, times layers: the KV cache cost per token.
    public var kvBytesPerToken: Int { 2 * nLayers * kvDim * MemoryLayout<Float>.size }
}

public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
