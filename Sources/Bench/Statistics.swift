/// Summary statistics with numpy's conventions, so that numbers compare with `vllm bench serve`.
public enum Stats {
    /// `numpy.percentile(values, p)` with numpy's default ("linear") method: on the sorted values,
    /// h = (n − 1)·p/100 and the result is x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). 0 for no values.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        percentile(sorted: values.sorted(), p)
    }

    /// As `percentile(_:_:)` on values already sorted ascending.
    public static func percentile(sorted x: [Double], _ p: Double) -> Double {
        guard !x.isEmpty else { return 0 }
        let h = Double(x.count - 1) * min(max(p, 0), 100) / 100
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, x.count - 1)
        return x[lo] + (h - Double(lo)) * (x[hi] - x[lo])
    }

    /// Arithmetic mean; 0 for no values (vLLM's `np.mean(xs or 0)`).
    public static func mean(_ x: [Double]) -> Double {
        x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count)
    }

    /// Population standard deviation (numpy's default `ddof=0`): sqrt(Σ(x − mean)² / n); 0 for no values.
    public static func std(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let m = mean(x)
        let ss = x.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(x.count)).squareRoot()
    }
}

/// Mean, median, spread and tail of one latency metric, in the unit of its inputs.
public struct Distribution: Sendable, Equatable, Codable {
    public var mean: Double
    public var median: Double
    public var std: Double
    public var p90: Double
    public var p99: Double

    public init(mean: Double, median: Double, std: Double, p90: Double, p99: Double) {
        self.mean = mean; self.median = median; self.std = std; self.p90 = p90; self.p99 = p99
    }

    /// All zeros for no values, like vLLM.
    public init(_ values: [Double]) {
        let sorted = values.sorted()
        self.init(mean: Stats.mean(sorted), median: Stats.percentile(sorted: sorted, 50), std: Stats.std(sorted),
                  p90: Stats.percentile(sorted: sorted, 90), p99: Stats.percentile(sorted: sorted, 99))
    }

    /// Each field times `k` (seconds → milliseconds).
    public func scaled(_ k: Double) -> Distribution {
        Distribution(mean: mean * k, median: median * k, std: std * k, p90: p90 * k, p99: p99 * k)
    }
}
