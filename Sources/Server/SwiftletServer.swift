public import Engine
public import Hummingbird
public import Logging
public import ServiceLifecycle
import UnixSignals

/// The entry the CLI calls: the HTTP app and the given services (the engine loop) in one `ServiceGroup`.
public enum SwiftletServer {
    /// Runs until SIGTERM/SIGINT. On a signal the server stops accepting connections and lets in-flight
    /// requests finish for `config.shutdownTimeout` seconds; then everything still running is cancelled
    /// (which aborts the engine requests) and the other services are shut down. Returns normally (exit 0).
    /// Services are shut down in reverse order, so the engine (listed first) outlives the HTTP server.
    public static func run(engine: some EngineClient, config: ServerConfig, services: [any Service],
                           logger: Logger, metrics: ServerMetrics = ServerMetrics(),
                           onServerRunning: (@Sendable (_ port: Int) async -> Void)? = nil) async throws {
        let app = buildApplication(engine: engine, config: config, logger: logger, metrics: metrics,
                                   onServerRunning: onServerRunning)
        let group = serviceGroup(app: app, config: config, services: services, logger: logger)
        try await group.run()
    }

    /// The group `run` uses, for callers that want to run it themselves.
    public static func serviceGroup(app: some ApplicationProtocol, config: ServerConfig, services: [any Service],
                                    logger: Logger) -> ServiceGroup {
        var groupConfig = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
                + [ServiceGroupConfiguration.ServiceConfiguration(service: app)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfig.maximumGracefulShutdownDuration = .milliseconds(Int64(config.shutdownTimeout * 1000))
        groupConfig.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: groupConfig)
    }
}
