import Bench
import Engine
import Foundation
import Logging
import Server
import ServiceLifecycle
import Synchronization
import Testing

enum Paths {
    /// The repository root, through the dev package's symlinks.
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path

    static func tempDir(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// A plain chat template (stories260K ships none).
let testChatTemplate = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    + "{% if add_generation_prompt %}assistant:{% endif %}"

/// A real `swiftlet serve` in-process: stories260K, the Server module's application and the engine in one
/// ServiceGroup on an ephemeral port; `stop()` shuts the group down as SIGTERM would.
final class InProcessServer: Sendable {
    let port: Int
    let engine: Engine
    let group: ServiceGroup
    let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, engine: Engine, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port; self.engine = engine; self.group = group; self.task = task
    }

    static func start(name: String = "stories", shutdownTimeout: Double = 5) async throws -> InProcessServer {
        var ec = EngineConfig()
        ec.numBlocks = 512
        ec.chatTemplate = testChatTemplate
        ec.servedModelName = name
        let engine = try Engine.load(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok, config: ec)
        var config = ServerConfig(servedModelName: name, host: "127.0.0.1", port: 0)
        config.shutdownTimeout = shutdownTimeout
        config.maxQueuedRequests = 4096
        var logger = Logger(label: "bench-test-server")
        logger.logLevel = .error
        let (ports, cont) = AsyncStream<Int>.makeStream()
        let app = buildApplication(engine: engine, config: config, logger: logger) { port in cont.yield(port) }
        let group = SwiftletServer.serviceGroup(app: app, config: config, services: [engine], logger: logger)
        let task = Task { try await group.run() }
        var it = ports.makeAsyncIterator()
        let port = try #require(await it.next(), "server did not start")
        return InProcessServer(port: port, engine: engine, group: group, task: task)
    }

    /// Graceful shutdown (in-flight requests get `shutdownTimeout` seconds, then are cut), waits for the group.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

func close(_ a: Double, _ b: Double, _ tol: Double = 1e-9) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

/// A stand-in tokenizer for dataset tests: token i is the word "w<i>"; text is words joined by spaces.
struct WordTokenizer: BenchTokenizer {
    var promptTokenIds: [Int] { Array(10..<100) }
    func encode(_ text: String) -> [Int] { text.split(separator: " ").compactMap { Int($0.dropFirst()) } }
    func decode(_ ids: [Int]) -> String { ids.map { "w\($0)" }.joined(separator: " ") }
}

/// A mutex that escaping closures can capture.
final class Locked<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func withLock<R: Sendable>(_ body: (inout sending T) -> sending R) -> R { m.withLock(body) }
}
