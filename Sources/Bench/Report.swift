import Foundation
import Synchronization

extension BenchmarkResult {
    /// The human-readable summary, laid out like `vllm bench serve`'s.
    public func report() -> String {
        let m = metrics
        var out = centered(" Serving Benchmark Result ", "=") + "\n"
        func row(_ name: String, _ value: String) { out += pad(name, 40) + value + "\n" }
        func num(_ name: String, _ v: Double) { row(name, String(format: "%.2f", v)) }
        row("Server:", label)
        row("Successful requests:", "\(m.completed)")
        row("Failed requests:", "\(m.failed)")
        row("Connections:", connections.description)
        row("Maximum request concurrency:", maxConcurrency.map(String.init) ?? "None")
        row("Request rate configured (RPS):", requestRate.isFinite ? String(format: "%.2f", requestRate) : "inf")
        num("Benchmark duration (s):", duration)
        row("Total input tokens:", "\(m.totalInputTokens)")
        row("Total generated tokens:", "\(m.totalOutputTokens)")
        num("Request throughput (req/s):", m.requestThroughput)
        if let g = m.requestGoodput { num("Request goodput (req/s):", g) }
        num("Output token throughput (tok/s):", m.outputThroughput)
        num("Total token throughput (tok/s):", m.totalTokenThroughput)
        let sections = [("TTFT", "Time to First Token", m.ttft), ("TPOT", "Time per Output Token (excl. 1st token)", m.tpot),
                        ("ITL", "Inter-token Latency", m.itl), ("E2EL", "End-to-end Latency", m.e2el)]
        for (short, title, d) in sections {
            out += centered(title, "-") + "\n"
            num("Mean \(short) (ms):", d.mean); num("Median \(short) (ms):", d.median)
            num("P90 \(short) (ms):", d.p90); num("P99 \(short) (ms):", d.p99); num("Std \(short) (ms):", d.std)
        }
        if !m.failureReasons.isEmpty {
            out += centered("Failures", "-") + "\n"
            for (reason, n) in m.failureReasons.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
                out += pad(String(n), 8) + reason + "\n"
            }
        }
        return out + String(repeating: "=", count: 50) + "\n"
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

func centered(_ s: String, _ fill: Character, width: Int = 50) -> String {
    let total = max(width - s.count, 0)
    return String(repeating: fill, count: total / 2) + s + String(repeating: fill, count: total - total / 2)
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal; safe to call from many tasks.
public final class TerminalProgress: Sendable {
    let title: String
    let enabled: Bool
    private let drawn = Mutex(-1)

    public init(title: String, enabled: Bool = true) {
        self.title = title
        self.enabled = enabled && isatty(2) != 0
    }

    public func update(done: Int, total: Int) {
        guard enabled, total > 0 else { return }
        drawn.withLock { last in
            guard done > last else { return }
            last = done
            let width = 30, filled = width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\(title) \(bar) \(done)/\(total)".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }
}
