/// Request identifier chosen by the engine (unique among live requests).
public typealias RequestID = UInt64

/// How one step mixes prefill and decode work.
public enum SchedulePolicy: String, Sendable, CaseIterable {
    /// Every step: all running decodes (1 token each) first, then prefill chunks of partially prefilled
    /// running requests, then new/resumed waiting requests, in the token budget left.
    case mixed
    /// A step is pure prefill or pure decode. Rule: after a step that ran prefill, the next step is a
    /// decode step whenever some running request is decoding; otherwise prefill work (running partial
    /// prefills, then waiting requests) is scheduled, and a decode step is run when there is none.
    /// So with both kinds pending the stages alternate and decodes wait at most one step.
    case split
}

public struct SchedulerConfig: Sendable, Equatable {
    /// Token budget of one step (sum of all scheduled tokens).
    public var maxNumBatchedTokens: Int
    /// Maximum number of running requests (hence of sequences in one step).
    public var maxNumSeqs: Int
    public var policy: SchedulePolicy
    /// Tokens per KV block.
    public var blockSize: Int
    /// KV blocks in the model's paged storage; block ids are `0..<numBlocks`.
    public var numBlocks: Int
    public var enablePrefixCaching: Bool
    /// Longest prompt + output accepted.
    public var maxModelLen: Int

    /// `maxModelLen` defaults to the whole KV capacity, `numBlocks * blockSize`.
    public init(
        maxNumBatchedTokens: Int = 2048, maxNumSeqs: Int = 64, policy: SchedulePolicy = .mixed,
        blockSize: Int = 16, numBlocks: Int, enablePrefixCaching: Bool = true, maxModelLen: Int? = nil
    ) {
        self.maxNumBatchedTokens = maxNumBatchedTokens
        self.maxNumSeqs = maxNumSeqs
        self.policy = policy
        self.blockSize = blockSize
        self.numBlocks = numBlocks
        self.enablePrefixCaching = enablePrefixCaching
        self.maxModelLen = maxModelLen ?? numBlocks * blockSize
    }
}

public struct SchedulerRequest: Sendable, Equatable {
    public var id: RequestID
    public var promptTokenIds: [Int32]
    /// Maximum number of generated tokens (>= 1); the scheduler finishes the request with `.length` there.
    public var maxTokens: Int
    /// Lower runs first.
    public var priority: Int
    /// Monotonic order key given by the engine (FCFS within a priority).
    public var arrival: UInt64
    /// Compute every prompt token even when its blocks are cached (prompt log-probabilities need them all).
    public var skipPrefixCache: Bool

    public init(id: RequestID, promptTokenIds: [Int32], maxTokens: Int, priority: Int = 0, arrival: UInt64,
                skipPrefixCache: Bool = false) {
        self.skipPrefixCache = skipPrefixCache
        self.id = id
        self.promptTokenIds = promptTokenIds
        self.maxTokens = maxTokens
        self.priority = priority
        self.arrival = arrival
    }
}

public enum FinishReason: String, Sendable, Equatable {
    case stop, length, abort, error
}

/// A request that left the scheduler; its blocks are already free.
public struct FinishedRequest: Sendable, Equatable {
    public var id: RequestID
    public var reason: FinishReason
    /// Every token generated for it (the final sampled token included).
    public var outputTokenIds: [Int32]
}

/// One sequence of a step's batch.
public struct ScheduledSequence: Sendable, Equatable {
    public var requestId: RequestID
    /// Tokens to run this step: a prefill chunk, or 1 decode token.  // [count]
    public var tokenIds: [Int32]
    /// Tokens of this request already in KV; the chunk occupies positions `startPosition ..< startPosition + count`.
    public var startPosition: Int
    /// Block ids covering at least `startPosition + tokenIds.count` positions; position p is slot
    /// `p % blockSize` of block `blockTable[p / blockSize]`.  // [ceil((startPosition + count) / blockSize)]
    public var blockTable: [Int32]
    /// True when after this step every known token of the request is in KV: the engine must sample the
    /// next token from the logits of this chunk's last position. False for non-final prefill chunks.
    public var sampleAfter: Bool
    /// False only for a decode token (the request's previous step sampled); true for prompt chunks and for
    /// recomputation after preemption.
    public var isPrefill: Bool

    /// Total context length after this step (what attention covers).
    public var contextLength: Int { startPosition + tokenIds.count }
}

public struct SchedulerOutput: Sendable {
    /// Step number; `update(after:)` must be given the latest output.
    public let step: UInt64
    public var scheduled: [ScheduledSequence]
    /// Requests preempted this step (their blocks were freed; they wait to be recomputed).
    public var preempted: [RequestID]
    /// Requests finished by the scheduler at this step boundary (aborts); their blocks are free.
    public var finished: [FinishedRequest]
    public var numBatchedTokens: Int
    public var numPrefillTokens: Int
    public var numDecodeTokens: Int

    public var isPrefillStage: Bool { numPrefillTokens > 0 && numDecodeTokens == 0 }
    public var isDecodeStage: Bool { numDecodeTokens > 0 && numPrefillTokens == 0 }
    public var isEmpty: Bool { scheduled.isEmpty }
}

public struct SchedulerStats: Sendable, Equatable {
    public var numRunning: Int
    public var numWaiting: Int
    /// Fraction of KV blocks referenced by requests, 0...1 (free cached blocks count as free).
    public var kvUsage: Double
    /// Prefix-cache lookups at admission, in TOKENS (prompt, plus output when resuming after preemption).
    public var prefixCacheQueries: Int
    /// Tokens of those lookups found cached (block aligned).
    public var prefixCacheHits: Int
    /// Cumulative number of preemptions.
    public var numPreemptions: Int
    public var numFreeBlocks: Int
    public var numTotalBlocks: Int
}

public enum SchedulerError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyPrompt(id: RequestID)
    case invalidMaxTokens(id: RequestID, maxTokens: Int)
    case exceedsMaxModelLen(id: RequestID, promptTokens: Int, maxTokens: Int, maxModelLen: Int)
    case exceedsKVCapacity(id: RequestID, tokens: Int, blocksNeeded: Int, numBlocks: Int, blockSize: Int)
    case duplicateID(id: RequestID)

    public var description: String {
        switch self {
        case .emptyPrompt(let id):
            "request \(id): the prompt is empty"
        case .invalidMaxTokens(let id, let maxTokens):
            "request \(id): maxTokens must be at least 1, got \(maxTokens)"
        case .exceedsMaxModelLen(let id, let prompt, let maxTokens, let maxModelLen):
            "request \(id): prompt (\(prompt) tokens) + maxTokens (\(maxTokens)) = \(prompt + maxTokens) "
                + "exceeds the maximum model length of \(maxModelLen) tokens"
        case .exceedsKVCapacity(let id, let tokens, let needed, let numBlocks, let blockSize):
            "request \(id): \(tokens) tokens need \(needed) KV blocks of \(blockSize) tokens, "
                + "but the KV cache has only \(numBlocks) blocks"
        case .duplicateID(let id):
            "request \(id): a request with this id is already scheduled"
        }
    }
}
