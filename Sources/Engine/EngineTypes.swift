public import Constraints
public import Foundation

/// Per-request sampling options, as the OpenAI API and vLLM name them. Validated by `validate()`.
public struct SamplingParams: Sendable, Codable, Equatable {
    public var maxTokens: Int = 16
    public var minTokens: Int = 0
    public var temperature: Float = 1.0          // 0 = greedy
    public var topK: Int = 0                     // 0 or -1 = off
    public var topP: Float = 1.0
    public var minP: Float = 0.0
    public var repetitionPenalty: Float = 1.0
    public var presencePenalty: Float = 0.0
    public var frequencyPenalty: Float = 0.0
    public var logitBias: [Int32: Float] = [:]
    public var seed: UInt64? = nil
    public var stopTokenIds: [Int32] = []
    public var stop: [String] = []
    public var ignoreEOS: Bool = false
    /// Number of top log-probabilities to return per generated token (nil = none; 0 = only the chosen token's).
    public var logprobs: Int? = nil
    /// Also return log-probabilities of the prompt tokens (for `echo` with `logprobs`).
    public var promptLogprobs: Bool = false
    public var skipSpecialTokens: Bool = true
    /// What the output must match (JSON schema, regex, choice, grammar, tool calls); nil = free text. The engine
    /// masks every step's logits with it and ends the request when it is complete.
    public var constraint: ConstraintSpec? = nil

    public init() {}
}

/// What a caller submits to the engine. `n > 1` is the caller's business: submit n requests.
public struct EngineRequest: Sendable {
    public var promptTokenIds: [Int32]
    public var params: SamplingParams
    public var priority: Int
    public var externalId: String
    /// The prompt's last `resumedOutputTokens` tokens are this request's own earlier output (it is resumed on
    /// another instance after a failure): presence/frequency penalties count them as output and a seeded
    /// generator skips the draws they took, so the continuation is what one uninterrupted run would produce.
    public var resumedOutputTokens: Int

    public init(promptTokenIds: [Int32], params: SamplingParams, priority: Int = 0, externalId: String = "",
                resumedOutputTokens: Int = 0) {
        self.promptTokenIds = promptTokenIds
        self.params = params
        self.priority = priority
        self.externalId = externalId
        self.resumedOutputTokens = min(max(0, resumedOutputTokens), promptTokenIds.count)
    }
}

public enum EngineFinishReason: String, Sendable, Codable {
    case stop, length, abort, error
}

public struct TokenLogprob: Sendable, Codable, Equatable {
    public var tokenId: Int32
    public var logprob: Float
    /// The top alternatives at this step, best first (empty unless asked for).
    public var top: [TopLogprob]
    public init(tokenId: Int32, logprob: Float, top: [TopLogprob]) {
        self.tokenId = tokenId; self.logprob = logprob; self.top = top
    }
}

public struct TopLogprob: Sendable, Codable, Equatable {
    public var tokenId: Int32
    public var logprob: Float
    public init(tokenId: Int32, logprob: Float) { self.tokenId = tokenId; self.logprob = logprob }
}

/// Per-request timings, seconds.
public struct RequestTimings: Sendable, Codable, Equatable {
    public var queueTime: Double = 0          // arrival → first scheduled
    public var timeToFirstToken: Double? = nil // arrival → first token out
    public var interTokenGaps: [Double] = []
    public var e2eLatency: Double? = nil
    public init() {}
}

/// One message of a request's output stream. Each carries what is new since the previous one.
public struct RequestOutput: Sendable {
    public var newTokenIds: [Int32]
    public var textDelta: String
    public var logprobs: [TokenLogprob]
    public var finishReason: EngineFinishReason?
    /// Set on the final output only: why it stopped (e.g. the matched stop string), or the error message.
    public var stopReason: String?
    public var promptTokenCount: Int
    public var completionTokenCount: Int
    public var timings: RequestTimings
    public var promptLogprobs: [TokenLogprob]?

    public init(newTokenIds: [Int32] = [], textDelta: String = "", logprobs: [TokenLogprob] = [],
                finishReason: EngineFinishReason? = nil, stopReason: String? = nil,
                promptTokenCount: Int = 0, completionTokenCount: Int = 0,
                timings: RequestTimings = RequestTimings(), promptLogprobs: [TokenLogprob]? = nil) {
        self.newTokenIds = newTokenIds; self.textDelta = textDelta; self.logprobs = logprobs
        self.finishReason = finishReason; self.stopReason = stopReason
        self.promptTokenCount = promptTokenCount; self.completionTokenCount = completionTokenCount
        self.timings = timings; self.promptLogprobs = promptLogprobs
    }
}

/// Why a submission was refused. The server maps `.invalid` and `.tooLong` to 400, `.queueFull` to 429.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case invalid(param: String?, message: String)
    case tooLong(message: String)
    case queueFull(message: String)
    case notReady
    case shutDown

    public var description: String {
        switch self {
        case .invalid(_, let m), .tooLong(let m), .queueFull(let m): return m
        case .notReady: return "the model is still loading"
        case .shutDown: return "the engine is shutting down"
        }
    }
}

/// A snapshot of the engine's load and counters.
public struct EngineStats: Sendable, Codable, Equatable {
    public var numRunning = 0
    public var numWaiting = 0
    public var kvUsage: Double = 0
    public var numFreeBlocks = 0
    public var numTotalBlocks = 0
    public var blockSize = 16
    public var prefixCacheQueries = 0
    public var prefixCacheHits = 0
    public var numPreemptions = 0
    public var promptTokensTotal = 0
    public var generationTokensTotal = 0
    /// Cumulative seconds spent in engine steps, and the part of it spent masking logits and advancing output
    /// constraints (their ratio is the constraint overhead).
    public var stepSeconds: Double = 0
    public var constraintSeconds: Double = 0
    public init() {}
}

/// What the model serves, for /v1/models and validation.
public struct ModelInfo: Sendable, Codable, Equatable {
    public var name: String
    public var maxModelLen: Int
    public var vocabSize: Int
    public var created: Int
    public init(name: String, maxModelLen: Int, vocabSize: Int, created: Int) {
        self.name = name; self.maxModelLen = maxModelLen; self.vocabSize = vocabSize; self.created = created
    }
}

/// The narrow face of the engine that the HTTP server (and the cluster instance agent) use.
/// Cancelling the iteration of a returned stream aborts the request and frees its KV blocks at the next step.
public protocol EngineClient: Sendable {
    var modelInfo: ModelInfo { get }
    var isReady: Bool { get }
    /// Why the engine cannot take requests now (the 503's message), nil when it can.
    var unavailableReason: String? { get }
    /// Text → ids with the model's tokenizer. `addSpecial` adds BOS/EOS as the model wants; `parseSpecial` reads
    /// special tokens written in the text (used for rendered chat templates).
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]
    func decode(_ ids: [Int32], skipSpecial: Bool) -> String
    /// The text one token stands for (for logprobs' `token` field); bytes that are not valid UTF-8 on their own
    /// come back as "bytes:\xNN" escapes, as vLLM does.
    func tokenText(_ id: Int32) -> String
    /// Renders a conversation with the model's chat template (or the configured override).
    func renderChat(_ messages: [ChatMessageInput], addGenerationPrompt: Bool) throws -> String
    func generate(_ request: EngineRequest) throws(EngineError) -> AsyncStream<RequestOutput>
    func stats() async -> EngineStats
}

extension EngineClient {
    /// An engine that is not ready is still loading its model.
    public var unavailableReason: String? { isReady ? nil : "The model is still loading; retry shortly." }
}

public struct ChatMessageInput: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

extension EngineRequest {
    /// The checks every front applies before accepting a request (the engine and the cluster router): a
    /// non-empty prompt of in-vocabulary ids, a context that fits the model (and the whole KV cache, when given
    /// as (blocks, block size)), and sampling parameters in range. Errors read like OpenAI's.
    public func validate(for info: ModelInfo, kvCache: (blocks: Int, blockSize: Int)? = nil) throws(EngineError) {
        let p = params
        guard !promptTokenIds.isEmpty else { throw .invalid(param: "prompt", message: "the prompt is empty") }
        if let bad = promptTokenIds.first(where: { $0 < 0 || Int($0) >= info.vocabSize }) {
            throw .invalid(param: "prompt", message: "token id \(bad) is outside the vocabulary (0..<\(info.vocabSize))")
        }
        guard p.maxTokens >= 1 else { throw .invalid(param: "max_tokens", message: "max_tokens must be at least 1, got \(p.maxTokens)") }
        let total = promptTokenIds.count + p.maxTokens
        if total > info.maxModelLen {
            throw .tooLong(message: "This model's maximum context length is \(info.maxModelLen) tokens. However, you requested \(total) tokens (\(promptTokenIds.count) in the prompt, \(p.maxTokens) for the completion). Please reduce the length of the prompt or the completion.")
        }
        if let kv = kvCache, total > kv.blocks * kv.blockSize {
            throw .tooLong(message: "The request needs \(total) tokens of KV cache but the whole cache holds \(kv.blocks * kv.blockSize) tokens (\(kv.blocks) blocks of \(kv.blockSize)).")
        }
        guard p.temperature >= 0 else { throw .invalid(param: "temperature", message: "temperature must be >= 0, got \(p.temperature)") }
        guard p.topP > 0 && p.topP <= 1 else { throw .invalid(param: "top_p", message: "top_p must be in (0, 1], got \(p.topP)") }
        guard p.minP >= 0 && p.minP <= 1 else { throw .invalid(param: "min_p", message: "min_p must be in [0, 1], got \(p.minP)") }
        guard p.repetitionPenalty > 0 else { throw .invalid(param: "repetition_penalty", message: "repetition_penalty must be > 0, got \(p.repetitionPenalty)") }
        guard p.minTokens >= 0 && p.minTokens <= p.maxTokens else {
            throw .invalid(param: "min_tokens", message: "min_tokens must be in [0, max_tokens], got \(p.minTokens)")
        }
        if let c = p.constraint {
            do { _ = try c.compile() } catch {
                let place = error.path.isEmpty ? c.param : error.path.hasPrefix("[") ? c.param + error.path : c.param + "." + error.path
                throw .invalid(param: place, message: "'\(place)' cannot be used to constrain the output: \(error.message)")
            }
        }
    }
}
