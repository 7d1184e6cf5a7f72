import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OpenAIAPI
import Synchronization

/// Sends one streaming request and measures it. Never throws: every failure becomes an outcome with a reason.
struct RequestSender: Sendable {
    let target: BenchTarget
    let client: HTTPClient

    /// The JSON body: greedy, `ignore_eos`, `max_tokens` = the requested output length, streaming with usage.
    func body(_ r: BenchRequest) -> String {
        var sampling = SamplingOptions()
        sampling.maxTokens = r.outputLength
        sampling.ignoreEOS = true
        sampling.temperature = 0
        switch (target.endpoint, r.prompt) {
        case (.completions, .tokens(let ids)):
            return completion(.tokens(ids), sampling)
        case (.completions, .text(let s)):
            return completion(.text(s), sampling)
        case (.chat, .text(let s)):
            return chat(s, sampling)
        case (.chat, .tokens):
            return chat("", sampling)  // datasets build text prompts for chat; kept total for safety
        }
    }

    private func completion(_ prompt: Prompt, _ sampling: SamplingOptions) -> String {
        var req = CompletionRequest(model: target.model, prompt: prompt, sampling: sampling)
        req.stream = true
        req.streamOptions = StreamOptions(includeUsage: true)
        return JSONValue.object(req.jsonObject).jsonText
    }

    private func chat(_ text: String, _ sampling: SamplingOptions) -> String {
        var req = ChatCompletionRequest(model: target.model, messages: [ChatMessage(role: "user", content: text)],
                                        sampling: sampling)
        req.stream = true
        req.streamOptions = StreamOptions(includeUsage: true)
        return JSONValue.object(req.jsonObject).jsonText
    }

    var timeoutReason: String { "timeout: no complete response within \(format(target.requestTimeout)) s" }

    /// Runs the request under `target.requestTimeout` (enforced both as the HTTP deadline and by a racing timer,
    /// so a server that stops mid-stream cannot hang the run).
    func send(_ r: BenchRequest, startTime: Double) async -> RequestOutcome {
        let timeout = target.requestTimeout
        let start = ContinuousClock.now
        let outcome = await withTaskGroup(of: RequestOutcome?.self) { group in
            group.addTask { await self.exchange(r, start: start) }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000) + 250))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? RequestOutcome(success: false, promptLength: r.promptLength, outputTokens: 0, ttft: 0, itl: [],
                                           latency: seconds(ContinuousClock.now - start), error: timeoutReason)
        }
        var o = outcome
        o.startTime = startTime
        return o
    }

    /// Tries a request at most this many times (see `exchange`).
    static let maxAttempts = 3

    /// Sends the request and records its stream. A request whose connection fails before AsyncHTTPClient wrote any
    /// of it (a pooled connection the server had closed) is sent again, up to `maxAttempts` times; once a byte of
    /// it went out it is never repeated (the server may have started on it), and a failure is reported as such.
    private func exchange(_ r: BenchRequest, start: ContinuousClock.Instant) async -> RequestOutcome {
        var rec = StreamRecorder(start: start)
        var failure: String?
        do {
            let response = try await execute(r)
            guard response.status == .ok else {
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                return failed(r, start, "HTTP \(response.status.code): \(errorMessage(text))")
            }
            var parser = SSEParser()
            for try await buffer in response.body {
                let now = ContinuousClock.now
                for event in parser.feed(buffer.readableBytesView) { rec.consume(event, at: now) }
            }
        } catch {
            failure = describe(error)
            if failure == "timeout" { failure = timeoutReason }
        }
        return outcome(r, rec, failure: failure)
    }

    private func execute(_ r: BenchRequest) async throws -> HTTPClientResponse {
        let deadline = NIODeadline.now() + .milliseconds(Int64(target.requestTimeout * 1000))
        var attempt = 1
        while true {
            let probe = SendProbe()
            do {
                return try await client.execute(httpRequest(r, probe: probe), deadline: deadline)
            } catch {
                guard !probe.started, attempt < Self.maxAttempts, isConnectionFailure(error) else { throw error }
                attempt += 1
            }
        }
    }

    private func outcome(_ r: BenchRequest, _ rec: StreamRecorder, failure: String?) -> RequestOutcome {
        let end = rec.end ?? ContinuousClock.now
        var o = RequestOutcome(success: false, promptLength: rec.usage?.prompt_tokens ?? r.promptLength,
                               outputTokens: rec.usage?.completion_tokens ?? rec.tokenEvents, ttft: rec.ttft ?? 0,
                               itl: rec.itl, latency: seconds(end - rec.start))
        if let e = rec.error {
            o.error = e
        } else if rec.done {
            o.success = rec.ttft != nil
            if !o.success { o.error = "no tokens in the stream" }
        } else if let failure {
            o.error = rec.ttft == nil ? failure : "stream broken: \(failure)"
        } else {
            o.error = "stream ended before [DONE]"
        }
        return o
    }

    private func failed(_ r: BenchRequest, _ start: ContinuousClock.Instant, _ reason: String) -> RequestOutcome {
        RequestOutcome(success: false, promptLength: r.promptLength, outputTokens: 0, ttft: 0, itl: [],
                       latency: seconds(ContinuousClock.now - start), error: reason)
    }

    private func httpRequest(_ r: BenchRequest, probe: SendProbe) -> HTTPClientRequest {
        var req = HTTPClientRequest(url: target.url(target.endpoint.path))
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.headers.add(name: "Accept", value: "text/event-stream")
        if !target.keepAlive { req.headers.add(name: "Connection", value: "close") }
        if let key = target.apiKey { req.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let bytes = ByteBuffer(string: body(r))
        req.body = .stream(ProbedBody(buffer: bytes, probe: probe), length: .known(Int64(bytes.readableBytes)))
        return req
    }
}

/// Whether any of a request was handed to a connection. AsyncHTTPClient asks a streamed body for its bytes only
/// once it has written the request head, so an untouched body means nothing of the request was sent.
final class SendProbe: Sendable {
    private let pulled = Atomic<Bool>(false)
    var started: Bool { pulled.load(ordering: .acquiring) }
    func mark() { pulled.store(true, ordering: .releasing) }
}

/// The request body as a one-buffer stream that tells its probe when it is first read.
struct ProbedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer
    let probe: SendProbe

    struct AsyncIterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        let probe: SendProbe
        mutating func next() async -> ByteBuffer? {
            probe.mark()
            defer { buffer = nil }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer, probe: probe) }
}

/// A failure of the connection itself (closed, reset), as opposed to a timeout, a refused connection or a bad response.
func isConnectionFailure(_ error: any Error) -> Bool {
    if let e = error as? HTTPClientError, e == .remoteConnectionClosed { return true }
    if let e = error as? ChannelError, e == .ioOnClosedChannel || e == .eof || e == .alreadyClosed { return true }
    if let e = error as? IOError, [ECONNRESET, EPIPE].contains(e.errnoCode) { return true }
    return false
}

/// The `message` of an OpenAI error body, else the body's start.
func errorMessage(_ body: String) -> String {
    if let o = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any],
       let e = o["error"] as? [String: Any], let m = e["message"] as? String { return m }
    return String(body.prefix(200))
}

/// A short, stable reason for a transport error (grouped in the report, so without per-request details).
func describe(_ error: any Error) -> String {
    let text = String(describing: error)
    let lower = text.lowercased()
    if lower.contains("refused") { return "connection refused" }
    if lower.contains("reset by peer") { return "connection reset" }
    if lower.contains("deadlineexceeded") || lower.contains("readtimeout") { return "timeout" }
    if lower.contains("connecttimeout") { return "connect timeout" }
    if lower.contains("remoteconnectionclosed") { return "remote connection closed" }
    if lower.contains("iooncloseedchannel") || lower.contains("ioonclosedchannel") { return "I/O on closed channel" }
    if lower.contains("unexpected time") || lower.contains("invalideofstate") { return "connection closed mid-response" }
    if error is CancellationError || lower.contains("cancelled") { return "cancelled" }
    return "transport error: \(text.prefix(160))"
}

func format(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%.2f", x)
}
