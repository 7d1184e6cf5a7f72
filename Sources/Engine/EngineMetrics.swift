public import CoreMetrics

/// The engine's metrics, named as vLLM names them with a `swiftlet:` prefix. Emitted through swift-metrics,
/// to whatever backend the caller bootstraps (the server exports them as Prometheus text).
struct EngineMetrics: Sendable {
    let running: Gauge
    let waiting: Gauge
    let kvUsage: Gauge
    let promptTokens: Counter
    let generationTokens: Counter
    let preemptions: Counter
    let prefixQueries: Counter
    let prefixHits: Counter
    let ttft: Recorder
    let itl: Recorder
    let e2e: Recorder
    let queueTime: Recorder
    let iterationTokens: Recorder
    let factory: any MetricsFactory

    init(factory: any MetricsFactory) {
        self.factory = factory
        running = Gauge(label: "swiftlet:num_requests_running", factory: factory)
        waiting = Gauge(label: "swiftlet:num_requests_waiting", factory: factory)
        kvUsage = Gauge(label: "swiftlet:kv_cache_usage_perc", factory: factory)
        promptTokens = Counter(label: "swiftlet:prompt_tokens_total", factory: factory)
        generationTokens = Counter(label: "swiftlet:generation_tokens_total", factory: factory)
        preemptions = Counter(label: "swiftlet:num_preemptions_total", factory: factory)
        prefixQueries = Counter(label: "swiftlet:prefix_cache_queries_total", factory: factory)
        prefixHits = Counter(label: "swiftlet:prefix_cache_hits_total", factory: factory)
        ttft = Recorder(label: "swiftlet:time_to_first_token_seconds", aggregate: true, factory: factory)
        itl = Recorder(label: "swiftlet:inter_token_latency_seconds", aggregate: true, factory: factory)
        e2e = Recorder(label: "swiftlet:e2e_request_latency_seconds", aggregate: true, factory: factory)
        queueTime = Recorder(label: "swiftlet:request_queue_time_seconds", aggregate: true, factory: factory)
        iterationTokens = Recorder(label: "swiftlet:iteration_tokens_total", aggregate: true, factory: factory)
    }

    func success(_ reason: EngineFinishReason) {
        Counter(label: "swiftlet:request_success_total", dimensions: [("finished_reason", reason.rawValue)],
                factory: factory).increment()
    }
}
