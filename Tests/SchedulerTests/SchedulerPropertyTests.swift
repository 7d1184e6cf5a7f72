import PropertyBased
import Scheduler
import Testing

/// Random scenarios on a deliberately tiny pool (12 blocks of 4 tokens): random arrivals, prompt lengths
/// with shared prefixes, output lengths, priorities and cancellations, under random budgets and caps.
@Suite struct SchedulerPropertyTests {
    static let stop: Int32 = 5

    /// (prefix family, prompt length, tail seed, maxTokens, priority, add step, abort step or < 0 for none)
    static let jobGen = zip(
        Gen.int(in: 0...2), Gen.int(in: 1...14), Gen.int(in: 0...999), Gen.int(in: 1...24),
        Gen.int(in: 0...2), Gen.int(in: 0...8), Gen.int(in: -24...12))
    /// (maxNumBatchedTokens, maxNumSeqs)
    static let limitsGen = zip(Gen.int(in: 2...16), Gen.int(in: 1...4))

    static func jobs(
        _ specs: [(Int, Int, Int, Int, Int, Int, Int)]
    ) -> [Job] {
        specs.enumerated().map { i, s in
            let (family, length, seed, maxTokens, priority, addStep, abortStep) = s
            // The first 8 tokens (2 blocks) are shared by every prompt of a family.
            let prompt = (0..<length).map { p in
                p < 8 ? Int32((family * 31 + p * 7) % 24) : Int32((seed * 13 + p * 29) % 24)
            }
            return Job(
                id: RequestID(100 + i), prompt: prompt, maxTokens: maxTokens, priority: priority,
                addStep: addStep, abortStep: abortStep >= 0 ? addStep + abortStep : nil)
        }
    }

    func check(policy: SchedulePolicy, caching: Bool) async {
        await propertyCheck(count: 150, input: Self.jobGen.array(of: 1...10), Self.limitsGen) { specs, limits in
            let config = SchedulerConfig(
                maxNumBatchedTokens: limits.0, maxNumSeqs: limits.1, policy: policy, blockSize: 4, numBlocks: 12,
                enablePrefixCaching: caching)
            _ = runScenario(Self.jobs(specs), config: config, stop: Self.stop)
        }
    }

    @Test func mixedWithPrefixCachingReproducesSoloRuns() async { await check(policy: .mixed, caching: true) }
    @Test func mixedWithoutPrefixCachingReproducesSoloRuns() async { await check(policy: .mixed, caching: false) }
    @Test func splitWithPrefixCachingReproducesSoloRuns() async { await check(policy: .split, caching: true) }
    @Test func splitWithoutPrefixCachingReproducesSoloRuns() async { await check(policy: .split, caching: false) }
}
