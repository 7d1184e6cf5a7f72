public import protocol CoreMetrics.MetricsFactory
import Engine
public import Prometheus
import Synchronization

/// The `swiftlet:` metrics, named after vLLM's, one owner per name. These are the server's (for `serve` and the
/// cluster router alike): gauges and engine counters are refreshed from `engine.stats()` at scrape time; token
/// counters, finish reasons and latency histograms are observed from the outputs the server relays (made by the
/// engine's `OutputProcessor`, in the engine or in the router). The engine publishes only what it alone sees
/// (`swiftlet:iteration_tokens_total`), through `engineMetricsFactory`, into the same registry.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let running, waiting, kvUsage: Gauge
    private let promptTokens, generationTokens, preemptions, prefixQueries, prefixHits: Counter
    private let connections: Counter
    /// `swiftlet:engine_step_seconds_total`: wall seconds in the engine's steps (schedule, forward, sample, output).
    private let stepSeconds: Counter
    private let success: [EngineFinishReason: Counter]
    private let ttft, itl, e2e, queue: ValueHistogram
    /// Engine totals at the last scrape, so counters advance by the difference.
    private let lastStats = Mutex(EngineStats())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func d(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: "swiftlet:" + name, unitName: "", helpText: help)
        }
        running = registry.makeGauge(descriptor: d("num_requests_running", "Requests running on the engine."))
        waiting = registry.makeGauge(descriptor: d("num_requests_waiting", "Requests waiting to be scheduled."))
        kvUsage = registry.makeGauge(descriptor: d("kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0-1)."))
        promptTokens = registry.makeCounter(descriptor: d("prompt_tokens_total", "Prefill tokens processed."))
        generationTokens = registry.makeCounter(descriptor: d("generation_tokens_total", "Tokens generated."))
        preemptions = registry.makeCounter(descriptor: d("num_preemptions_total", "Requests preempted."))
        prefixQueries = registry.makeCounter(descriptor: d("prefix_cache_queries_total", "Prefix-cache lookups, tokens."))
        prefixHits = registry.makeCounter(descriptor: d("prefix_cache_hits_total", "Prefix-cache hits, tokens."))
        connections = registry.makeCounter(descriptor: d("http_connections_total", "TCP connections accepted."))
        stepSeconds = registry.makeCounter(descriptor: d("engine_step_seconds_total",
                                                         "Seconds the engine spent in its steps (schedule, forward, sample, output)."))
        var success: [EngineFinishReason: Counter] = [:]
        for r in [EngineFinishReason.stop, .length, .abort, .error] {
            success[r] = registry.makeCounter(descriptor: d("request_success_total", "Finished requests by reason."), labels: [("finished_reason", r.rawValue)])
        }
        self.success = success
        let latency: [Double] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
        let long: [Double] = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480]
        ttft = registry.makeValueHistogram(descriptor: d("time_to_first_token_seconds", "Time to first token."), buckets: latency)
        itl = registry.makeValueHistogram(descriptor: d("inter_token_latency_seconds", "Time between tokens."), buckets: latency)
        e2e = registry.makeValueHistogram(descriptor: d("e2e_request_latency_seconds", "Arrival to finish."), buckets: long)
        queue = registry.makeValueHistogram(descriptor: d("request_queue_time_seconds", "Time waiting to be scheduled."), buckets: long)
    }

    /// The swift-metrics factory to give the engine (`Engine.load(metricsFactory:)`): it writes into this registry.
    public var engineMetricsFactory: any MetricsFactory {
        var f = PrometheusMetricsFactory(registry: registry)
        // vLLM's buckets for tokens per step.
        f.valueHistogramBuckets["swiftlet:iteration_tokens_total"] = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
        return f
    }

    /// Called for every output of every engine request: token counters advance, and on the final output
    /// the finish reason and the request's latencies are recorded.
    func observe(_ out: RequestOutput, first: Bool) {
        if first { promptTokens.increment(by: Int64(out.promptTokenCount)) }
        if !out.newTokenIds.isEmpty { generationTokens.increment(by: Int64(out.newTokenIds.count)) }
        guard let reason = out.finishReason else { return }
        success[reason]?.increment()
        let t = out.timings
        queue.record(t.queueTime)
        if let v = t.timeToFirstToken { ttft.record(v) }
        for gap in t.interTokenGaps { itl.record(gap) }
        if let v = t.e2eLatency { e2e.record(v) }
    }

    /// Requests (choices) that ended because the client went away: their final output never reaches the relay.
    func recordAborts(_ n: Int) {
        if n > 0 { success[.abort]?.increment(by: Int64(n)) }
    }

    /// Counts one accepted connection (called by the server's child-channel set-up).
    var connectionCounter: @Sendable () -> Void {
        let c = connections
        return { c.increment() }
    }

    /// Refreshes engine-derived values and renders the Prometheus text format.
    func scrape(_ stats: EngineStats) -> [UInt8] {
        running.set(Double(stats.numRunning))
        waiting.set(Double(stats.numWaiting))
        kvUsage.set(stats.kvUsage)
        lastStats.withLock { last in
            func advance(_ c: Counter, _ new: Int, _ old: Int) { if new > old { c.increment(by: Int64(new - old)) } }
            advance(preemptions, stats.numPreemptions, last.numPreemptions)
            advance(prefixQueries, stats.prefixCacheQueries, last.prefixCacheQueries)
            advance(prefixHits, stats.prefixCacheHits, last.prefixCacheHits)
            if stats.stepSeconds > last.stepSeconds { stepSeconds.increment(by: stats.stepSeconds - last.stepSeconds) }
            last = stats
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
