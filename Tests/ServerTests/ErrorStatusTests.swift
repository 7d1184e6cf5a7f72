import AsyncHTTPClient
import Engine
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Server
import Synchronization
import Testing

/// Every error status over real HTTP, each with an OpenAI-shaped body.
@Suite(.serialized) struct ErrorStatusTests {
    @Test func badRequests() async throws {
        try await withLiveServer { live in
            let malformed = try await live.post("/v1/completions", #"{"prompt": "x""#)
            #expect(malformed.status == 400)
            let e = try malformed.error()
            #expect(e["type"] as? String == "invalid_request_error")
            #expect(e["param"] is NSNull)
            #expect((e["message"] as? String)?.contains("JSON") == true)

            let wrongType = try await live.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"n":"two"}"#)
            #expect(wrongType.status == 400 && wrongType.errorField("param") == "n")

            let range = try await live.post("/v1/completions", #"{"prompt":"x","temperature":5}"#)
            #expect(range.status == 400)
            #expect(range.errorField("param") == "temperature")
            #expect(range.errorField("message")?.contains("[0, 2]") == true)

            let vocab = try await live.post("/v1/completions", #"{"prompt":[1,2,100000]}"#)
            #expect(vocab.status == 400 && vocab.errorField("param") == "prompt[2]")

            let bias = try await live.post("/v1/completions", #"{"prompt":"x","logit_bias":{"100000":1}}"#)
            #expect(bias.status == 400 && bias.errorField("param") == "logit_bias")
        }
    }

    @Test func contextLengthSaysTheNumbers() async throws {
        try await withLiveServer { live in
            let maxLen = live.engine.modelInfo.maxModelLen
            let promptLen = live.engine.encode("Once upon a time", addSpecial: true, parseSpecial: false).count
            let r = try await live.post("/v1/completions", #"{"prompt":"Once upon a time","max_tokens":\#(maxLen)}"#)
            #expect(r.status == 400)
            let e = try r.error()
            #expect(e["code"] as? String == "context_length_exceeded")
            let message = try #require(e["message"] as? String)
            #expect(message.contains("maximum context length is \(maxLen) tokens"))
            #expect(message.contains("you requested \(maxLen + promptLen) tokens (\(promptLen) in the prompt, \(maxLen) in the completion)"))
            let chat = try await live.post("/v1/chat/completions",
                                           #"{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":\#(maxLen)}"#)
            #expect(chat.status == 400 && chat.errorField("message")?.contains("in the messages") == true)
        }
    }

    @Test func apiKeyGuardsEverythingButHealthAndMetrics() async throws {
        try await withLiveServer(configure: { $0.apiKey = "sekrit" }) { live in
            let none = try await live.get("/v1/models")
            #expect(none.status == 401)
            #expect(none.errorField("code") == "invalid_api_key")
            let wrong = try await live.post("/v1/completions", #"{"prompt":"x"}"#, headers: [("Authorization", "Bearer nope")])
            #expect(wrong.status == 401)
            let ok = try await live.get("/v1/models", headers: [("Authorization", "Bearer sekrit")])
            #expect(ok.status == 200)
            #expect(try await live.get("/health").status == 200)
            #expect(try await live.get("/metrics").status == 200)
        }
    }

    @Test func notFoundMethodAndSize() async throws {
        try await withLiveServer(configure: { $0.maxBodySize = 1000 }) { live in
            let model = try await live.post("/v1/completions", #"{"model":"gpt-4","prompt":"x"}"#)
            #expect(model.status == 404 && model.errorField("param") == "model")
            let route = try await live.get("/v2/nothing")
            #expect(route.status == 404 && route.errorField("code") == "unknown_url")
            let slashed = try await live.get("/v1/models/org/model")
            #expect(slashed.status == 404 && slashed.errorField("code") == "model_not_found")
            let method = try await live.get("/v1/completions")
            #expect(method.status == 405)
            #expect(method.errorField("message")?.contains("POST") == true)
            let big = try await live.post("/v1/completions", #"{"prompt":"\#(String(repeating: "a", count: 2000))"}"#)
            #expect(big.status == 413 && big.errorField("code") == "request_too_large")
        }
    }

    @Test func modelIdsWithSlashesAndMissingChatTemplate() async throws {
        try await withLiveServer(configure: { $0.servedModelName = "org/stories" }, engine: { $0.chatTemplate = nil }) { live in
            let card = try await live.get("/v1/models/org/stories")
            #expect(card.status == 200)
            #expect(try card.json()["id"] as? String == "org/stories")
            let ok = try await live.post("/v1/completions", #"{"model":"org/stories","prompt":"x","max_tokens":1}"#)
            #expect(ok.status == 200)
            let chat = try await live.post("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(chat.status == 400 && chat.errorField("param") == "messages")
            #expect(chat.errorField("message")?.contains("chat template") == true)
        }
    }

    @Test func queueFullIs429WithRetryAfter() async throws {
        try await withLiveServer(configure: { $0.maxQueuedRequests = 0; $0.retryAfterSeconds = 2 }) { live in
            let r = try await live.post("/v1/completions", #"{"prompt":"x","max_tokens":2}"#)
            #expect(r.status == 429)
            #expect(r.headers["Retry-After"].first == "2")
            #expect(r.errorField("type") == "rate_limit_error")
        }
        try await withLiveServer(engine: { $0.maxQueuedRequests = 0 }) { live in
            let r = try await live.post("/v1/completions", #"{"prompt":"x","max_tokens":2}"#)
            #expect(r.status == 429, "engine queueFull → 429: \(r.body)")
            #expect(!r.headers["Retry-After"].isEmpty)
        }
    }

    @Test func requestIdIsEchoedOrGenerated() async throws {
        try await withLiveServer { live in
            let given = try await live.get("/v1/models", headers: [("X-Request-Id", "abc-123")])
            #expect(given.headers["X-Request-Id"].first == "abc-123")
            let made = try await live.get("/v1/models")
            #expect(made.headers["X-Request-Id"].first?.isEmpty == false)
            let err = try await live.get("/nope", headers: [("X-Request-Id", "e-1")])
            #expect(err.headers["X-Request-Id"].first == "e-1")
        }
    }

    @Test func streamingDisconnectAbortsTheEngineRequest() async throws {
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "access") { _ in CapturingLogHandler(store: store) }
        try await withLiveServer(logger: logger) { live in
            let maxLen = live.engine.modelInfo.maxModelLen
            // Many long choices: far more work than can finish before the client goes away.
            var req = HTTPClientRequest(url: "http://127.0.0.1:\(live.port)/v1/completions")
            req.method = .POST
            req.headers.add(name: "Content-Type", value: "application/json")
            req.headers.add(name: "X-Request-Id", value: "gone-stream")
            req.body = .bytes(ByteBuffer(string: #"{"prompt":[1],"max_tokens":\#(maxLen - 1),"ignore_eos":true,"n":16,"stream":true}"#))
            let (gotFirst, firstSeen) = AsyncStream<Void>.makeStream()
            let client = Task {
                let resp = try await HTTPClient.shared.execute(req, timeout: ServerTestTiming.request)
                var received = 0
                for try await part in resp.body {
                    received += part.readableBytes
                    firstSeen.yield()
                }
                return received
            }
            var it = gotFirst.makeAsyncIterator()
            await it.next()
            client.cancel()
            _ = await client.result
            let stats = try await live.waitUntilIdle()
            #expect(stats.numRunning == 0 && stats.numWaiting == 0)
            #expect(stats.kvUsage == 0)
            // The aborted requests did not all run to the end.
            let metrics = try await live.get("/metrics").body
            let full = metrics.split(separator: "\n").first { $0.hasPrefix("swiftlet:generation_tokens_total ") }
            let generated = Int(full?.split(separator: " ").last ?? "") ?? .max
            #expect(generated < 16 * (maxLen - 1), "generated \(generated)")
            // All 16 choices count as aborted, and the access log has the tokens they streamed (both are recorded
            // once the handler has unwound, which the access-log line tells).
            let line = try #require(await accessLine(store, "gone-stream"), "no access-log line for the cut stream")
            let counted = try await live.get("/metrics").body
            #expect(metricValue(counted, #"swiftlet:request_success_total{finished_reason="abort"}"#) == 16,
                    "\(counted.split(separator: "\n").filter { $0.contains("request_success_total") })")
            #expect(line["status"] == "499")
            #expect(line["prompt_tokens"] == "1", "a 1-token prompt (counted once, as OpenAI does, for its 16 choices)")
            let relayed = metricValue(counted, "swiftlet:generation_tokens_total") ?? -1
            let completion = Int(line["completion_tokens"] ?? "") ?? 0
            #expect(completion >= 1 && completion == relayed, "logged \(completion), relayed \(relayed)")
        }
    }

    @Test func nonStreamingDisconnectAbortsTheEngineRequest() async throws {
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "access") { _ in CapturingLogHandler(store: store) }
        try await withLiveServer(logger: logger) { live in
            let maxLen = live.engine.modelInfo.maxModelLen
            var req = HTTPClientRequest(url: "http://127.0.0.1:\(live.port)/v1/completions")
            req.method = .POST
            req.headers.add(name: "Content-Type", value: "application/json")
            req.headers.add(name: "X-Request-Id", value: "gone-collect")
            req.body = .bytes(ByteBuffer(string: #"{"prompt":[1],"max_tokens":\#(maxLen - 1),"ignore_eos":true,"n":16}"#))
            let client = Task { try await HTTPClient.shared.execute(req, timeout: ServerTestTiming.request) }
            // Wait until the engine is busy with the request, then hang up.
            let deadline = ContinuousClock.now + .seconds(30)
            while await live.engine.stats().numRunning == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            client.cancel()
            _ = await client.result
            let stats = try await live.waitUntilIdle()
            #expect(stats.numRunning == 0 && stats.kvUsage == 0)
            let metrics = try await live.get("/metrics").body
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("swiftlet:generation_tokens_total ") }
            let generated = Int(line?.split(separator: " ").last ?? "") ?? .max
            #expect(generated < 16 * (maxLen - 1), "generated \(generated)")
            let logged = try #require(await accessLine(store, "gone-collect"), "no access-log line for the cut request")
            let counted = try await live.get("/metrics").body
            #expect(metricValue(counted, #"swiftlet:request_success_total{finished_reason="abort"}"#) == 16,
                    "\(counted.split(separator: "\n").filter { $0.contains("request_success_total") })")
            #expect(logged["status"] == "499")
            #expect(logged["prompt_tokens"] == "1")
            // What the engine generated before the hang-up (it may be 0 if it went away before the first step).
            let relayed = metricValue(counted, "swiftlet:generation_tokens_total") ?? -1
            let completion = Int(logged["completion_tokens"] ?? "") ?? -1
            #expect(completion >= 0 && completion == relayed, "logged \(completion), relayed \(relayed)")
        }
    }
}

/// The value of one sample of the Prometheus text (`name{labels} value`), nil when absent.
func metricValue(_ text: String, _ sample: String) -> Int? {
    text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }
        .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
}

/// The access-log line of request `id`, waiting for it (a cut request logs once its handler has unwound).
func accessLine(_ store: CapturingLogHandler.Store, _ id: String, seconds: Double = 30) async -> [String: String]? {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while true {
        if let r = store.records.withLock({ $0 }).first(where: { $0.metadata["request_id"] == id }) { return r.metadata }
        if ContinuousClock.now >= deadline { return nil }
        try? await Task.sleep(for: .milliseconds(20))
    }
}
