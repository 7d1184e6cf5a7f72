public import ArgumentParser
import Engine
import Foundation
public import Logging
import CoreMetrics
import Scheduler
import Server

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI-compatible HTTP API (completions, chat, models, tokenize, health, metrics).")

    @OptionGroup var engine: EngineOptions
    @OptionGroup var http: HTTPOptions

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 = any free port).")
    var port: Int = 8000

    @Option(help: "Model name clients send and /v1/models lists (default: the model file's name).")
    var servedModelName: String?

    @Option(help: "Require this bearer key on API routes (/health and /metrics stay open).")
    var apiKey: String?

    @Option(help: "Seconds in-flight requests may take to finish after SIGTERM/SIGINT before they are aborted.")
    var shutdownTimeout: Double = 30

    @Option(help: "Largest request body accepted, bytes.")
    var maxBodySize: Int = 4 << 20

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let path = try engine.modelPath()
        var config = ServerConfig(servedModelName: "", host: host, port: port)
        try http.apply(to: &config)
        let name = servedModelName ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        bootstrapLogging(logLevel)
        let logger = Logger(label: "swiftlet")
        let options = engine
        let metrics = ServerMetrics()
        let engineMetrics = metrics.engineMetricsFactory
        let engineConfig = try options.engineConfig(servedModelName: name)
        let deferred = DeferredEngine(name: name) {
            let bar = ProgressBar(title: "loading \(URL(fileURLWithPath: path).lastPathComponent)")
            let e = try Engine.load(modelPath: path, tokenizerPath: options.tokenizer, config: engineConfig,
                                    metricsFactory: engineMetrics, progress: { bar.update($0) })
            bar.done()
            logger.info("model loaded", metadata: ["model": "\(name)", "kv_blocks": "\(e.schedulerConfig.numBlocks)",
                                                   "max_model_len": "\(e.modelInfo.maxModelLen)"])
            return e
        }
        config.servedModelName = name
        config.apiKey = apiKey
        config.shutdownTimeout = shutdownTimeout
        config.maxBodySize = maxBodySize
        config.maxQueuedRequests = options.maxQueuedRequests
        try await SwiftletServer.run(engine: deferred, config: config, services: [deferred], logger: logger,
                                   metrics: metrics)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
