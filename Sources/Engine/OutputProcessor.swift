import Dispatch
public import Tokenizer

/// The one output path: what a request's new token ids become for its client — the stop-token check,
/// incremental detokenizing, stop strings, the length limit, timings and, at the end, the held-back text.
/// In the shape of vLLM v1's `OutputProcessor` / `RequestState`: per-request state, fed new token ids, returning
/// the delta (`RequestOutput`) and why the request ends, if it does.
///
/// The engine's step loop keeps one per sequence (fed one sampled token per step); the cluster router keeps one
/// per relayed stream (fed the tokens instances append to the queue, in batches). Both so produce the same text
/// deltas, stop reasons, finish reasons and timings for the same token stream. A value type, owned by whoever
/// owns the request's state; it allocates nothing per token beyond the output it fills.
public struct OutputProcessor: Sendable {
    public let params: SamplingParams
    public let promptTokenCount: Int
    private var detok: IncrementalDetokenizer
    private var stops: StopStringMatcher
    /// End-of-text ids that end the request: the tokenizer's, unless `ignore_eos` (an output constraint still ends
    /// at them: the grammar decides where the output may end).
    private let eosIds: Set<Int32>
    /// Tokens delivered so far (the output's `completionTokenCount`).
    public private(set) var completionTokens = 0
    /// When the request arrived (`OutputProcessor.now()` clock).
    public let arrival: UInt64
    private var scheduled = false
    private var lastToken: UInt64?
    public private(set) var timings = RequestTimings()
    /// A stop string ended the request: the text held back for it is not released.
    public private(set) var matchedStopString = false

    /// Why the new tokens end the request.
    public enum Stop: Sendable, Equatable {
        /// An end-of-text token or one of `stop_token_ids` (its text is the stop reason).
        case stopToken
        /// A stop string matched (it is the stop reason; the text before it is in the delta).
        case stopString
        /// `max_tokens` reached.
        case length

        public var finishReason: EngineFinishReason { self == .length ? .length : .stop }
    }

    /// `promptTail`: the prompt's last tokens (for the leading-space rule of the first output token).
    public init(tokenizer: Tokenizer, params: SamplingParams, prompt: [Int32], arrival: UInt64 = OutputProcessor.now()) {
        self.params = params
        promptTokenCount = prompt.count
        detok = IncrementalDetokenizer(tokenizer: tokenizer, skipSpecial: params.skipSpecialTokens,
                                       promptTail: Array(prompt.suffix(4)))
        stops = StopStringMatcher(stops: params.stop)
        eosIds = params.ignoreEOS && params.constraint == nil ? [] : tokenizer.stopIds
        self.arrival = arrival
    }

    /// Tokens that end the request when sampled (`min_tokens` bans them before then).
    public var stopTokenIds: (eos: Set<Int32>, extra: [Int32]) { (eosIds, params.stopTokenIds) }

    /// An empty output of this request (counts filled in).
    public var output: RequestOutput {
        RequestOutput(promptTokenCount: promptTokenCount, completionTokenCount: completionTokens)
    }

    /// The request was first scheduled: its queue time is known. (Where it is not — the router cannot see its
    /// instances' schedulers — the queue time is the time to first token.)
    public mutating func markScheduled(at now: UInt64) -> Double? {
        guard !scheduled else { return nil }
        scheduled = true
        timings.queueTime = Self.seconds(now &- arrival)
        return timings.queueTime
    }

    /// Feeds new token ids (that arrived together at `now`) into `out`: each is appended with its log-probability
    /// (`logprob(i)` for the i-th, nil for none), its text goes through the detokenizer and the stop-string matcher.
    /// Stops at the first token that ends the request and returns why (tokens after it are not consumed); the stop
    /// reason (the stop token's text or the stop string) is set in `out`.
    public mutating func process<Tokens: Collection<Int32>>(
        _ tokens: Tokens, at now: UInt64, into out: inout RequestOutput, logprob: (Int) -> TokenLogprob? = { _ in nil }
    ) -> Stop? {
        if !tokens.isEmpty { stamp(now) }
        defer { out.completionTokenCount = completionTokens }
        for (i, t) in tokens.enumerated() {
            completionTokens += 1
            out.newTokenIds.append(t)
            if let lp = logprob(i) { out.logprobs.append(lp) }
            if eosIds.contains(t) || params.stopTokenIds.contains(t) {
                out.stopReason = detok.tokenizer.tokenText(t)
                return .stopToken
            }
            switch stops.push(detok.push(t)) {
            case .emit(let text):
                out.textDelta += text
            case .stopped(let before, let stop):
                out.textDelta += before
                out.stopReason = stop
                matchedStopString = true
                return .stopString
            }
            if completionTokens >= params.maxTokens { return .length }
        }
        return nil
    }

    /// A token that ends the request without being detokenized (the engine's end when no token can continue an
    /// output constraint); `why` is the stop reason.
    public mutating func appendFinal(_ token: Int32, why: String, into out: inout RequestOutput) {
        completionTokens += 1
        out.newTokenIds.append(token)
        out.completionTokenCount = completionTokens
        out.stopReason = why
    }

    /// Makes `out` the request's final output: the text still held back is released (unless a stop string
    /// matched), the finish reason and the timings (with the end-to-end latency) are set.
    public mutating func finish(_ out: inout RequestOutput, reason: EngineFinishReason, at now: UInt64) {
        if !matchedStopString { out.textDelta += stops.flush() + detok.finish() }
        out.finishReason = reason
        out.completionTokenCount = completionTokens
        timings.e2eLatency = Self.seconds(now &- arrival)
        out.timings = timings
    }

    private mutating func stamp(_ now: UInt64) {
        if let last = lastToken {
            timings.interTokenGaps.append(Self.seconds(now &- last))
        } else {
            timings.timeToFirstToken = Self.seconds(now &- arrival)
            if !scheduled { timings.queueTime = timings.timeToFirstToken ?? 0 }
        }
        lastToken = now
    }

    /// The processor's clock: monotonic nanoseconds.
    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    public static func seconds(_ ns: UInt64) -> Double { Double(ns) / 1e9 }
}
