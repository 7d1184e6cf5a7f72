@testable import Bench
import Foundation
import Testing

@Suite struct ResultTests {
    static let vllmFields = ["date", "backend", "model_id", "num_prompts", "request_rate", "burstiness", "max_concurrency",
                             "duration", "completed", "failed", "total_input_tokens", "total_output_tokens",
                             "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
                             "input_lens", "output_lens", "ttfts", "itls", "errors"]
        + ["ttft", "tpot", "itl", "e2el"].flatMap { m in ["mean", "median", "std", "p90", "p99"].map { "\($0)_\(m)_ms" } }

    static func result(goodput: GoodputBounds? = GoodputBounds(ttftMs: 300), rate: Double = 4) -> BenchmarkResult {
        BenchmarkResult(target: BenchTarget(baseURL: "http://x:1", model: "m", label: "srv"), model: "m", tokenizerID: nil,
                        datasetName: "random", shape: LoadShape(requestRate: rate, burstiness: 1, maxConcurrency: 8, seed: 0),
                        goodput: goodput, outcomes: StatisticsTests.trace, duration: 2)
    }

    @Test func jsonHasVLLMFieldNamesAndRoundTrips() throws {
        let r = Self.result()
        let data = try r.jsonData()
        let o = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for f in Self.vllmFields { #expect(o[f] != nil, "missing \(f)") }
        #expect(o["backend"] as? String == "openai" && o["completed"] as? Int == 3 && o["failed"] as? Int == 2)
        #expect((o["errors"] as? [String])?[2] == "connection refused")
        #expect((o["output_lens"] as? [Int]) == [5, 3, 0, 0, 1])
        #expect(try JSONDecoder().decode(BenchmarkResult.self, from: data) == r)
    }

    @Test func infiniteRateIsTheStringInf() throws {
        let r = Self.result(goodput: nil, rate: .infinity)
        let o = try #require(try JSONSerialization.jsonObject(with: r.jsonData()) as? [String: Any])
        #expect(o["request_rate"] as? String == "inf")
        #expect(o["request_goodput"] is NSNull)
        #expect(try JSONDecoder().decode(BenchmarkResult.self, from: r.jsonData()).requestRate == .infinity)
    }

    @Test func reportListsMetricsAndFailures() {
        let text = Self.result().report()
        for s in ["Successful requests:", "Request goodput (req/s):", "Mean TTFT (ms):", "P99 TPOT (ms):", "Median ITL (ms):",
                  "Std E2EL (ms):", "connection refused", "HTTP 429: busy"] {
            #expect(text.contains(s), "report lacks \(s)")
        }
        #expect(text.contains("Successful requests:                    3"))
    }

    @Test func chartHasPanelsAxesAndLegend() {
        let s1 = SweepSeries(label: "alpha", points: [SweepPoint(variable: .rate(1), result: Self.result(rate: 1)),
                                                      SweepPoint(variable: .rate(.infinity), result: Self.result(rate: .infinity))])
        let s2 = SweepSeries(label: "beta", points: [SweepPoint(variable: .concurrency(4), result: Self.result())])
        let svg = SweepChart.svg([s1, s2], title: "T & co")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        // 2 panels × 2 servers × (p50 + p99) lines.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 8)
        for s in ["Time to first token", "Time per output token", "Output throughput (tokens/s)", "Latency (ms)",
                  "alpha p50", "beta p99", "T &amp; co", ">inf<", ">c4<"] {
            #expect(svg.contains(s), "chart lacks \(s)")
        }
    }

    @Test func niceTicks() {
        #expect(SweepChart.ticks(9.3) == [0, 2, 4, 6, 8, 10])
        #expect(SweepChart.ticks(100) == [0, 20, 40, 60, 80, 100])
        // 0.37/5 = 0.074 → step 0.1 (the next of 1, 2, 5 × 10^k) → up to 0.4.
        let small = SweepChart.ticks(0.37)
        #expect(small.count == 5 && zip(small, [0, 0.1, 0.2, 0.3, 0.4]).allSatisfy { close($0, $1) })
        #expect(SweepChart.ticks(0) == [0, 1])
    }

    @Test func sweepVariablesParse() throws {
        #expect(try SweepVariable.rates("1, 2.5,inf") == [.rate(1), .rate(2.5), .rate(.infinity)])
        #expect(try SweepVariable.concurrencies("1,16") == [.concurrency(1), .concurrency(16)])
        #expect(throws: BenchError.self) { try SweepVariable.rates("0") }
        #expect(SweepRunner.fileName(label: "a/b c", .rate(.infinity)) == "a_b_c_rate-inf.json")
    }
}
