public import Benchmark
import Foundation

/// Where the benchmarks find their inputs. Paths are resolved from this source file's location
/// (Benchmarks/Sources/BenchSupport/ inside the repository), so runs do not depend on the working directory.
public enum BenchPaths {
    /// The repository root.
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }   // BenchSupport.swift → BenchSupport → Sources → Benchmarks
        return url.path
    }()

    /// The default model, SmolLM2-135M-Instruct Q4_1 (fetched by scripts/setup.sh); `SWIFTLET_BENCH_MODEL` overrides.
    public static var smolLM2: String {
        ProcessInfo.processInfo.environment["SWIFTLET_BENCH_MODEL"]
            ?? repoRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// The tiny llama2.c checkpoint checked into the repository, and its 512-token tokenizer.
    public static var stories260K: String { repoRoot + "/models/stories260K/stories260K.bin" }
    public static var stories260KTokenizer: String { repoRoot + "/models/stories260K/tok512.bin" }

    /// A fixed English text (the Apache-2.0 license, 11 KB) shipped in the repository.
    public static var englishText: String { repoRoot + "/models/smollm2-135m-instruct/LICENSE.Apache-2.0" }

    /// Throws a readable error when an input is missing (e.g. the default model before scripts/setup.sh ran).
    public static func require(_ path: String) throws(BenchInputError) -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw BenchInputError(path: path) }
        return path
    }
}

public struct BenchInputError: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "\(path) is missing; run scripts/setup.sh from the repository root" }
}

/// Rates recorded once per iteration, so the reported percentiles read directly as rates.
public extension BenchmarkMetric {
    static var tokensPerSecond: BenchmarkMetric { .custom("tokens/s", polarity: .prefersLarger, useScalingFactor: false) }
    static var gflops: BenchmarkMetric { .custom("GFLOP/s", polarity: .prefersLarger, useScalingFactor: false) }
    static var gops: BenchmarkMetric { .custom("GOP/s", polarity: .prefersLarger, useScalingFactor: false) }
    static var gigabytesPerSecond: BenchmarkMetric { .custom("GB/s", polarity: .prefersLarger, useScalingFactor: false) }
    static var bytesPerSecond: BenchmarkMetric { .custom("bytes/s", polarity: .prefersLarger, useScalingFactor: false) }
    static var elementsPerSecond: BenchmarkMetric {
        .custom("elements/s", polarity: .prefersLarger, useScalingFactor: false)
    }
    /// Scheduler time as parts per million of the engine's wall time.
    static var schedulerShare: BenchmarkMetric {
        .custom("scheduler share (ppm)", polarity: .prefersSmaller, useScalingFactor: false)
    }
}

/// Nanoseconds elapsed while `body` runs.
@inline(__always)
public func elapsedNanos(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    return nanos(ContinuousClock.now - start)
}

public func nanos(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
}

public extension Benchmark {
    /// Times `body` and records `units` per second of it under `metric` (e.g. tokens, bytes, FLOPs / 1e9).
    func recordRate(_ metric: BenchmarkMetric, units: Double, _ body: () throws -> Void) rethrows {
        let ns = try elapsedNanos(body)
        measurement(metric, Int((units / ns * 1e9).rounded()))
    }
}

/// SplitMix64: a seeded generator so that random inputs are the same on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
