public import Tensor

/// The hyper-parameters of a Llama-family decoder, whichever file they came from.
public struct ModelConfig: Sendable, Codable, Equatable {
    public var architecture: String
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

    public var kvDim: Int { nKVHeads * headDim }
    public var qDim: Int { nHeads * headDim }
    /// Width of the fused Q|K|V projection output.
    public var qkvDim: Int { qDim + 2 * kvDim }

    public init(architecture: String, dim: Int, hiddenDim: Int, nLayers: Int, nHeads: Int, nKVHeads: Int,
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
    }

    /// Floats of K and V for one token in one layer, times layers: the KV cache cost per token.
    public var kvBytesPerToken: Int { 2 * nLayers * kvDim * MemoryLayout<Float>.size }
}

public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
