public import Foundation

/// Everything one run produced; encodes to the field names of `vllm bench serve --save-result`
/// (schema: Benchmarks/RESULTS-SCHEMA.md).
public struct BenchmarkResult: Sendable, Equatable {
    public var date: String
    /// "openai" (completions) or "openai-chat".
    public var backend: String
    public var label: String
    public var baseURL: String
    public var modelID: String
    public var tokenizerID: String?
    public var datasetName: String
    public var numPrompts: Int
    public var requestRate: Double
    public var burstiness: Double
    public var maxConcurrency: Int?
    public var goodput: GoodputBounds?
    /// Seconds.
    public var duration: Double
    public var metrics: BenchmarkMetrics
    /// Per request, in request order (failed ones included): prompt tokens, generated tokens (0 when failed),
    /// TTFT in seconds (0 when none), inter-token gaps in seconds, error ("" when completed).
    public var inputLens: [Int]
    public var outputLens: [Int]
    public var ttfts: [Double]
    public var itls: [[Double]]
    public var errors: [String]
    /// How connections were used (kept alive, one per request, h2).
    public var connections: ConnectionReuse

    public init(target: BenchTarget, model: String, tokenizerID: String?, datasetName: String, shape: LoadShape,
                goodput: GoodputBounds?, outcomes: [RequestOutcome], duration: Double, date: Date = Date(),
                connections: ConnectionReuse? = nil) {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        self.date = f.string(from: date)
        backend = target.endpoint.backendName
        label = target.label
        baseURL = target.baseURL
        modelID = model
        self.tokenizerID = tokenizerID
        self.datasetName = datasetName
        numPrompts = outcomes.count
        requestRate = shape.requestRate
        burstiness = shape.burstiness
        maxConcurrency = shape.maxConcurrency
        self.goodput = goodput.flatMap { $0.isEmpty ? nil : $0 }
        self.duration = duration
        metrics = BenchmarkMetrics(outcomes: outcomes, duration: duration, goodput: self.goodput)
        inputLens = outcomes.map(\.promptLength)
        outputLens = outcomes.map { $0.success ? $0.outputTokens : 0 }
        ttfts = outcomes.map(\.ttft)
        itls = outcomes.map(\.itl)
        errors = outcomes.map(\.error)
        self.connections = connections ?? (target.http2 ? .http2 : target.keepAlive ? .keepAlive : .closePerRequest)
    }

    /// Compact JSON with sorted keys.
    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try enc.encode(self)
    }

    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try jsonData().write(to: url)
    }

    public static func read(from path: String) throws -> BenchmarkResult {
        try JSONDecoder().decode(BenchmarkResult.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A string coding key, for vLLM's flat field names.
struct FieldKey: CodingKey {
    var stringValue: String
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

extension BenchmarkResult: Codable {
    static let metricNames = ["ttft", "tpot", "itl", "e2el"]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        func put<T: Encodable>(_ v: T, _ k: String) throws { try c.encode(v, forKey: FieldKey(k)) }
        try put(date, "date"); try put(backend, "backend"); try put(label, "label"); try put(baseURL, "base_url")
        try put(modelID, "model_id"); try put(tokenizerID, "tokenizer_id"); try put(datasetName, "dataset_name")
        try put(numPrompts, "num_prompts"); try put(burstiness, "burstiness"); try put(maxConcurrency, "max_concurrency")
        if requestRate.isFinite { try put(requestRate, "request_rate") } else { try put("inf", "request_rate") }
        try put(goodput?.dictionary, "goodput")
        let m = metrics
        try put(duration, "duration"); try put(m.completed, "completed"); try put(m.failed, "failed")
        try put(m.totalInputTokens, "total_input_tokens"); try put(m.totalOutputTokens, "total_output_tokens")
        try put(m.requestThroughput, "request_throughput"); try put(m.requestGoodput, "request_goodput")
        try put(m.outputThroughput, "output_throughput"); try put(m.totalTokenThroughput, "total_token_throughput")
        for (name, d) in zip(Self.metricNames, [m.ttft, m.tpot, m.itl, m.e2el]) {
            try put(d.mean, "mean_\(name)_ms"); try put(d.median, "median_\(name)_ms"); try put(d.std, "std_\(name)_ms")
            try put(d.p90, "p90_\(name)_ms"); try put(d.p99, "p99_\(name)_ms")
        }
        try put(m.failureReasons, "failure_reasons")
        try put(inputLens, "input_lens"); try put(outputLens, "output_lens"); try put(ttfts, "ttfts")
        try put(itls, "itls"); try put(errors, "errors"); try put(connections, "connections")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        func get<T: Decodable>(_ k: String) throws -> T { try c.decode(T.self, forKey: FieldKey(k)) }
        func opt<T: Decodable>(_ k: String) throws -> T? { try c.decodeIfPresent(T.self, forKey: FieldKey(k)) }
        date = try get("date"); backend = try get("backend"); label = try opt("label") ?? ""
        baseURL = try opt("base_url") ?? ""; modelID = try get("model_id"); tokenizerID = try opt("tokenizer_id")
        datasetName = try opt("dataset_name") ?? ""; numPrompts = try get("num_prompts")
        burstiness = try get("burstiness"); maxConcurrency = try opt("max_concurrency")
        requestRate = (try? c.decode(Double.self, forKey: FieldKey("request_rate"))) ?? .infinity
        goodput = try (opt("goodput") as [String: Double]?).map { GoodputBounds(ttftMs: $0["ttft"], tpotMs: $0["tpot"], e2elMs: $0["e2el"]) }
        duration = try get("duration")
        var dists: [Distribution] = []
        for name in Self.metricNames {
            dists.append(Distribution(mean: try get("mean_\(name)_ms"), median: try get("median_\(name)_ms"),
                                      std: try get("std_\(name)_ms"), p90: try get("p90_\(name)_ms"), p99: try get("p99_\(name)_ms")))
        }
        metrics = try Self.decodeMetrics(get: get, opt: opt, dists)
        metrics.failureReasons = try opt("failure_reasons") ?? [:]
        inputLens = try get("input_lens"); outputLens = try get("output_lens"); ttfts = try get("ttfts")
        itls = try get("itls"); errors = try get("errors")
        connections = try opt("connections") ?? .keepAlive
    }

    private static func decodeMetrics(get: (String) throws -> Int, opt: (String) throws -> Double?,
                                      _ d: [Distribution]) throws -> BenchmarkMetrics {
        var m = BenchmarkMetrics(outcomes: [], duration: 1)
        m.completed = try get("completed"); m.failed = try get("failed")
        m.totalInputTokens = try get("total_input_tokens"); m.totalOutputTokens = try get("total_output_tokens")
        m.requestThroughput = try opt("request_throughput") ?? 0; m.requestGoodput = try opt("request_goodput")
        m.outputThroughput = try opt("output_throughput") ?? 0; m.totalTokenThroughput = try opt("total_token_throughput") ?? 0
        m.ttft = d[0]; m.tpot = d[1]; m.itl = d[2]; m.e2el = d[3]
        return m
    }
}
