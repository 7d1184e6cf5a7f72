import BenchSupport
import Benchmark
import Engine
import Scheduler

// The whole Engine (step-loop thread, scheduler, model, sampler, detokenizer, AsyncStream outputs) generating
// greedily for 1, 8 and 32 concurrent streams of 128 tokens each (ignore_eos). Reports aggregate completion
// tokens/s over the iteration's wall time (short prompts included), and the scheduler's share of that time.

/// A started engine and the requests of one iteration.
final class EngineCase: @unchecked Sendable {
    static let maxTokens = 128
    let engine: Engine
    let requests: [EngineRequest]
    /// schedule()+update() time for the same requests, replayed on a scheduler of its own (nanoseconds).
    let schedulerNanos: Double

    init(streams: Int) throws {
        var config = EngineConfig()
        config.numBlocks = 1024   // 16K tokens of KV: plenty for 32 × (prompt + 128)
        engine = try Engine.load(modelPath: BenchPaths.require(BenchPaths.smolLM2), config: config)
        var params = SamplingParams()
        params.temperature = 0
        params.ignoreEOS = true
        params.maxTokens = Self.maxTokens
        requests = (0..<streams).map { [engine] i in
            let prompt = "Once upon a time, in village number \(i), there lived a"
            return EngineRequest(promptTokenIds: engine.encode(prompt, addSpecial: true, parseSpecial: false),
                                 params: params)
        }
        schedulerNanos = try Self.replaySchedule(requests, config: engine.schedulerConfig)
        engine.start()
    }

    /// Runs every request to completion concurrently; returns the number of completion tokens received.
    func run() async throws -> Int {
        let streams = try requests.map { try engine.generate($0) }
        return await withTaskGroup(of: Int.self) { group in
            for stream in streams {
                group.addTask {
                    var n = 0
                    for await out in stream { n += out.newTokenIds.count }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
    }

    /// The engine's scheduler cost for these requests, measured apart: the same config and requests, admitted
    /// at once, stepped until all finish at maxTokens, timing only schedule() + update().
    static func replaySchedule(_ requests: [EngineRequest], config: SchedulerConfig) throws -> Double {
        var scheduler = Scheduler(config: config)
        for (i, r) in requests.enumerated() {
            try scheduler.add(SchedulerRequest(id: UInt64(i + 1), promptTokenIds: r.promptTokenIds,
                                               maxTokens: r.params.maxTokens, arrival: UInt64(i)))
        }
        var sampled: [RequestID: Int32] = [:]
        var total = 0.0
        while scheduler.hasWork {
            total += elapsedNanos {
                let out = scheduler.schedule()
                sampled.removeAll(keepingCapacity: true)
                for seq in out.scheduled where seq.sampleAfter { sampled[seq.requestId] = 42 }
                scheduler.update(after: out, sampled: sampled)
            }
        }
        return total
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .tokensPerSecond, .schedulerShare],
        warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 3)
    for streams in [1, 8, 32] {
        Benchmark("engine greedy, \(streams) streams × 128 tokens") { benchmark, c in
            let start = ContinuousClock.now
            let tokens: Int
            do { tokens = try await c.run() } catch { benchmark.error("\(error)"); return }
            let ns = nanos(ContinuousClock.now - start)
            precondition(tokens == c.requests.count * EngineCase.maxTokens, "got \(tokens) tokens")
            benchmark.measurement(.tokensPerSecond, Int((Double(tokens) / ns * 1e9).rounded()))
            benchmark.measurement(.schedulerShare, Int((c.schedulerNanos / ns * 1e6).rounded()))
        } setup: {
            try EngineCase(streams: streams)
        }
    }
}
