import BenchSupport
import Benchmark
import Scheduler

// The scheduler's own cost per step: schedule() + update(after:sampled:) with 64 running sequences that all
// decode (no model). One benchmark iteration is one step.

/// A scheduler whose 64 requests have finished their 200-token prompts and now decode one token per step.
/// maxTokens is large enough that nobody finishes within the benchmark's iterations.
final class DecodingScheduler: @unchecked Sendable {
    static let sequences = 64, promptTokens = 200, maxTokens = 8000
    var scheduler: Scheduler
    var sampled: [RequestID: Int32] = [:]
    var step = 0

    init(policy: SchedulePolicy, caching: Bool) throws {
        let tokensPerSeq = Self.promptTokens + Self.maxTokens
        let config = SchedulerConfig(policy: policy, blockSize: 16, numBlocks: Self.sequences * (tokensPerSeq / 16 + 1),
                                     enablePrefixCaching: caching)
        scheduler = Scheduler(config: config)
        sampled.reserveCapacity(Self.sequences)
        for i in 0..<Self.sequences {
            let prompt = (0..<Self.promptTokens).map { Int32(($0 * 7 + i * 13) % 32000) }
            try scheduler.add(SchedulerRequest(id: UInt64(i), promptTokenIds: prompt, maxTokens: Self.maxTokens,
                                               arrival: UInt64(i)))
        }
        while true {   // prefill (2048 tokens per step) until every request decodes
            let out = runStep()
            if out.isDecodeStage && out.scheduled.count == Self.sequences { break }
        }
    }

    /// One engine step without the model: plan, pretend-sample a token for every sequence that wants one, update.
    @discardableResult
    func runStep() -> SchedulerOutput {
        let out = scheduler.schedule()
        sampled.removeAll(keepingCapacity: true)
        for seq in out.scheduled where seq.sampleAfter { sampled[seq.requestId] = Int32(step % 1000) }
        scheduler.update(after: out, sampled: sampled)
        step += 1
        return out
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .microseconds,
        warmupIterations: 20, maxDuration: .seconds(2), maxIterations: 4000)
    for policy in SchedulePolicy.allCases {
        for caching in [true, false] {
            Benchmark("schedule+update, 64 decoding seqs, \(policy), prefix caching \(caching ? "on" : "off")") {
                benchmark, s in
                let out = s.runStep()
                precondition(out.scheduled.count == DecodingScheduler.sequences && out.isDecodeStage)
            } setup: {
                try DecodingScheduler(policy: policy, caching: caching)
            }
        }
    }
}
