public import Bench
public import Cluster
import Foundation

/// A sweep of simulated clusters: every policy × instance count × request rate on one workload, the results in
/// `swiftlet bench serve`'s fields, and the cheapest configuration that meets a goodput target.
public struct Exploration: Sendable {
    public var policies: [RoutingPolicyKind]
    public var instanceCounts: [Int]
    /// Requests per second (`.infinity`: all at once).
    public var rates: [Double]
    public var burstiness: Double
    /// Instance i of a cluster uses `profiles[i % profiles.count]` (heterogeneous clusters: several profiles).
    public var profiles: [EngineProfile]
    public var capacity: Int?
    public var overhead: ClusterOverhead
    public var scenario: SimScenario
    public var goodput: GoodputBounds?
    public var seed: UInt64
    /// Client-side limit on requests in flight (closed loop), as bench's --max-concurrency.
    public var maxConcurrency: Int? = nil
    /// The router's admission limits to sweep (`SimulationConfig.maxQueuedRequests`; nil: none). With more than one,
    /// every point's label names its limit ("round-robin x2 q64").
    public var queueLimits: [Int?] = [nil]

    public init(policies: [RoutingPolicyKind], instanceCounts: [Int], rates: [Double], burstiness: Double = 1,
                profiles: [EngineProfile], capacity: Int? = nil, overhead: ClusterOverhead = ClusterOverhead(),
                scenario: SimScenario = SimScenario(), goodput: GoodputBounds? = nil, seed: UInt64 = 0) {
        self.policies = policies; self.instanceCounts = instanceCounts; self.rates = rates; self.burstiness = burstiness
        self.profiles = profiles; self.capacity = capacity; self.overhead = overhead; self.scenario = scenario
        self.goodput = goodput; self.seed = seed
    }

    public struct Point: Sendable, Equatable {
        public var policy: RoutingPolicyKind
        public var instances: Int
        public var rate: Double
        public var result: BenchmarkResult
        public var simulation: SimulationResult
        /// Real seconds the simulation took.
        public var wallSeconds: Double
        /// The admission limit it ran with.
        public var queueLimit: Int? = nil
        /// "policy xN", and " qL" when the sweep has several admission limits.
        public var label: String
    }

    public func config(policy: RoutingPolicyKind, instances n: Int, queueLimit: Int? = nil) -> SimulationConfig {
        let specs = (0..<n).map { i in
            SimInstanceSpec(name: "sim-\(i)", profile: profiles[i % profiles.count], capacity: capacity)
        }
        var c = SimulationConfig(instances: specs, policy: policy, overhead: overhead, scenario: scenario, seed: seed,
                                 maxConcurrency: maxConcurrency)
        c.maxQueuedRequests = queueLimit
        return c
    }

    /// A point's label: "policy xN", with " qL" (or " q-" for no limit) when several admission limits are swept.
    public func label(_ p: RoutingPolicyKind, _ n: Int, queueLimit: Int?) -> String {
        queueLimits.count > 1 ? Self.label(p, n) + " q" + (queueLimit.map(String.init) ?? "-") : Self.label(p, n)
    }

    /// One point: `trace` retimed to `rate` (unless nil: its own arrival times).
    public func simulate(_ trace: [TraceRequest], policy: RoutingPolicyKind, instances n: Int, rate: Double?,
                         queueLimit: Int? = nil, label: String? = nil) -> Point {
        let timed = rate.map { Traces.retimed(trace, rate: $0, burstiness: burstiness, seed: seed) } ?? trace
        let t0 = ContinuousClock.now
        let sim = ClusterSimulator(config: config(policy: policy, instances: n, queueLimit: queueLimit)).run(timed)
        let wall = ContinuousClock.now - t0
        let r = rate ?? Self.meanRate(timed)
        let name = label ?? self.label(policy, n, queueLimit: queueLimit)
        let target = BenchTarget(baseURL: "simulated", model: profiles[0].model, label: name)
        let shape = LoadShape(requestRate: r, burstiness: burstiness, maxConcurrency: maxConcurrency, seed: seed)
        let result = BenchmarkResult(target: target, model: profiles[0].model, tokenizerID: nil, datasetName: "trace",
                                     shape: shape, goodput: goodput, outcomes: sim.outcomes, duration: sim.duration,
                                     date: Date(timeIntervalSince1970: 0))
        let secs = Double(wall.components.seconds) + Double(wall.components.attoseconds) * 1e-18
        return Point(policy: policy, instances: n, rate: r, result: result, simulation: sim, wallSeconds: secs,
                     queueLimit: queueLimit, label: name)
    }

    public static func label(_ p: RoutingPolicyKind, _ n: Int) -> String { "\(p.rawValue) x\(n)" }

    static func meanRate(_ t: [TraceRequest]) -> Double {
        guard t.count > 1, let last = t.map(\.arrival).max(), last > 0 else { return .infinity }
        return Double(t.count - 1) / last
    }

    /// Every point, in policy → instances → admission limit → rate order. Rates nil: the trace's own timing (one
    /// point per cell).
    public func run(_ trace: [TraceRequest], progress: (Point) -> Void = { _ in }) -> [Point] {
        var out: [Point] = []
        let rs: [Double?] = rates.isEmpty ? [nil] : rates.map { Optional($0) }
        for p in policies {
            for n in instanceCounts {
                for q in queueLimits.isEmpty ? [nil] : queueLimits {
                    for r in rs {
                        let pt = simulate(trace, policy: p, instances: n, rate: r, queueLimit: q)
                        progress(pt)
                        out.append(pt)
                    }
                }
            }
        }
        return out
    }

    /// Chart series: one per policy × instance count, its points the rates.
    public static func series(_ points: [Point]) -> [SweepSeries] {
        var order: [String] = []
        var by: [String: [SweepPoint]] = [:]
        for p in points {
            let l = p.label
            if by[l] == nil { order.append(l) }
            by[l, default: []].append(SweepPoint(variable: .rate(p.rate), result: p.result))
        }
        return order.map { SweepSeries(label: $0, points: by[$0]!) }
    }

    /// Goodput of a point: the share of requests that met the bounds (all completed ones without bounds).
    public static func goodShare(_ p: Point) -> Double {
        let m = p.result.metrics
        let n = Double(max(1, p.result.numPrompts))
        guard let g = m.requestGoodput else { return Double(m.completed) / n }
        return g * p.result.duration / n
    }

    /// For each rate: the configuration with the fewest instances (then the best goodput) whose share of good
    /// requests reaches `target` (0...1), or nil when none does.
    public static func cheapest(_ points: [Point], target: Double) -> [(rate: Double, best: Point?)] {
        var rates: [Double] = []
        for p in points where !rates.contains(p.rate) { rates.append(p.rate) }
        return rates.map { r in
            let ok = points.filter { $0.rate == r && goodShare($0) >= target }
            let best = ok.min { a, b in
                (a.instances, -goodShare(a), a.result.metrics.ttft.p99) < (b.instances, -goodShare(b), b.result.metrics.ttft.p99)
            }
            return (r, best)
        }
    }

    /// A plain-text table of the points.
    public static func table(_ points: [Point]) -> String {
        func pad(_ x: String, _ w: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - x.count))
            return left ? x + fill : fill + x
        }
        let heads = ["rate", "ok", "429", "good%", "ttft p50", "ttft p99", "tpot p50", "tpot p99", "e2el p50", "tok/s", "sim s"]
        var out = pad("config", 24, left: true) + heads.map { pad($0, 10) }.joined() + "\n"
        for p in points {
            let m = p.result.metrics
            let rejected = p.simulation.outcomes.filter { $0.error == simulatedRateLimitError }.count
            let cells = [p.rate.isFinite ? String(format: "%.2f", p.rate) : "inf", "\(m.completed)", "\(rejected)",
                         String(format: "%.1f", goodShare(p) * 100), String(format: "%.1f", m.ttft.median),
                         String(format: "%.1f", m.ttft.p99), String(format: "%.2f", m.tpot.median),
                         String(format: "%.2f", m.tpot.p99), String(format: "%.1f", m.e2el.median),
                         String(format: "%.1f", m.outputThroughput), String(format: "%.3f", p.wallSeconds)]
            out += pad(p.label, 24, left: true) + cells.map { pad($0, 10) }.joined() + "\n"
        }
        return out
    }
}
