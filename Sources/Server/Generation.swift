import Engine
import OpenAIAPI
import Synchronization

/// The engine requests behind one HTTP request: `prompts.count × n` choices, choice `c` uses prompt `c / n`.
struct GenerationJob: Sendable {
    var prompts: [[Int32]]              // [nPrompts][promptLen]
    var n: Int
    var params: SamplingParams
    var priority: Int
    var requestID: String

    var choiceCount: Int { prompts.count * n }

    /// Each choice gets its own seed (`seed + choice index`) so that n > 1 gives n different samples.
    func engineRequest(choice c: Int) -> EngineRequest {
        var p = params
        if let seed = params.seed { p.seed = seed &+ UInt64(c) }
        return EngineRequest(promptTokenIds: prompts[c / n], params: p, priority: priority,
                             externalId: choiceCount == 1 ? requestID : "\(requestID)-\(c)")
    }

    /// Prompt tokens counted once per prompt (not per choice), as OpenAI does.
    var promptTokenTotal: Int { prompts.reduce(0) { $0 + $1.count } }
}

/// Requests waiting for their first token, counted by the server so that it can answer 429 before
/// the engine's own queue fills.
final class Admission: Sendable {
    private let waiting = Mutex(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func tryEnter() -> Ticket? {
        let ok = waiting.withLock { w -> Bool in
            guard w < limit else { return false }
            w += 1
            return true
        }
        return ok ? Ticket(admission: self) : nil
    }

    fileprivate func leave() { waiting.withLock { $0 -= 1 } }
    var current: Int { waiting.withLock { $0 } }

    /// Held while a request waits; `release()` is idempotent.
    final class Ticket: Sendable {
        private let admission: Admission
        private let released = Mutex(false)
        fileprivate init(admission: Admission) { self.admission = admission }
        func release() {
            let first = released.withLock { r -> Bool in defer { r = true }; return !r }
            if first { admission.leave() }
        }
        deinit { release() }
    }
}

/// Submits every choice; if one submission fails the ones already made are aborted.
func submitAll(_ job: GenerationJob, to engine: some EngineClient) throws(EngineError) -> [AsyncStream<RequestOutput>] {
    var streams: [AsyncStream<RequestOutput>] = []
    streams.reserveCapacity(job.choiceCount)
    do {
        for c in 0..<job.choiceCount { streams.append(try engine.generate(job.engineRequest(choice: c))) }
    } catch {
        abandon(streams)
        throw error
    }
    return streams
}

/// Cancelling an iteration is how the engine learns to abort a request.
func abandon(_ streams: [AsyncStream<RequestOutput>]) {
    for s in streams {
        let t = Task { for await _ in s {} }
        t.cancel()
    }
}

/// Calls `body(choiceIndex, output)` for every output of every stream, one at a time, in arrival order.
/// Cancellation (client gone) ends every stream's iteration, which aborts the engine requests.
/// Throws `CancellationError` if the task was cancelled before all streams finished.
func forEachOutput(_ streams: [AsyncStream<RequestOutput>],
                   _ body: (Int, RequestOutput) async throws -> Void) async throws {
    if streams.count == 1 {
        var finished = false
        for await out in streams[0] {
            if out.finishReason != nil { finished = true }
            try await body(0, out)
        }
        if !finished { try Task.checkCancellation() }
        return
    }
    let (merged, sink) = AsyncStream<(Int, RequestOutput)>.makeStream()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            await withTaskGroup(of: Void.self) { producers in
                for (i, s) in streams.enumerated() {
                    producers.addTask { for await out in s { sink.yield((i, out)) } }
                }
            }
            sink.finish()
        }
        var open = streams.count
        for await (i, out) in merged {
            if out.finishReason != nil { open -= 1 }
            try await body(i, out)
        }
        if open > 0 { try Task.checkCancellation() }
        try await group.waitForAll()
    }
}

// MARK: - from API options to engine params

struct ParamsBuilder {
    let info: ModelInfo

    /// Converts and checks what needs the model (vocabulary, context length). `maxTokens == nil` fills the context.
    func params(_ o: SamplingOptions, promptLengths: [Int], defaultMaxTokens: Int?, messages: Bool) throws(APIError) -> SamplingParams {
        var p = SamplingParams()
        let longest = promptLengths.max() ?? 0
        let maxTokens = o.maxTokens ?? defaultMaxTokens ?? max(1, info.maxModelLen - longest)
        if longest + maxTokens > info.maxModelLen {
            throw .contextLengthExceeded(maxModelLen: info.maxModelLen, promptTokens: longest,
                                         completionTokens: maxTokens, messages: messages)
        }
        p.maxTokens = maxTokens
        p.minTokens = o.minTokens ?? 0
        p.temperature = Float(o.temperature ?? 1)
        p.topP = Float(o.topP ?? 1)
        p.topK = o.topK ?? 0
        p.minP = Float(o.minP ?? 0)
        p.repetitionPenalty = Float(o.repetitionPenalty ?? 1)
        p.presencePenalty = Float(o.presencePenalty ?? 0)
        p.frequencyPenalty = Float(o.frequencyPenalty ?? 0)
        p.seed = o.seed.map { UInt64(bitPattern: Int64($0)) }
        p.stop = o.stop.filter { !$0.isEmpty }
        p.ignoreEOS = o.ignoreEOS ?? false
        p.skipSpecialTokens = o.skipSpecialTokens ?? true
        for (id, bias) in o.logitBias {
            try checkToken(id, param: "logit_bias")
            p.logitBias[Int32(id)] = Float(bias)
        }
        for (i, id) in o.stopTokenIds.enumerated() {
            try checkToken(id, param: "stop_token_ids[\(i)]")
            p.stopTokenIds.append(Int32(id))
        }
        return p
    }

    func checkToken(_ id: Int, param: String) throws(APIError) {
        guard id >= 0, id < info.vocabSize else {
            throw .outOfRange(param: param, allowed: "a token id in [0, \(info.vocabSize - 1)]", got: String(id))
        }
    }

    func checkPrompt(_ ids: [Int], param: String) throws(APIError) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() {
            try checkToken(id, param: "\(param)[\(i)]")
            out.append(Int32(id))
        }
        return out
    }
}

extension EngineFinishReason {
    /// OpenAI's names; an engine error never reaches a client as a finish reason.
    var apiName: String {
        switch self {
        case .stop: return "stop"
        case .length: return "length"
        case .abort: return "abort"
        case .error: return "error"
        }
    }
}
