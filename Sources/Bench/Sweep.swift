public import AsyncHTTPClient
import Foundation

/// One point of a sweep: a request rate or a concurrency limit.
public enum SweepVariable: Sendable, Equatable {
    case rate(Double)
    case concurrency(Int)

    /// For file names: "rate-4", "rate-inf", "concurrency-16".
    public var slug: String {
        switch self {
        case .rate(let r): return "rate-" + (r.isFinite ? format(r) : "inf")
        case .concurrency(let c): return "concurrency-\(c)"
        }
    }

    /// Next to chart points: "4", "inf", "c16".
    public var shortLabel: String {
        switch self {
        case .rate(let r): return r.isFinite ? format(r) : "inf"
        case .concurrency(let c): return "c\(c)"
        }
    }

    /// The load shape of this point: `base` with the rate or the concurrency replaced.
    public func shape(_ base: LoadShape) -> LoadShape {
        var s = base
        switch self {
        case .rate(let r): s.requestRate = r
        case .concurrency(let c): s.maxConcurrency = c
        }
        return s
    }

    /// "1,2,4,inf" → rates.
    public static func rates(_ list: String) throws(BenchError) -> [SweepVariable] {
        try list.split(separator: ",").map { item throws(BenchError) -> SweepVariable in
            let t = item.trimmingCharacters(in: .whitespaces).lowercased()
            if t == "inf" { return .rate(.infinity) }
            guard let r = Double(t), r > 0 else { throw BenchError("--request-rates: '\(t)' is not a positive number or inf") }
            return .rate(r)
        }
    }

    /// "1,4,16" → concurrencies.
    public static func concurrencies(_ list: String) throws(BenchError) -> [SweepVariable] {
        try list.split(separator: ",").map { item throws(BenchError) -> SweepVariable in
            let t = item.trimmingCharacters(in: .whitespaces)
            guard let c = Int(t), c >= 1 else { throw BenchError("--concurrencies: '\(t)' is not a positive integer") }
            return .concurrency(c)
        }
    }
}

public struct SweepPoint: Sendable, Equatable {
    public var variable: SweepVariable
    public var result: BenchmarkResult
    public init(variable: SweepVariable, result: BenchmarkResult) { self.variable = variable; self.result = result }
}

/// One server's points, in sweep order.
public struct SweepSeries: Sendable, Equatable {
    public var label: String
    public var points: [SweepPoint]
    public init(label: String, points: [SweepPoint]) { self.label = label; self.points = points }
}

/// Runs the same requests at every sweep point against every server (one server at a time, so they do not compete
/// for the machine), writes `<label>_<point>.json` per point and `chart.svg` into `outputDir`.
public struct SweepRunner: Sendable {
    public var targets: [BenchTarget]
    public var variables: [SweepVariable]
    public var baseShape: LoadShape
    public var goodput: GoodputBounds?
    public var outputDir: String
    public var datasetName: String
    public var tokenizerID: String?

    public init(targets: [BenchTarget], variables: [SweepVariable], baseShape: LoadShape, goodput: GoodputBounds?,
                outputDir: String, datasetName: String, tokenizerID: String?) {
        self.targets = targets; self.variables = variables; self.baseShape = baseShape; self.goodput = goodput
        self.outputDir = outputDir; self.datasetName = datasetName; self.tokenizerID = tokenizerID
    }

    /// `log` gets one line per finished point.
    public func run(_ requests: [BenchRequest], client: HTTPClient,
                    log: @Sendable (String) -> Void = { _ in }) async throws -> [SweepSeries] {
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        var all: [SweepSeries] = []
        for target in targets {
            let runner = BenchmarkRunner(target: target, client: client)
            var model = target.model ?? ""
            if target.model == nil { model = try await runner.servedModel() }
            var resolved = target
            resolved.model = model
            var series = SweepSeries(label: target.label, points: [])
            for v in variables {
                let shape = v.shape(baseShape)
                let progress = TerminalProgress(title: "\(target.label) \(v.slug)")
                let result = try await BenchmarkRunner(target: resolved, client: client).benchmark(
                    requests, shape: shape, goodput: goodput, datasetName: datasetName, tokenizerID: tokenizerID
                ) { progress.update(done: $0, total: $1) }
                try result.write(to: outputDir + "/" + Self.fileName(label: target.label, v))
                log(Self.summaryLine(target.label, v, result))
                series.points.append(SweepPoint(variable: v, result: result))
            }
            all.append(series)
        }
        let svg = SweepChart.svg(all, title: "Swiftlet bench sweep (\(datasetName), \(requests.count) requests per point)")
        try svg.write(toFile: outputDir + "/chart.svg", atomically: true, encoding: .utf8)
        return all
    }

    public static func fileName(label: String, _ v: SweepVariable) -> String {
        let safe = String(label.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        return "\(safe)_\(v.slug).json"
    }

    static func summaryLine(_ label: String, _ v: SweepVariable, _ r: BenchmarkResult) -> String {
        let m = r.metrics
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        return "\(label) \(v.slug): \(m.completed) ok, \(m.failed) failed, \(f(m.outputThroughput)) tok/s, "
            + "TTFT p50 \(f(m.ttft.median)) p99 \(f(m.ttft.p99)) ms, TPOT p50 \(f(m.tpot.median)) p99 \(f(m.tpot.p99)) ms"
    }
}
