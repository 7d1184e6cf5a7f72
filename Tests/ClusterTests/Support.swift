import AsyncHTTPClient
@testable import Cluster
import Engine
import Foundation
import Logging
import NIOHTTP1
import PostgresNIO
import Server
import ServiceLifecycle
import Synchronization
import Testing

enum Paths {
    /// Resolved through the dev package's symlinks to the repository.
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path
    static let withPostgres = root.appendingPathComponent("scripts/with-postgres.sh").path

    /// The `swiftlet` binary built next to the test bundle (`swift build --build-tests` builds it).
    static var swiftletBinary: String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        if dir.path.hasSuffix(".xctest/Contents/MacOS") { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("swiftlet").path
    }
}

/// The PostgreSQL the cluster tests use: SWIFTLET_TEST_PG when set (scripts/with-postgres.sh sets it); otherwise the
/// tests start their own throwaway server through that script, which lives as long as the test process (its
/// command waits on a pipe this process holds open). A test never passes without a database: if neither works
/// it fails with the reason.
enum TestDatabase {
    static let server: Result<String, ClusterError> = {
        if let url = ProcessInfo.processInfo.environment["SWIFTLET_TEST_PG"], !url.isEmpty { return .success(url) }
        return startOwn()
    }()

    nonisolated(unsafe) static var keepAlive: [AnyObject] = []

    static func startOwn() -> Result<String, ClusterError> {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Paths.withPostgres, "/bin/bash", "-c", "echo \"URL=$SWIFTLET_TEST_PG\"; cat >/dev/null"]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin; p.standardOutput = stdout
        do { try p.run() } catch {
            return .failure(ClusterError("SWIFTLET_TEST_PG is not set and \(Paths.withPostgres) could not start: \(error)"))
        }
        keepAlive = [p, stdin, stdout]
        var text = ""
        while let chunk = try? stdout.fileHandleForReading.read(upToCount: 1), !chunk.isEmpty {
            text += String(decoding: chunk, as: UTF8.self)
            if text.hasSuffix("\n"), let line = text.split(separator: "\n").last, line.hasPrefix("URL=") {
                return .success(String(line.dropFirst(4)))
            }
        }
        return .failure(ClusterError("SWIFTLET_TEST_PG is not set and scripts/with-postgres.sh did not start PostgreSQL 15 (is /usr/lib/postgresql/15/bin installed?); output: \(text)"))
    }

    /// A fresh database on the test server (tests never share tables).
    static func fresh() async throws -> String {
        let base = try server.get()
        let url = try PostgresURL(base)
        let name = "t_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let config = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user,
                                                      password: url.password, database: url.database, tls: .disable)
        let conn = try await PostgresConnection.connect(configuration: config, id: 1, logger: quietLogger)
        try await conn.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: quietLogger)
        try await conn.close()
        return "postgres://\(url.user)@\(url.host):\(url.port)/\(name)"
    }
}

let quietLogger: Logger = {
    var l = Logger(label: "test")
    l.logLevel = .warning
    return l
}()

/// Every lease, heartbeat, sweep and deadline the cluster tests use, from one place. Leases are generous: on a
/// loaded 2-core machine (CI builds beside the tests, or `stress-ng --cpu 2`) a process can stall for seconds (an
/// instance's registration with the queue has taken over 5 s), and a lease that expires by accident turns a test
/// about something else into a failover (the request is re-routed and resumed). `SWIFTLET_TEST_TIME_SCALE`
/// (default 1) stretches all of them on an even slower machine.
enum TestTiming {
    static let scale: Double = ProcessInfo.processInfo.environment["SWIFTLET_TEST_TIME_SCALE"].flatMap(Double.init).map { max(0.5, $0) } ?? 1
    /// The lease the tests' routers and instances run with (and the CLI commands the tests run are given). A test
    /// that lets such a lease expire on purpose (a killed instance) waits this long once.
    static var lease: Double { 10 * scale }
    static var heartbeatMs: Int { Int(250 * scale) }
    static var heartbeat: Duration { .milliseconds(heartbeatMs) }
    static var sweep: Duration { .milliseconds(Int(250 * scale)) }
    /// A lease a test lets expire on purpose (short, so that the test waits little).
    static var shortLease: Double { 0.5 * scale }
    /// Sleeping this long makes a `shortLease` lease (or a heartbeat that old) expire for sure, with a margin for a
    /// stalled machine; still well inside `lease`, so live instances stay alive meanwhile.
    static var pastShortLease: Duration { .milliseconds(Int(pastShortLeaseSeconds * 1000)) }
    static var pastShortLeaseSeconds: Double { 2 * scale }
    /// How long a test waits for a condition that should hold soon (`eventually`).
    static var deadline: Double { 60 * scale }
    /// How long a whole client request may take in a test.
    static var requestTimeout: Int64 { Int64(300 * scale) }
    /// The tests' queue clients: one attempt may take 60 s (the default 15 s once ran out for every database at
    /// once, the whole PostgreSQL server starved beside `stress-ng --cpu 2` and the parallel model tests); retries
    /// last as long as by default.
    static var queueLimits: QueueLimits {
        var l = QueueLimits()
        l.operationTimeout = .milliseconds(Int(60_000 * scale))
        return l
    }
}

func fastTiming() -> ClusterTiming {
    var t = ClusterTiming()
    t.heartbeat = TestTiming.heartbeat
    t.leaseSeconds = TestTiming.lease
    t.sweep = TestTiming.sweep
    return t
}

/// `fastTiming()` with the lease a test lets expire on purpose.
func shortLeaseTiming(maxAttempts: Int = 3) -> ClusterTiming {
    var t = fastTiming()
    t.leaseSeconds = TestTiming.shortLease
    t.maxAttempts = maxAttempts
    return t
}

func storiesEngine(maxNumSeqs: Int = 64, numBlocks: Int? = nil) throws -> Engine {
    var c = EngineConfig()
    c.maxNumSeqs = maxNumSeqs
    c.numBlocks = numBlocks
    c.kvCacheMemoryBytes = 64 << 20
    return try Engine.load(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok, config: c)
}

/// An in-process instance (engine + agent) in its own service group.
final class TestInstance: Sendable {
    let engine: Engine
    let agent: InstanceAgent
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(queue: any DistributedQueue, name: String, maxNumSeqs: Int = 64, numBlocks: Int? = nil, capacity: Int = 64,
         timing: ClusterTiming = fastTiming()) throws {
        engine = try storiesEngine(maxNumSeqs: maxNumSeqs, numBlocks: numBlocks)
        engine.start()
        var config = InstanceAgent.Config(name: name)
        config.address = "in-process"
        config.capacity = capacity
        config.timing = timing
        agent = InstanceAgent(engine: engine, queue: queue, config: config, logger: quietLogger)
        group = ServiceGroup(services: [agent], logger: quietLogger)
        let g = group
        task = Task { try await g.run() }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        engine.shutdown()
    }

    /// Abrupt stop: no release, no deregistration, the engine's work just vanishes.
    func crash() async {
        agent.crash()
        task.cancel()
        _ = try? await task.value
        engine.shutdown()
    }
}

/// An in-process router with its HTTP server on an ephemeral port.
final class TestRouter: Sendable {
    let client: RouterEngineClient
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int

    init(queue: any DistributedQueue, name: String = "router-a", policy: RoutingPolicyKind = .freeness,
         timing: ClusterTiming = fastTiming(), recordTrace: String? = nil) async throws {
        let (tok, info) = try loadRouterModel(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok,
                                              servedModelName: "stories260K", maxModelLen: nil)
        client = try RouterEngineClient(queue: queue, tokenizer: tok, modelInfo: info, name: name, policy: policy,
                                        timing: timing, recordTrace: recordTrace, logger: quietLogger)
        var config = ServerConfig(servedModelName: "stories260K", port: 0)
        config.maxQueuedRequests = 4096
        let (ports, portsIn) = AsyncStream<Int>.makeStream()
        let app = buildRouterApplication(router: client, config: config, logger: quietLogger,
                                         onServerRunning: { portsIn.yield($0) })
        group = ServiceGroup(services: [client, app], logger: quietLogger)
        let g = group
        task = Task { try await g.run() }
        var port = 0
        for await p in ports { port = p; break }
        self.port = port
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    func post(_ path: String, _ body: String) async throws -> (status: Int, body: String) {
        var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        req.method = .POST
        req.body = .bytes(ByteBuffer(string: body))
        req.headers.add(name: "Content-Type", value: "application/json")
        let resp = try await wideClient.execute(req, timeout: .seconds(TestTiming.requestTimeout))
        let bytes = try await resp.body.collect(upTo: 64 << 20)
        return (Int(resp.status.code), String(buffer: bytes))
    }

    func get(_ path: String) async throws -> (status: Int, body: String) {
        let req = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        let resp = try await HTTPClient.shared.execute(req, timeout: .seconds(TestTiming.requestTimeout))
        let bytes = try await resp.body.collect(upTo: 64 << 20)
        return (Int(resp.status.code), String(buffer: bytes))
    }
}

/// An HTTP client that really opens 256 connections at once (the shared one queues beyond 8 per host).
let wideClient: HTTPClient = {
    var config = HTTPClient.Configuration()
    config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
}()

/// Everything one stream produced.
struct Collected: Sendable, Equatable {
    var tokens: [Int32] = []
    var text = ""
    var finish: EngineFinishReason?
    var error: String?
}

func collect(_ stream: AsyncStream<RequestOutput>) async -> Collected {
    var c = Collected()
    for await o in stream {
        c.tokens += o.newTokenIds; c.text += o.textDelta
        if let f = o.finishReason { c.finish = f; if f == .error { c.error = o.stopReason } }
    }
    return c
}

/// `collect` of a stream that may fail to start (the failure becomes the result's error, not a crash).
func collectOrError(_ start: () throws -> AsyncStream<RequestOutput>) async -> Collected {
    do { return await collect(try start()) } catch {
        var c = Collected()
        c.finish = .error; c.error = "generate threw: \(error)"
        return c
    }
}

func greedy(_ maxTokens: Int) -> SamplingParams {
    var p = SamplingParams()
    p.temperature = 0
    p.maxTokens = maxTokens
    return p
}

/// Prompts with varied lengths and openings (token ids from the stories tokenizer).
func testPrompts(_ n: Int, tokenizer: some EngineClient) -> [[Int32]] {
    let openings = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a bird", "There was a big tree",
                    "Sam liked to", "The sun was", "A girl named Sue"]
    return (0..<n).map { i in
        tokenizer.encode(openings[i % openings.count] + String(repeating: " very", count: i % 5), addSpecial: true, parseSpecial: false)
    }
}

/// Reference outputs from a single-process engine.
func reference(_ prompts: [[Int32]], maxTokens: Int) async throws -> [Collected] {
    let engine = try storiesEngine()
    engine.start()
    defer { engine.shutdown() }
    return await withTaskGroup(of: (Int, Collected).self) { g in
        for (i, p) in prompts.enumerated() {
            g.addTask { (i, await collectOrError { try engine.generate(EngineRequest(promptTokenIds: p, params: greedy(maxTokens))) }) }
        }
        var out = [Collected](repeating: Collected(), count: prompts.count)
        for await (i, c) in g { out[i] = c }
        return out
    }
}

/// Polls `condition` every 50 ms for up to `seconds` (default `TestTiming.deadline`).
func eventually(_ seconds: Double = TestTiming.deadline, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
