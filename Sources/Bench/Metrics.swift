/// Aggregates of one run, computed from its request outcomes as `vllm bench serve` does.
public struct BenchmarkMetrics: Sendable, Equatable {
    public var completed: Int
    public var failed: Int
    /// Prompt tokens of completed requests.
    public var totalInputTokens: Int
    /// Generated tokens of completed requests.
    public var totalOutputTokens: Int
    public var requestThroughput: Double
    /// Good requests per second; nil without bounds.
    public var requestGoodput: Double?
    public var outputThroughput: Double
    public var totalTokenThroughput: Double
    /// Milliseconds, over completed requests.
    public var ttft: Distribution
    /// (e2e − ttft)/(output − 1), ms, over completed requests with more than one output token.
    public var tpot: Distribution
    /// Every inter-token gap of every completed request, ms.
    public var itl: Distribution
    public var e2el: Distribution
    /// Failure reason → count.
    public var failureReasons: [String: Int]

    /// - Parameters:
    ///   - outcomes: one per request.
    ///   - duration: wall-clock seconds of the whole run.
    public init(outcomes: [RequestOutcome], duration: Double, goodput: GoodputBounds? = nil) {
        let ok = outcomes.filter(\.success)
        completed = ok.count
        failed = outcomes.count - ok.count
        totalInputTokens = ok.reduce(0) { $0 + $1.promptLength }
        totalOutputTokens = ok.reduce(0) { $0 + $1.outputTokens }
        let d = max(duration, 1e-9)
        requestThroughput = Double(completed) / d
        outputThroughput = Double(totalOutputTokens) / d
        totalTokenThroughput = Double(totalInputTokens + totalOutputTokens) / d
        ttft = Distribution(ok.map(\.ttft)).scaled(1000)
        tpot = Distribution(ok.compactMap(Self.tpot)).scaled(1000)
        itl = Distribution(ok.flatMap(\.itl)).scaled(1000)
        e2el = Distribution(ok.map(\.latency)).scaled(1000)
        if let goodput, !goodput.isEmpty {
            requestGoodput = Double(ok.filter { Self.isGood($0, goodput) }.count) / d
        }
        failureReasons = outcomes.filter { !$0.success }.reduce(into: [:]) { $0[$1.error, default: 0] += 1 }
    }

    /// Time per output token after the first, seconds; nil with fewer than two output tokens.
    public static func tpot(_ o: RequestOutcome) -> Double? {
        o.outputTokens > 1 ? (o.latency - o.ttft) / Double(o.outputTokens - 1) : nil
    }

    /// Whether a completed request meets every bound (a single-token request's TPOT counts as 0, as in vLLM).
    public static func isGood(_ o: RequestOutcome, _ b: GoodputBounds) -> Bool {
        b.isGood(ttftMs: o.ttft * 1000, tpotMs: (tpot(o) ?? 0) * 1000, e2elMs: o.latency * 1000)
    }
}
