import Bench
import Foundation
import Testing

@Suite struct StatisticsTests {
    @Test func percentilesInterpolateLikeNumpy() {
        // numpy linear method on sorted [1, 2, 3, 4] (n = 4): h = 3·p/100.
        // p50: h = 1.5 → 2 + 0.5·(3 − 2) = 2.5;  p90: h = 2.7 → 3 + 0.7·1 = 3.7;  p99: h = 2.97 → 3.97
        // p0 → 1, p100 → 4.
        let x = [4.0, 1, 3, 2]
        #expect(close(Stats.percentile(x, 50), 2.5))
        #expect(close(Stats.percentile(x, 90), 3.7))
        #expect(close(Stats.percentile(x, 99), 3.97))
        #expect(Stats.percentile(x, 0) == 1)
        #expect(Stats.percentile(x, 100) == 4)
        // [0, 5, 10], p25: h = 2·0.25 = 0.5 → 0 + 0.5·5 = 2.5
        #expect(close(Stats.percentile([10, 0, 5], 25), 2.5))
        // One value: every percentile is that value; no values: 0 (vLLM reports 0).
        #expect(Stats.percentile([7], 99) == 7)
        #expect(Stats.percentile([], 50) == 0)
    }

    @Test func populationStandardDeviation() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5; squared deviations 9,1,1,1,0,0,4,16 sum 32; 32/8 = 4 → std 2 (ddof = 0).
        #expect(close(Stats.std([2, 4, 4, 4, 5, 5, 7, 9]), 2))
        #expect(close(Stats.mean([2, 4, 4, 4, 5, 5, 7, 9]), 5))
        #expect(Stats.std([3]) == 0)
        #expect(Stats.std([]) == 0 && Stats.mean([]) == 0)
    }

    @Test func distributionFields() {
        // [10, 20, 30, 40, 50]: mean 30, median 30, p90 h = 3.6 → 40 + 0.6·10 = 46, p99 h = 3.96 → 49.6,
        // std: deviations ±20, ±10, 0 → (400+100+0+100+400)/5 = 200 → √200.
        let d = Distribution([50, 10, 40, 20, 30])
        #expect(close(d.mean, 30) && close(d.median, 30) && close(d.p90, 46) && close(d.p99, 49.6))
        #expect(close(d.std, 200.0.squareRoot()))
        #expect(close(d.scaled(1000).p90, 46000))
    }

    /// A: 5 tokens, ttft 0.2 s, gaps 0.1 0.1 0.2 0.2, e2e 0.8 s → TPOT (0.8 − 0.2)/(5 − 1) = 0.15 s
    /// B: 3 tokens, ttft 0.4 s, gaps 0.3 0.5, e2e 1.2 s → TPOT (1.2 − 0.4)/(3 − 1) = 0.4 s
    /// C: failed (connection refused); D: failed (HTTP 429), E: 1 token, ttft 0.05 = e2e (no TPOT, no gaps).
    static let trace = [
        RequestOutcome(success: true, promptLength: 10, outputTokens: 5, ttft: 0.2, itl: [0.1, 0.1, 0.2, 0.2], latency: 0.8),
        RequestOutcome(success: true, promptLength: 20, outputTokens: 3, ttft: 0.4, itl: [0.3, 0.5], latency: 1.2),
        RequestOutcome(success: false, promptLength: 30, outputTokens: 0, ttft: 0, itl: [], latency: 0.01, error: "connection refused"),
        RequestOutcome(success: false, promptLength: 30, outputTokens: 0, ttft: 0, itl: [], latency: 0.01, error: "HTTP 429: busy"),
        RequestOutcome(success: true, promptLength: 4, outputTokens: 1, ttft: 0.05, itl: [], latency: 0.05),
    ]

    @Test func metricsOfAHandMadeTrace() {
        let m = BenchmarkMetrics(outcomes: Self.trace, duration: 2.0)
        // Completed A, B, E; input 10+20+4 = 34; output 5+3+1 = 9; over 2 s: 1.5 req/s, 4.5 tok/s, 43/2 = 21.5 tok/s.
        #expect(m.completed == 3 && m.failed == 2)
        #expect(m.totalInputTokens == 34 && m.totalOutputTokens == 9)
        #expect(close(m.requestThroughput, 1.5) && close(m.outputThroughput, 4.5) && close(m.totalTokenThroughput, 21.5))
        #expect(m.requestGoodput == nil)
        #expect(m.failureReasons == ["connection refused": 1, "HTTP 429: busy": 1])
        // TTFT ms [50, 200, 400]: mean 650/3, median 200, p90 h = 1.8 → 200 + 0.8·200 = 360, p99 h = 1.98 → 396.
        #expect(close(m.ttft.mean, 650.0 / 3) && close(m.ttft.median, 200) && close(m.ttft.p90, 360) && close(m.ttft.p99, 396))
        // TPOT excludes the first token and one-token requests: ms [150, 400] → mean 275, std 125,
        // p90 150 + 0.9·250 = 375, p99 150 + 0.99·250 = 397.5.
        #expect(close(m.tpot.mean, 275) && close(m.tpot.median, 275) && close(m.tpot.std, 125))
        #expect(close(m.tpot.p90, 375) && close(m.tpot.p99, 397.5))
        // ITL flattens every gap of completed requests: ms sorted [100, 100, 200, 200, 300, 500]; mean 1400/6;
        // median h = 2.5 → 200; p90 h = 4.5 → 300 + 0.5·200 = 400; p99 h = 4.95 → 490;
        // in units of 100: Σx² = 44, mean 7/3, variance 44/6 − 49/9 = 17/9 → std = 100·√17/3.
        #expect(close(m.itl.mean, 1400.0 / 6) && close(m.itl.median, 200) && close(m.itl.p90, 400) && close(m.itl.p99, 490))
        #expect(close(m.itl.std, 100 * 17.0.squareRoot() / 3))
        // E2E ms [50, 800, 1200]: mean 2050/3, median 800.
        #expect(close(m.e2el.mean, 2050.0 / 3) && close(m.e2el.median, 800))
    }

    @Test func tpotExcludesTheFirstToken() throws {
        // 10 tokens in 1.0 s with the first at 0.1 s: the other 9 took 0.9 s → 0.1 s each (not 1.0/10).
        let o = RequestOutcome(success: true, promptLength: 1, outputTokens: 10, ttft: 0.1, itl: [], latency: 1.0)
        #expect(close(try #require(BenchmarkMetrics.tpot(o)), 0.1))
        let single = RequestOutcome(success: true, promptLength: 1, outputTokens: 1, ttft: 0.1, itl: [], latency: 0.1)
        #expect(BenchmarkMetrics.tpot(single) == nil)
    }

    @Test func goodputCountsRequestsMeetingEveryBound() throws {
        // ttft ≤ 300 ms: A (200) and E (50) are good, B (400) is not → 2 / 2 s = 1.0 req/s.
        let a = BenchmarkMetrics(outcomes: Self.trace, duration: 2.0, goodput: try GoodputBounds(parsing: ["ttft:300"]))
        #expect(close(try #require(a.requestGoodput), 1.0))
        // ttft ≤ 500 and tpot ≤ 400 (bounds inclusive; E's TPOT counts as 0): A, B, E → 1.5 req/s.
        let b = BenchmarkMetrics(outcomes: Self.trace, duration: 2.0, goodput: try GoodputBounds(parsing: ["ttft:500", "tpot:400"]))
        #expect(close(try #require(b.requestGoodput), 1.5))
        // Adding e2el ≤ 1000 drops B (1200) → A, E → 1.0; tpot ≤ 100 alone drops A (150) and B → E → 0.5.
        let c = BenchmarkMetrics(outcomes: Self.trace, duration: 2.0,
                                 goodput: try GoodputBounds(parsing: ["ttft:500", "tpot:400", "e2el:1000"]))
        #expect(close(try #require(c.requestGoodput), 1.0))
        let d = BenchmarkMetrics(outcomes: Self.trace, duration: 2.0, goodput: try GoodputBounds(parsing: ["tpot:100"]))
        #expect(close(try #require(d.requestGoodput), 0.5))
    }

    @Test func goodputParsingRejectsNonsense() throws {
        #expect(try GoodputBounds(parsing: ["ttft:500", "e2el:2.5"]) == GoodputBounds(ttftMs: 500, e2elMs: 2.5))
        #expect(throws: BenchError.self) { try GoodputBounds(parsing: ["ttft"]) }
        #expect(throws: BenchError.self) { try GoodputBounds(parsing: ["latency:5"]) }
        #expect(throws: BenchError.self) { try GoodputBounds(parsing: ["tpot:-1"]) }
    }
}
