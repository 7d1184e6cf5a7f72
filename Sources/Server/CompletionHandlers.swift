import Constraints
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
        if let why = engine.unavailableReason { throw .serviceUnavailable(why) }
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
        params.constraint = req.constraint?.spec
        let job = GenerationJob(prompts: prompts, n: req.sampling.n, params: params,
                                priority: req.sampling.priority ?? 0, requestID: context.requestID)
        let id = "cmpl-" + randomHex(12)
        let created = Int(Date().timeIntervalSince1970)
        let echo = req.echo ? EchoPlan(prompts: prompts, engine: engine) : nil
        let choices = (0..<job.choiceCount).map { c in
            ChoiceAccumulator(index: c, endpoint: .completion(echo: echo?.texts[c / job.n], prompt: job.prompts[c / job.n]),
                              formatter: formatter, logprobs: params.logprobs != nil, promptLogprobs: params.promptLogprobs)
        }
        if req.stream {
            let includeUsage = req.streamOptions?.includeUsage ?? false
            let enc = ChunkEncoder(kind: .completion, id: id, created: created, model: config.servedModelName,
                                   systemFingerprint: config.systemFingerprint, includeUsage: includeUsage)
            return try stream(job, request: request, context: context, choices: choices, encoder: enc, includeUsage: includeUsage)
        }
        let done = try await collect(job, request: request, context: context, choices: choices)
        let body = CompletionResponse(id: id, created: created, model: config.servedModelName,
                                      systemFingerprint: config.systemFingerprint, choices: done.map(\.completionChoice),
                                      usage: usage(job, done, context))
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

    // MARK: shared: collect / stream

    func usage(_ job: GenerationJob, _ choices: [ChoiceAccumulator<E>], _ context: ServerRequestContext) -> Usage {
        let completion = choices.reduce(0) { $0 + $1.completionTokens }
        context.log.setTokens(prompt: job.promptTokenTotal, completion: completion)
        return Usage(promptTokens: job.promptTokenTotal, completionTokens: completion)
    }

    /// Runs the job to the end, each output into its choice's accumulator; the client closing the connection
    /// cancels it (and so aborts the engine requests).
    func collect(_ job: GenerationJob, request: Request, context: ServerRequestContext,
                 choices: [ChoiceAccumulator<E>]) async throws -> [ChoiceAccumulator<E>] {
        let (streams, ticket) = try submit(job)
        let watch = await context.disconnectWatch()
        // Outside the relay, so that what a cut-short request streamed is still known after it threw (the relay
        // has ended by then: cancellingOnDisconnect waits for it).
        var choices = choices
        do {
            try await cancellingOnDisconnect(watch) {
                try await forEachOutput(streams) { c, out in
                    ticket.release()
                    metrics.observe(out, first: !choices[c].started)
                    _ = choices[c].consume(out)
                }
            }
        } catch {
            cutShort(job, choices, context)
            throw error
        }
        let done = choices
        if let failed = done.first(where: { $0.finishReason == .error }) {
            throw EngineFailure(message: failed.stopReason ?? "engine error")
        }
        return done
    }

    /// Streams the chunk each output's accumulator returns, then the usage chunk (if asked) and `[DONE]`.
    func stream(_ job: GenerationJob, request: Request, context: ServerRequestContext, choices: [ChoiceAccumulator<E>],
                encoder: ChunkEncoder, includeUsage: Bool) throws -> Response {
        let (streams, ticket) = try submit(job)
        let handlers = self
        let body = ResponseBody { writer in
            var choices = choices
            var failed = false
            do {
                try await cancellingOnDisconnect(await context.disconnectWatch()) {
                    try await forEachOutput(streams) { c, out in
                        ticket.release()
                        handlers.metrics.observe(out, first: !choices[c].started)
                        if out.finishReason == .error {
                            if !failed {
                                let e = APIError.internalError()
                                try await writer.write(sseBuffer(String(decoding: e.jsonData(), as: UTF8.self)))
                            }
                            failed = true
                            _ = choices[c].consume(out)
                            return
                        }
                        if let chunk = choices[c].chunk(out, encoder: encoder) { try await writer.write(sseBuffer(chunk)) }
                    }
                }
            } catch {
                handlers.cutShort(job, choices, context)
                throw error
            }
            let usage = handlers.usage(job, choices, context)
            if includeUsage { try await writer.write(sseBuffer(encoder.usage(usage))) }
            try await writer.write(ByteBuffer(string: SSE.done))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: Self.sseHeaders, body: body)
    }

    /// A response cut short (client gone, a write failed): its choices that had not finished count as aborted
    /// (their engine requests are aborted by the cancellation, whose final output no longer reaches the relay), and
    /// the access log gets the tokens they did stream.
    func cutShort(_ job: GenerationJob, _ choices: [ChoiceAccumulator<E>], _ context: ServerRequestContext) {
        metrics.recordAborts(choices.filter { $0.finishReason == nil }.count)
        _ = usage(job, choices, context)
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

extension OutputConstraint {
    /// The engine's form (compiled, and checked, when the engine validates the request).
    var spec: ConstraintSpec {
        switch self {
        case .jsonSchema(let s, let p): return ConstraintSpec(.jsonSchema(s), param: p)
        case .jsonObject(let p): return ConstraintSpec(.jsonObject, param: p)
        case .regex(let r, let p): return ConstraintSpec(.regex(r), param: p)
        case .choice(let c, let p): return ConstraintSpec(.choice(c), param: p)
        case .grammar(let g, let p): return ConstraintSpec(.grammar(g), param: p)
        }
    }
}

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
