public import ArgumentParser
public import Cluster
import Engine
import Foundation
import Logging
import Server
import ServiceLifecycle
import Synchronization

extension RoutingPolicyKind: ExpressibleByArgument {}

/// Options every cluster command shares.
struct QueueOptions: ParsableArguments {
    @Option(help: "The distributed queue: postgres://user[:password]@host[:port]/database.")
    var queue: String

    @Option(help: "Seconds a lease lives without a heartbeat (an instance silent this long is dead).")
    var leaseSeconds: Double = 2.5

    func timing(maxAttempts: Int = 3, heartbeatMs: Int = 500) -> ClusterTiming {
        var t = ClusterTiming()
        t.leaseSeconds = leaseSeconds
        t.maxAttempts = maxAttempts
        t.heartbeat = .milliseconds(heartbeatMs)
        return t
    }
}

func bootstrapLogging(_ level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = level
        return h
    }
}

/// `swiftlet instance`: an engine that takes work from the queue.
struct Instance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an engine as a cluster instance: register, heartbeat its load, take queued work, stream tokens back.")

    @OptionGroup var engine: EngineOptions
    @OptionGroup var queueOptions: QueueOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: "Instance name (lowercase letters, digits, '-', '_'); default: instance-<pid>.")
    var name: String?

    @Option(help: "Address of the instance's own HTTP server (health, metrics, direct API).")
    var host: String = "127.0.0.1"

    @Option(help: "Port of the instance's own HTTP server (0 = any free port).")
    var port: Int = 0

    @Option(help: "Most requests held at once (default: twice --max-num-seqs).")
    var capacity: Int?

    @Option(help: "Heartbeat period, milliseconds.")
    var heartbeatMs: Int = 500

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        bootstrapLogging(logLevel)
        let logger = Logger(label: "swiftlet.instance")
        var config = ServerConfig(servedModelName: "", host: self.host, port: self.port)
        try http.apply(to: &config)
        let name = self.name ?? "instance-\(ProcessInfo.processInfo.processIdentifier)"
        guard validClusterName(name) else { throw ValidationError("--name: use 1-40 lowercase letters, digits, '-' or '_'") }
        let queue = try await PostgresQueue.connect(queueOptions.queue, logger: logger)
        defer { queue.close() }
        let e = try engine.loadEngine(servedModelName: nil, quiet: true)
        e.start()
        var agentConfig = InstanceAgent.Config(name: name)
        agentConfig.capacity = capacity ?? 2 * engine.maxNumSeqs
        agentConfig.timing = queueOptions.timing(heartbeatMs: heartbeatMs)
        // Once drained it leaves: the whole process shuts down gracefully.
        let groupBox = GroupBox()
        agentConfig.onDrained = { await groupBox.shutdown() }
        // The agent's group-commit metrics go to the instance's own /metrics, beside the engine's.
        let metrics = ServerMetrics()
        agentConfig.metricsFactory = metrics.engineMetricsFactory
        let a = InstanceAgent(engine: e, queue: queue, config: agentConfig, logger: logger)
        config.servedModelName = e.modelInfo.name
        config.maxQueuedRequests = engine.maxQueuedRequests
        let host = self.host
        // The agent registers once the server is bound, with the real port.
        let app = buildApplication(engine: e, config: config, logger: logger, metrics: metrics,
                                   onServerRunning: { port in a.announce(address: "\(host):\(port)") })
        // Shut down in reverse: the HTTP server, then the agent (releases unfinished work), then the engine.
        let group = SwiftletServer.serviceGroup(app: app, config: config, services: [e, a], logger: logger)
        groupBox.set(group)
        try await group.run()
    }
}

/// Lets the agent ask its process's service group to shut down.
final class GroupBox: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    func set(_ g: ServiceGroup) { group.withLock { $0 = g } }
    func shutdown() async { await group.withLock { $0 }?.triggerGracefulShutdown() }
}

/// `swiftlet router`: the OpenAI-compatible front of a cluster.
struct Router: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI-compatible API in front of a cluster: tokenize, queue, route, stream back.")

    @OptionGroup var queueOptions: QueueOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: "Model file, read for its tokenizer and context length only (no weights are loaded).")
    var model: String?

    @Option(help: "llama2.c tokenizer file (or a GGUF to take the tokenizer from).")
    var tokenizer: String?

    @Option(help: "Routing policy: freeness, least-requests, round-robin, power-of-two, prefix-affinity.")
    var policy: RoutingPolicyKind = .freeness

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 = any free port).")
    var port: Int = 8000

    @Option(help: "Router name (its notification channel); default: router-<pid>.")
    var name: String?

    @Option(help: "Model name clients send (default: the model file's name).")
    var servedModelName: String?

    @Option(help: "Context limit (prompt + output); default: the model's, at most 8192.")
    var maxModelLen: Int?

    @Option(help: "Times a request may be assigned before an instance failure fails it.")
    var maxAttempts: Int = 3

    @Option(help: "Requests waiting for their first token, above which new ones get 429.")
    var maxQueuedRequests: Int = 1024

    @Option(help: "Seconds the request queue may stay unreachable before the open streams end with an error event and new requests get 503 (until it answers again).")
    var outageLimit: Double = 60

    @Option(help: "Chat template file (Jinja) overriding the model's.")
    var chatTemplate: String?

    @Option(help: "Require this bearer key on API routes.")
    var apiKey: String?

    @Option(help: "Log level (debug shows every routing decision and its reason).")
    var logLevel: Logger.Level = .info

    @Option(help: "Append one JSON line per finished request to this file (arrival, token counts, prefix hash, finish).")
    var recordTrace: String?

    func run() async throws {
        bootstrapLogging(logLevel)
        let logger = Logger(label: "swiftlet.router")
        var config = ServerConfig(servedModelName: "", host: host, port: port)
        try http.apply(to: &config)
        let (tok, info) = try loadRouterModel(modelPath: model, tokenizerPath: tokenizer, servedModelName: servedModelName,
                                              maxModelLen: maxModelLen)
        let template = try chatTemplate.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let queue = try await PostgresQueue.connect(queueOptions.queue, logger: logger)
        defer { queue.close() }
        let router = try RouterEngineClient(queue: queue, tokenizer: tok, modelInfo: info,
                                            name: name ?? "router-\(ProcessInfo.processInfo.processIdentifier)",
                                            policy: policy, timing: queueOptions.timing(maxAttempts: maxAttempts),
                                            chatTemplate: template, recordTrace: recordTrace, logger: logger)
        config.servedModelName = info.name
        config.apiKey = apiKey
        config.maxQueuedRequests = maxQueuedRequests
        let app = buildRouterApplication(router: router, config: config, logger: logger)
        let watch = RouterOutageWatch(router: router, limit: .milliseconds(Int(max(0, outageLimit) * 1000)), logger: logger)
        let group = SwiftletServer.serviceGroup(app: app, config: config, services: [router, watch], logger: logger)
        try await group.run()
    }
}

/// `swiftlet cluster status|drain`: the operator's view.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Inspect or operate a cluster.", subcommands: [Status.self, Drain.self, Simulate.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Instances, their load, and the queue by priority.")
        @OptionGroup var queueOptions: QueueOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let queue = try await PostgresQueue.connect(queueOptions.queue)
            defer { queue.close() }
            let s = try await queue.status(timing: queueOptions.timing())
            print(json ? ClusterStatusFormat.json(s, lease: queueOptions.leaseSeconds)
                       : ClusterStatusFormat.table(s, lease: queueOptions.leaseSeconds))
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain an instance: it finishes its work, takes no more, then exits.")
        @OptionGroup var queueOptions: QueueOptions
        @Option(help: "The instance to drain.") var name: String
        @Flag(help: "Clear the drain flag instead.") var undo = false
        @Flag(help: "Wait until the instance has left the cluster.") var wait = false

        func run() async throws {
            let queue = try await PostgresQueue.connect(queueOptions.queue)
            defer { queue.close() }
            guard try await queue.setDraining(name: name, !undo) else {
                throw ValidationError("no instance named '\(name)' (see swiftlet cluster status)")
            }
            print(undo ? "\(name): drain cancelled" : "\(name): draining")
            while wait && !undo {
                let s = try await queue.status(timing: queueOptions.timing())
                guard let i = s.instances.first(where: { $0.name == name }), i.heartbeatAge < queueOptions.leaseSeconds else { break }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
