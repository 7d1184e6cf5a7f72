import AsyncHTTPClient
import Engine
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Server
import ServiceLifecycle
import Synchronization
import Testing

@Suite(.serialized) struct LifecycleTests {
    @Test func gracefulShutdownLetsInFlightStreamsFinish() async throws {
        var ec = EngineConfig()
        ec.numBlocks = 256
        let engine = try Engine.load(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok, config: ec,
                                     metricsFactory: NOOPMetricsHandler.instance)
        var config = ServerConfig(servedModelName: "stories", host: "127.0.0.1", port: 0)
        config.shutdownTimeout = ServerTestTiming.shutdown
        var logger = Logger(label: "lifecycle-test")
        logger.logLevel = .warning
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = buildApplication(engine: engine, config: config, logger: logger) { portSink.yield($0) }
        let group = SwiftletServer.serviceGroup(app: app, config: config, services: [engine], logger: logger)
        let running = Task { try await group.run() }
        var portIt = ports.makeAsyncIterator()
        let port = try #require(await portIt.next())
        let maxLen = engine.modelInfo.maxModelLen

        var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/completions")
        req.method = .POST
        req.body = .bytes(ByteBuffer(string: #"{"prompt":[1],"max_tokens":\#(maxLen / 8),"ignore_eos":true,"n":2,"stream":true}"#))
        let resp = try await HTTPClient.shared.execute(req, timeout: ServerTestTiming.request)
        var body = resp.body.makeAsyncIterator()
        var text = String(buffer: try #require(try await body.next()))
        await group.triggerGracefulShutdown()
        while let part = try await body.next() { text += String(buffer: part) }
        #expect(text.hasSuffix("data: [DONE]\n\n"), "the in-flight stream ran to its end")
        #expect(text.components(separatedBy: #""finish_reason":"length""#).count - 1 == 2)
        try await running.value   // the group returns normally
        // The server no longer accepts connections.
        await #expect(throws: (any Error).self) {
            _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1))
        }
    }

    @Test func accessLogHasOneLinePerRequest() async throws {
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "access") { _ in CapturingLogHandler(store: store) }
        try await withLiveServer(logger: logger) { live in
            _ = try await live.post("/v1/completions", #"{"prompt":"Once","max_tokens":3,"temperature":0}"#,
                                    headers: [("X-Request-Id", "log-1")])
            _ = try await live.post("/v1/completions", #"{"prompt":"Once","max_tokens":4,"temperature":0,"stream":true}"#,
                                    headers: [("X-Request-Id", "log-2")])
            _ = try await live.get("/nowhere", headers: [("X-Request-Id", "log-3")])
        }
        let records = store.records.withLock { $0 }.filter { $0.metadata["request_id"]?.hasPrefix("log-") == true }
        #expect(records.count == 3)
        let byId = Dictionary(records.map { ($0.metadata["request_id"]!, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byId["log-1"]?.metadata["status"] == "200")
        #expect(byId["log-1"]?.metadata["completion_tokens"] == "3")
        #expect(byId["log-1"]?.message.contains("POST /v1/completions") == true)
        #expect(byId["log-2"]?.metadata["completion_tokens"] == "4", "streamed requests log when the stream ends")
        #expect((Int(byId["log-2"]?.metadata["prompt_tokens"] ?? "") ?? 0) > 0)
        #expect(byId["log-3"]?.metadata["status"] == "404")
        #expect(byId["log-1"]?.metadata["latency_ms"] != nil)
    }

    @Test func stopStringsEndTheChoice() async throws {
        let golden = try object(String(contentsOf: Paths.golden, encoding: .utf8))
        let goldenText = try #require(golden["text"] as? String)
        let stop = "Lily"
        let prefix = try #require(goldenText.range(of: stop)).lowerBound
        try await withLiveServer { live in
            let r = try await live.post("/v1/completions", #"{"prompt":[1],"max_tokens":100,"temperature":0,"stop":["\#(stop)"]}"#)
            let choice = try #require((try r.json()["choices"] as? [[String: Any]])?.first)
            #expect((choice["text"] as? String)?.drop(while: { $0 == " " }) == goldenText[..<prefix])
            #expect(choice["finish_reason"] as? String == "stop")
            #expect(choice["stop_reason"] as? String == stop)
        }
    }
}
