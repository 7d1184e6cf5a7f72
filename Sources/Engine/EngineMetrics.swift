public import CoreMetrics

/// The engine's own metrics: only what no one outside the step loop can see (one owner per metric name).
/// Request metrics (tokens, latencies, finish reasons) are observed from the outputs the `OutputProcessor`
/// produces, and load gauges and cumulative counters are read from `stats()`, by whoever serves them (the
/// server's `ServerMetrics`, for `serve` and the cluster router alike). Emitted through swift-metrics, to the
/// factory the caller passes (the server passes one writing into its Prometheus registry).
struct EngineMetrics: Sendable {
    /// `swiftlet:iteration_tokens_total`: tokens per engine step (vLLM's histogram of that name).
    let iterationTokens: Recorder

    init(factory: any MetricsFactory) {
        iterationTokens = Recorder(label: Self.iterationTokensLabel, aggregate: true, factory: factory)
    }

    static let iterationTokensLabel = "swiftlet:iteration_tokens_total"
}
