import AsyncHTTPClient
import Engine
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Server
import Synchronization
import Testing

enum Paths {
    /// Resolved through the dev package's symlinks to the repository.
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path
    static let golden = root.appendingPathComponent("models/stories260K/golden_greedy.json")
}

/// A plain template so that the chat endpoint can be exercised on a model that ships none.
let testChatTemplate = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    + "{% if add_generation_prompt %}assistant:{% endif %}"

struct HTTPResult: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    func json() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
    }

    /// `{"error": {...}}` → the inner object.
    func error() throws -> [String: Any] {
        try #require(try json()["error"] as? [String: Any], "no error object: \(body)")
    }

    /// A string field of the error object, nil when absent or not an error body.
    func errorField(_ key: String) -> String? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let e = o["error"] as? [String: Any] else { return nil }
        return e[key] as? String
    }

    /// SSE payloads in order (without `data: `), including "[DONE]".
    var events: [String] {
        body.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { String($0.dropFirst("data: ".count)) }
    }
}

struct Live: Sendable {
    let port: Int
    let engine: Engine

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil,
                 headers: [(String, String)] = []) async throws -> HTTPResult {
        var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        req.method = method
        if let body {
            req.body = .bytes(ByteBuffer(string: body))
            req.headers.add(name: "Content-Type", value: "application/json")
        }
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        let resp = try await HTTPClient.shared.execute(req, timeout: ServerTestTiming.request)
        let bytes = try await resp.body.collect(upTo: 64 << 20)
        return HTTPResult(status: Int(resp.status.code), headers: resp.headers, body: String(buffer: bytes))
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> HTTPResult {
        try await request(.POST, path, body: body, headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPResult {
        try await request(.GET, path, headers: headers)
    }

    /// Polls until the engine holds no request and no KV block (or fails after `seconds`).
    func waitUntilIdle(seconds: Double = 30) async throws -> EngineStats {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var s = await engine.stats()
        while (s.numRunning > 0 || s.numWaiting > 0 || s.kvUsage > 0), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            s = await engine.stats()
        }
        return s
    }
}

/// Loads stories260K, starts the engine and the server on an ephemeral port, runs `body`, shuts down.
func withLiveServer(configure: (inout ServerConfig) -> Void = { _ in },
                    engine configureEngine: (inout EngineConfig) -> Void = { _ in },
                    logger: Logger? = nil,
                    _ body: @Sendable (Live) async throws -> Void) async throws {
    var ec = EngineConfig()
    ec.numBlocks = 256
    ec.chatTemplate = testChatTemplate
    configureEngine(&ec)
    // Wired as `serve` wires them: the engine's own metrics go into the server's registry.
    let metrics = ServerMetrics()
    let engine = try Engine.load(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok, config: ec,
                                 metricsFactory: metrics.engineMetricsFactory)
    engine.start()
    defer { engine.shutdown() }
    var config = ServerConfig(servedModelName: "stories", host: "127.0.0.1", port: 0)
    configure(&config)
    var quiet = Logger(label: "server-test")
    quiet.logLevel = .warning
    let app = buildApplication(engine: engine, config: config, logger: logger ?? quiet, metrics: metrics)
    try await app.test(.live) { client in
        try await body(Live(port: try #require(client.port), engine: engine))
    }
}

func object(_ s: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any], "not a JSON object: \(s)")
}

/// Keeps every log record (for asserting on the access log).
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        let records = Mutex<[(message: String, metadata: [String: String])]>([])
    }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let merged = self.metadata.merging(metadata ?? [:]) { $1 }
        store.records.withLock { $0.append((message.description, merged.mapValues { "\($0)" })) }
    }
}

/// Time limits of the server tests, from one place. Generous: they bound a test that hangs, and a request's own
/// time is the machine's speed (beside `stress-ng --cpu 2` and the parallel suites, a 60 s limit on a stories260K
/// completion once ran out). SWIFTLET_TEST_TIME_SCALE scales them, as the cluster tests' TestTiming.
enum ServerTestTiming {
    static let scale: Double = ProcessInfo.processInfo.environment["SWIFTLET_TEST_TIME_SCALE"].flatMap(Double.init).map { max(0.5, $0) } ?? 1
    /// A whole HTTP request (its response body included).
    static var request: TimeAmount { .seconds(Int64(300 * scale)) }
    /// How long graceful shutdown lets an in-flight request run before it is cut.
    static var shutdown: Double { 300 * scale }
}
