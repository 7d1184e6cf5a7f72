public import Engine
import Foundation
public import Hummingbird
public import Logging
import ModelFormats
import NIOCore
public import Server
public import Tokenizer

/// The router's HTTP application: the server's routes unchanged (same API and errors as `serve`), with the
/// cluster's metrics (per instance, queue depth, routing decisions) appended to /metrics.
public func buildRouterApplication(router: RouterEngineClient, config: ServerConfig, logger: Logger,
                                   metrics: ServerMetrics = ServerMetrics(),
                                   onServerRunning: (@Sendable (_ port: Int) async -> Void)? = nil) -> some ApplicationProtocol {
    let inner = buildRouter(engine: router, config: config, logger: logger, metrics: metrics).buildResponder()
    return Application(responder: ClusterMetricsResponder(inner: inner, router: router),
                       server: httpServerBuilder(config: config, metrics: metrics),
                       configuration: .init(address: .hostname(config.host, port: config.port), serverName: "swiftlet-router"),
                       onServerRunning: { channel in
                           let port = channel.localAddress?.port ?? config.port
                           logger.info("swiftlet router listening", metadata: ["host": "\(config.host)", "port": "\(port)",
                                                                               "policy": "\(router.planner.policy.rawValue)"])
                           await onServerRunning?(port)
                       },
                       logger: logger)
}

/// Passes everything to the server's responder; on GET /metrics appends the cluster metrics to its body.
struct ClusterMetricsResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == ServerRequestContext {
    typealias Context = ServerRequestContext
    let inner: Inner
    let router: RouterEngineClient

    func respond(to request: Request, context: ServerRequestContext) async throws -> Response {
        var response = try await inner.respond(to: request, context: context)
        guard request.method == .get, request.uri.path == "/metrics", response.status == .ok else { return response }
        let tail = ByteBuffer(string: await ClusterMetricsText.render(router))
        let body = response.body
        response.body = ResponseBody { writer in
            try await body.write(AppendingWriter(inner: writer, tail: tail))
        }
        return response
    }
}

struct AppendingWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let tail: ByteBuffer

    mutating func write(_ buffer: ByteBuffer) async throws { try await inner.write(buffer) }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await inner.write(tail)
        try await inner.finish(trailingHeaders)
    }
}

/// Prometheus text for the cluster: one series per instance, the queue by priority and state, routing decisions.
enum ClusterMetricsText {
    static func render(_ router: RouterEngineClient) async -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            out += "# HELP swiftlet:\(name) \(help)\n# TYPE swiftlet:\(name) \(type)\n"
            for s in samples { out += "swiftlet:\(name){\(s.labels)} \(s.value)\n" }
        }
        guard let s = await router.clusterStatus() else {
            family("cluster_queue_up", "gauge", "Whether the router can read the queue.", [("", 0)])
            return out
        }
        family("cluster_queue_up", "gauge", "Whether the router can read the queue.", [("", 1)])
        let live = s.instances
        func per(_ f: (InstanceRecord) -> Double) -> [(labels: String, value: Double)] {
            live.map { ("instance=\"\($0.name)\"", f($0)) }
        }
        let lease = router.timing.leaseSeconds
        family("cluster_instance_up", "gauge", "1 while the instance heartbeats.", per { $0.heartbeatAge < lease ? 1 : 0 })
        family("cluster_instance_draining", "gauge", "1 while the instance drains.", per { $0.draining ? 1 : 0 })
        family("cluster_instance_heartbeat_age_seconds", "gauge", "Seconds since the last heartbeat.", per { $0.heartbeatAge })
        family("cluster_instance_num_requests_running", "gauge", "Requests running on the instance's engine.", per { Double($0.load.numRunning) })
        family("cluster_instance_num_requests_waiting", "gauge", "Requests waiting in the instance's engine.", per { Double($0.load.numWaiting) })
        family("cluster_instance_num_requests_assigned", "gauge", "Requests the queue has assigned to the instance.", per { Double($0.assigned) })
        family("cluster_instance_free_blocks", "gauge", "Free KV-cache blocks.", per { Double($0.load.numFreeBlocks) })
        family("cluster_instance_total_blocks", "gauge", "KV-cache blocks.", per { Double($0.load.numTotalBlocks) })
        family("cluster_instance_freeness", "gauge", "Llumnix freeness: (free − waiting need) blocks per request.", per { $0.freeness })
        family("cluster_queue_depth", "gauge", "Queued requests by priority.",
               s.queuedByPriority.map { ("priority=\"\($0.priority)\"", Double($0.count)) })
        family("cluster_requests", "gauge", "Requests in the queue table by state.",
               [("state=\"queued\"", Double(s.queued)), ("state=\"assigned\"", Double(s.assigned)),
                ("state=\"done\"", Double(s.done)), ("state=\"failed\"", Double(s.failed))])
        family("cluster_routed_total", "counter", "Requests this router assigned, by instance.",
               router.routedCounts.sorted { $0.key < $1.key }.map { ("instance=\"\($0.key)\"", Double($0.value)) })
        let paths = router.placementCounts
        family("cluster_routed_by_path_total", "counter",
               "Requests this router assigned at enqueue (direct: nothing queued ahead) or in a scheduling round.",
               [("path=\"direct\"", Double(paths.direct)), ("path=\"round\"", Double(paths.rounds))])
        return out
    }
}

/// What the router needs from a model file without its weights: the tokenizer and the model's limits.
public func loadRouterModel(modelPath: String?, tokenizerPath: String?, servedModelName: String?,
                            maxModelLen: Int?) throws -> (Tokenizer, ModelInfo) {
    var contextLength: Int?
    var vocab: Int?
    var tokenizer: Tokenizer?
    if let modelPath {
        if let dir = Tokenizer.huggingFaceDirectory(forModelPath: modelPath) {
            // A Hugging Face directory: the context length from config.json.
            let configURL = URL(fileURLWithPath: dir).appendingPathComponent("config.json")
            let config = (try? JSONSerialization.jsonObject(with: Data(contentsOf: configURL))) as? [String: Any]
            contextLength = config?["max_position_embeddings"] as? Int
        } else if modelPath.hasSuffix(".gguf") {
            let g = try GGUFFile(path: modelPath)
            let arch = g.architecture ?? "llama"
            contextLength = g.int("\(arch).context_length")
        } else {
            let c = try Llama2cCheckpoint(path: modelPath).config
            contextLength = c.seqLen
            vocab = c.vocabSize
        }
        // The same lookup as the engine's (the model's own tokenizer, or one beside a llama2.c checkpoint).
        if tokenizerPath == nil { tokenizer = try Engine.loadTokenizer(modelPath: modelPath, tokenizerPath: nil, vocab: vocab ?? 0) }
    }
    if let tokenizerPath {
        tokenizer = tokenizerPath.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUFFile(path: tokenizerPath))
                                                     : try Tokenizer(llama2cTokenizerPath: tokenizerPath, vocabSize: vocab)
    }
    guard let tokenizer else { throw ClusterError("the router needs --model (GGUF or llama2.c) or --tokenizer") }
    guard let len = maxModelLen ?? contextLength.map({ min($0, 8192) }) else {
        throw ClusterError("cannot tell the model's context length from --tokenizer alone; pass --model or --max-model-len")
    }
    let name = servedModelName ?? modelPath.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "swiftlet"
    return (tokenizer, ModelInfo(name: name, maxModelLen: len, vocabSize: vocab ?? tokenizer.vocabSize,
                                 created: Int(Date().timeIntervalSince1970)))
}
