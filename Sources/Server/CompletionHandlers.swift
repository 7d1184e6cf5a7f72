import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAIAPI

/// The generation endpoints. One instance serves every request.
struct GenerationHandlers<E: EngineClient>: Sendable {
    let engine: E
    let config: ServerConfig
    let metrics: ServerMetrics
    let admission: Admission

    var builder: ParamsBuilder { ParamsBuilder(info: engine.modelInfo) }
    var formatter: LogprobFormatter<E> { LogprobFormatter(engine: engine) }

    /// Generation responses keep the connection alive: the client's hang-up is watched for by the
    /// connection's `DisconnectWatchHandler`, which does not read the connection (see `cancellingOnDisconnect`).
    static var sseHeaders: HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache"]
    }

    func checkModel(_ model: String?) throws(APIError) {
        if let model, model != config.servedModelName { throw .modelNotFound(model) }
    }

    func checkReady() throws(APIError) {
        guard engine.isReady else { throw .serviceUnavailable("The model is still loading; retry shortly.") }
    }

    // MARK: /v1/completions

    func completions(_ request: Request, _ context: ServerRequestContext) async throws -> Response {
        var request = request
        let req = try CompletionRequest.decode(try await readBody(&request, limit: config.maxBodySize))
        try checkModel(req.model)
        try checkReady()
        let prompts = try tokenize(req.prompt)
        var params = try builder.params(req.sampling, promptLengths: prompts.map(\.count),
                                        defaultMaxTokens: CompletionRequest.defaultMaxTokens, messages: false)
        params.logprobs = req.logprobs
        params.promptLogprobs = req.echo && req.logprobs != nil
        let job = GenerationJob(prompts: prompts, n: req.sampling.n, params: params,
                                priority: req.sampling.priority ?? 0, requestID: context.requestID)
        let id = "cmpl-" + randomHex(12)
        let created = Int(Date().timeIntervalSince1970)
        let echo = req.echo ? EchoPlan(prompts: prompts, engine: engine) : nil
        if req.stream {
            let enc = ChunkEncoder(kind: .completion, id: id, created: created, model: config.servedModelName,
                                   systemFingerprint: config.systemFingerprint, includeUsage: req.streamOptions?.includeUsage ?? false)
            return try stream(job, request: request, context: context, includeUsage: req.streamOptions?.includeUsage ?? false) {
                choice, state, out in completionChunk(enc, choice: choice, state: &state, out: out, job: job, echo: echo)
            } usage: { enc.usage($0) }
        }
        let states = try await collect(job, request: request, context: context) { c, state, out in
            absorbCompletion(&state, out: out, choice: c, job: job, echo: echo)
        }
        let choices = states.enumerated().map { c, s in
            CompletionChoice(index: c, text: s.text, logprobs: s.completionLogprobs,
                             finishReason: s.finishReason?.apiName, stopReason: s.stopReason)
        }
        let body = CompletionResponse(id: id, created: created, model: config.servedModelName,
                                      systemFingerprint: config.systemFingerprint, choices: choices,
                                      usage: usage(job, states, context))
        return jsonResponse(body)
    }

    private func tokenize(_ prompt: Prompt) throws(APIError) -> [[Int32]] {
        switch prompt {
        case .text(let s): return [try nonEmpty(engine.encode(s, addSpecial: true, parseSpecial: false), "prompt")]
        case .texts(let t):
            var out: [[Int32]] = []
            for (i, s) in t.enumerated() { out.append(try nonEmpty(engine.encode(s, addSpecial: true, parseSpecial: false), "prompt[\(i)]")) }
            return out
        case .tokens(let ids): return [try builder.checkPrompt(ids, param: "prompt")]
        case .tokenBatches(let b):
            var out: [[Int32]] = []
            for (i, ids) in b.enumerated() { out.append(try builder.checkPrompt(ids, param: "prompt[\(i)]")) }
            return out
        }
    }

    private func nonEmpty(_ ids: [Int32], _ param: String) throws(APIError) -> [Int32] {
        guard !ids.isEmpty else { throw .invalidRequest("The prompt is empty (no tokens).", param: param, code: "invalid_value") }
        return ids
    }

    private func absorbCompletion(_ s: inout ChoiceState, out: RequestOutput, choice: Int, job: GenerationJob, echo: EchoPlan?) {
        if !s.started, let echo {
            s.started = true
            s.text = echo.texts[choice / job.n]
            if job.params.promptLogprobs {
                s.completionLogprobs = formatter.prompt(job.prompts[choice / job.n], out.promptLogprobs, offset: &s.textOffset)
            }
        }
        s.started = true
        s.absorb(out)
        if job.params.logprobs != nil {
            let lp = formatter.completion(out.logprobs, offset: &s.textOffset)
            if s.completionLogprobs == nil { s.completionLogprobs = lp } else { s.completionLogprobs!.append(lp) }
        }
    }

    private func completionChunk(_ enc: ChunkEncoder, choice: Int, state s: inout ChoiceState, out: RequestOutput,
                                 job: GenerationJob, echo: EchoPlan?) -> String {
        var text = out.textDelta
        var lp: CompletionLogprobs? = nil
        if !s.started, let echo {
            text = echo.texts[choice / job.n] + text
            if job.params.promptLogprobs {
                lp = formatter.prompt(job.prompts[choice / job.n], out.promptLogprobs, offset: &s.textOffset)
            }
        }
        s.started = true
        s.absorb(out)
        if job.params.logprobs != nil {
            let gen = formatter.completion(out.logprobs, offset: &s.textOffset)
            if lp == nil { lp = gen } else { lp!.append(gen) }
        }
        return enc.completion(index: choice, text: text, logprobs: lp, finishReason: out.finishReason?.apiName)
    }

    // MARK: shared: collect / stream

    func usage(_ job: GenerationJob, _ states: [ChoiceState], _ context: ServerRequestContext) -> Usage {
        let completion = states.reduce(0) { $0 + $1.completionTokens }
        context.log.setTokens(prompt: job.promptTokenTotal, completion: completion)
        return Usage(promptTokens: job.promptTokenTotal, completionTokens: completion)
    }

    /// Runs the job to the end; the client closing the connection cancels it (and so aborts the engine requests).
    func collect(_ job: GenerationJob, request: Request, context: ServerRequestContext,
                 absorb: @escaping @Sendable (Int, inout ChoiceState, RequestOutput) -> Void) async throws -> [ChoiceState] {
        let (streams, ticket) = try submit(job)
        let watch = await context.disconnectWatch()
        let states = try await cancellingOnDisconnect(watch) {
            var states = [ChoiceState](repeating: ChoiceState(), count: job.choiceCount)
            try await forEachOutput(streams) { c, out in
                ticket.release()
                metrics.observe(out, first: !states[c].started)
                absorb(c, &states[c], out)
            }
            return states
        }
        if let failed = states.first(where: { $0.finishReason == .error }) {
            throw EngineFailure(message: failed.stopReason ?? "engine error")
        }
        return states
    }

    /// Streams one SSE chunk per engine output, then the usage chunk (if asked) and `[DONE]`.
    func stream(_ job: GenerationJob, request: Request, context: ServerRequestContext, includeUsage: Bool,
                chunk: @escaping @Sendable (Int, inout ChoiceState, RequestOutput) -> String,
                usage makeUsage: @escaping @Sendable (Usage) -> String) throws -> Response {
        let (streams, ticket) = try submit(job)
        let handlers = self
        let body = ResponseBody { writer in
            let states = try await cancellingOnDisconnect(await context.disconnectWatch()) {
                var states = [ChoiceState](repeating: ChoiceState(), count: job.choiceCount)
                try await forEachOutput(streams) { c, out in
                    ticket.release()
                    handlers.metrics.observe(out, first: !states[c].started)
                    if out.finishReason == .error {
                        let e = APIError.internalError()
                        try await writer.write(sseBuffer(String(decoding: e.jsonData(), as: UTF8.self)))
                        states[c].finishReason = .error
                        states[c].started = true
                        return
                    }
                    try await writer.write(sseBuffer(chunk(c, &states[c], out)))
                }
                return states
            }
            let usage = handlers.usage(job, states, context)
            if includeUsage { try await writer.write(sseBuffer(makeUsage(usage))) }
            try await writer.write(ByteBuffer(string: SSE.done))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.sseHeaders, body: body)
    }

    /// The ticket counts the request as waiting until its first output (or until it is dropped).
    private func submit(_ job: GenerationJob) throws -> ([AsyncStream<RequestOutput>], Admission.Ticket) {
        guard let ticket = admission.tryEnter() else {
            throw APIError.rateLimited("Too many requests are waiting (\(admission.limit)); retry later.")
        }
        return (try submitAll(job, to: engine), ticket)
    }

    func jsonResponse(_ value: some Encodable) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: APIJSON.encode(value))))
    }
}

struct EngineFailure: Error { let message: String }

/// `data: <json>\n\n` written straight into one buffer (one allocation per event).
func sseBuffer(_ json: String) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(json.utf8.count + 8)
    buffer.writeStaticString("data: ")
    buffer.writeString(json)
    buffer.writeStaticString("\n\n")
    return buffer
}

/// Prompt texts for `echo` (token prompts are decoded).
struct EchoPlan: Sendable {
    let texts: [String]
    init(prompts: [[Int32]], engine: some EngineClient) {
        texts = prompts.map { engine.decode($0, skipSpecial: true) }
    }
}

/// Reads the whole body, at most `limit` bytes (413 above).
func readBody(_ request: inout Request, limit: Int) async throws -> Data {
    let buffer = try await request.collectBody(upTo: limit)
    return Data(buffer.readableBytesView)
}
