/// What one model step runs: a flat batch of tokens from many sequences (like llama.cpp's `llama_ubatch`).
/// The model sees no requests, only token runs with their positions and block tables.
public struct ForwardBatch: Sendable {
    /// One sequence's run of tokens in this batch.
    public struct Sequence: Sendable {
        public var tokenStart: Int        // index of its first token in `tokens`
        public var tokenCount: Int        // tokens of this sequence in the batch
        public var startPosition: Int     // position of its first token = tokens already in the KV cache
        public var blockTable: [Int32]    // [ceil((startPosition + tokenCount) / blockSize)] block ids
        public init(tokenStart: Int, tokenCount: Int, startPosition: Int, blockTable: [Int32]) {
            self.tokenStart = tokenStart; self.tokenCount = tokenCount
            self.startPosition = startPosition; self.blockTable = blockTable
        }
    }

    public var tokens: [Int32] = []        // [nTokens]
    public var sequences: [Sequence] = []
    public var logitRows: [Int32] = []     // [nOut] indices into `tokens` whose logits are wanted

    public init() {}

    /// Appends a sequence's tokens; `wantLogits` asks for the logits of its last token.
    public mutating func add(tokens newTokens: some Collection<Int32>, startPosition: Int, blockTable: [Int32],
                             wantLogits: Bool) {
        let start = tokens.count
        tokens.append(contentsOf: newTokens)
        sequences.append(Sequence(tokenStart: start, tokenCount: newTokens.count, startPosition: startPosition,
                                  blockTable: blockTable))
        if wantLogits { logitRows.append(Int32(tokens.count - 1)) }
    }

    public var count: Int { tokens.count }
}
