import KVBlocks
import Scheduler
import Testing

/// Hand-written scenarios, each checking one policy decision; the simulator also checks all invariants.
@Suite struct SchedulerScenarioTests {
    func prompt(_ n: Int, salt: Int = 0) -> [Int32] { (0..<n).map { Int32(($0 * 5 + salt) % 23) } }

    @Test(arguments: SchedulePolicy.allCases)
    func runningOutOfBlocksPreemptsAndOutputsDoNotChange(policy: SchedulePolicy) {
        // 3 requests of up to 8 + 24 tokens (8 blocks each) on 12 blocks: they cannot all stay resident.
        let jobs = (0..<3).map { i in
            Job(id: RequestID(i), prompt: prompt(8, salt: i), maxTokens: 24, priority: 0, addStep: 0)
        }
        let config = SchedulerConfig(policy: policy, blockSize: 4, numBlocks: 12)
        let sim = runScenario(jobs, config: config, stop: nil)
        #expect(sim.scheduler.stats.numPreemptions > 0)
        #expect(jobs.allSatisfy { sim.results[$0.id]?.reason == .length })
        #expect(jobs.allSatisfy { sim.results[$0.id]?.outputTokenIds.count == 24 })
    }

    @Test func theVictimIsTheLatestArrivalOfTheLowestPriority() {
        var sim = EngineSimulator(config: SchedulerConfig(blockSize: 4, numBlocks: 6), stop: nil)
        // Each request holds 2 blocks after prefill; block 7 of decoding needs a third: the pool runs dry.
        try! sim.add(Job(id: 1, prompt: prompt(8, salt: 1), maxTokens: 8, priority: 1, addStep: 0), arrival: 0)
        try! sim.add(Job(id: 2, prompt: prompt(8, salt: 2), maxTokens: 8, priority: 0, addStep: 0), arrival: 1)
        try! sim.add(Job(id: 3, prompt: prompt(8, salt: 3), maxTokens: 8, priority: 1, addStep: 0), arrival: 2)
        sim.step()  // all three prefill (6 blocks) and sample
        #expect(sim.scheduler.stats.numFreeBlocks == 0)
        let out = sim.scheduler.schedule()  // the first decode needs a 3rd block: someone must go
        // Priority 0 (id 2) and the earlier priority-1 request (id 1) keep running; id 3 is the victim.
        #expect(out.preempted == [3])
        #expect(sim.scheduler.runningRequestIDs == [2, 1])
        #expect(out.scheduled.map(\.requestId).sorted() == [1, 2])
        #expect(sim.scheduler.stats.numPreemptions == 1)
        #expect(sim.scheduler.blockTable(of: 3) == [])
    }

    @Test func waitingRequestsStartInPriorityThenArrivalOrder() {
        let priorities = [2, 0, 1, 0, 2]
        let jobs = priorities.enumerated().map { i, p in
            Job(id: RequestID(i + 1), prompt: prompt(3, salt: i), maxTokens: 2, priority: p, addStep: 0)
        }
        let config = SchedulerConfig(maxNumSeqs: 1, blockSize: 4, numBlocks: 12)
        let sim = runScenario(jobs, config: config, stop: nil)
        #expect(sim.firstScheduledOrder == [2, 4, 3, 1, 5])
    }

    @Test func aHigherPriorityArrivalDoesNotPreemptRunningWork() {
        var sim = EngineSimulator(config: SchedulerConfig(maxNumSeqs: 1, blockSize: 4, numBlocks: 12), stop: nil)
        try! sim.add(Job(id: 1, prompt: prompt(4), maxTokens: 5, priority: 5, addStep: 0), arrival: 0)
        sim.step()
        try! sim.add(Job(id: 2, prompt: prompt(4, salt: 1), maxTokens: 5, priority: 0, addStep: 1), arrival: 1)
        for _ in 0..<4 { sim.step() }
        #expect(sim.results[1]?.reason == .length)
        #expect(sim.results[2] == nil)
        #expect(sim.firstScheduledOrder == [1])
        #expect(sim.scheduler.stats.numPreemptions == 0)
    }

    @Test func aLaterRequestWithTheSamePromptHitsTheCacheAndSharesBlocks() {
        var sim = EngineSimulator(config: SchedulerConfig(blockSize: 4, numBlocks: 12), stop: nil)
        let shared = prompt(16)
        try! sim.add(Job(id: 1, prompt: shared, maxTokens: 6, priority: 0, addStep: 0), arrival: 0)
        sim.step()  // prefills all 16 tokens and caches 4 full blocks
        try! sim.add(Job(id: 2, prompt: shared, maxTokens: 6, priority: 0, addStep: 1), arrival: 1)
        sim.step()
        let a = sim.scheduler.blockTable(of: 1)!, b = sim.scheduler.blockTable(of: 2)!
        // The whole prompt is cached, so the last block is recomputed: 3 blocks (12 tokens) are shared.
        #expect(Array(a.prefix(3)) == Array(b.prefix(3)))
        #expect(a[3] != b[3])
        #expect(sim.scheduler.stats.prefixCacheHits == 12)
        #expect(sim.scheduler.stats.prefixCacheQueries == 32)
        #expect(sim.scheduler.kvCache.pool.refCount(of: a[0]) == 2)
        while sim.scheduler.hasWork { sim.step() }
        #expect(sim.results[1]?.outputTokenIds == sim.results[2]?.outputTokenIds)
        sim.expectAllBlocksFree()
    }

    @Test func requestsAdmittedTogetherComputeTheirOwnBlocksAndALaterOneHits() {
        let shared = prompt(12)
        let jobs = [
            Job(id: 1, prompt: shared, maxTokens: 4, priority: 0, addStep: 0),
            Job(id: 2, prompt: shared, maxTokens: 4, priority: 0, addStep: 0),
            Job(id: 3, prompt: shared, maxTokens: 4, priority: 0, addStep: 1),
        ]
        let sim = runScenario(jobs, config: SchedulerConfig(blockSize: 4, numBlocks: 12), stop: nil)
        // Ids 1 and 2: no hit (computed in the same step); id 3: 2 blocks (8 tokens, last block dropped).
        #expect(sim.scheduler.stats.prefixCacheHits == 8)
        #expect(sim.scheduler.stats.prefixCacheQueries == 36)
        #expect(sim.results[1]?.outputTokenIds == sim.results[3]?.outputTokenIds)
    }

    @Test func aPreemptedRequestResumesFromItsCachedBlocks() {
        let jobs = (0..<3).map { i in
            Job(id: RequestID(i), prompt: prompt(8, salt: i), maxTokens: 24, priority: 0, addStep: 0)
        }
        let sim = runScenario(jobs, config: SchedulerConfig(blockSize: 4, numBlocks: 12), stop: nil)
        #expect(sim.scheduler.stats.numPreemptions > 0)
        // The only hits possible here are a resumed request finding its own earlier blocks.
        #expect(sim.scheduler.stats.prefixCacheHits > 0)
    }

    @Test(arguments: SchedulePolicy.allCases)
    func longPromptsArePrefilledInChunksUnderTheBudget(policy: SchedulePolicy) {
        var sim = EngineSimulator(
            config: SchedulerConfig(maxNumBatchedTokens: 5, policy: policy, blockSize: 4, numBlocks: 12), stop: nil)
        try! sim.add(Job(id: 1, prompt: prompt(13), maxTokens: 2, priority: 0, addStep: 0), arrival: 0)
        var chunks: [(Int, Int, Bool)] = []
        while sim.scheduler.hasWork {
            let out = sim.scheduler.schedule()
            chunks += out.scheduled.map { ($0.startPosition, $0.tokenIds.count, $0.sampleAfter) }
            let sampled = Dictionary(uniqueKeysWithValues: out.scheduled.filter(\.sampleAfter).map { ($0.requestId, Int32(1)) })
            sim.scheduler.update(after: out, sampled: sampled)
        }
        #expect(chunks.map(\.0) == [0, 5, 10, 13])
        #expect(chunks.map(\.1) == [5, 5, 3, 1])
        #expect(chunks.map(\.2) == [false, false, true, true])
    }

    @Test func splitStepsAlternateSoDecodesAreNotStarved() {
        let config = SchedulerConfig(maxNumBatchedTokens: 4, policy: .split, blockSize: 4, numBlocks: 12)
        var sim = EngineSimulator(config: config, stop: nil)
        try! sim.add(Job(id: 1, prompt: prompt(2), maxTokens: 10, priority: 0, addStep: 0), arrival: 0)
        sim.step()  // prefill of 1
        try! sim.add(Job(id: 2, prompt: prompt(16, salt: 3), maxTokens: 2, priority: 0, addStep: 1), arrival: 1)
        var stages: [String] = []
        for _ in 0..<6 {
            let out = sim.scheduler.schedule()
            stages.append(out.isPrefillStage ? "P" : out.isDecodeStage ? "D" : "?")
            var sampled: [RequestID: Int32] = [:]
            for seq in out.scheduled where seq.sampleAfter { sampled[seq.requestId] = 3 }
            sim.scheduler.update(after: out, sampled: sampled)
        }
        // Step 1 was a prefill step and request 1 decodes, so: decode, then prefill chunk, and so on.
        #expect(stages == ["D", "P", "D", "P", "D", "P"])
    }

    @Test func mixedStepsRunDecodesAndPrefillChunksTogether() {
        let config = SchedulerConfig(maxNumBatchedTokens: 4, policy: .mixed, blockSize: 4, numBlocks: 12)
        var sim = EngineSimulator(config: config, stop: nil)
        try! sim.add(Job(id: 1, prompt: prompt(2), maxTokens: 10, priority: 0, addStep: 0), arrival: 0)
        sim.step()
        try! sim.add(Job(id: 2, prompt: prompt(16, salt: 3), maxTokens: 2, priority: 0, addStep: 1), arrival: 1)
        let out = sim.scheduler.schedule()
        #expect(out.scheduled.map(\.requestId) == [1, 2])
        #expect(out.numDecodeTokens == 1 && out.numPrefillTokens == 3)
        sim.scheduler.update(after: out, sampled: [1: 3])
    }

    @Test func abortsAreAppliedAtTheNextScheduleAndFreeTheBlocks() throws {
        var sim = EngineSimulator(config: SchedulerConfig(maxNumSeqs: 1, blockSize: 4, numBlocks: 12), stop: nil)
        try! sim.add(Job(id: 1, prompt: prompt(6), maxTokens: 10, priority: 0, addStep: 0), arrival: 0)
        try! sim.add(Job(id: 2, prompt: prompt(6, salt: 1), maxTokens: 10, priority: 0, addStep: 0), arrival: 1)
        sim.step()
        #expect(sim.scheduler.stats.numFreeBlocks == 10)
        sim.scheduler.abort(1)  // running
        sim.scheduler.abort(2)  // waiting
        sim.scheduler.abort(99)  // unknown: ignored
        #expect(sim.scheduler.stats.numFreeBlocks == 10)
        #expect(sim.scheduler.hasWork)
        let out = sim.scheduler.schedule()
        try #require(out.finished.map(\.id) == [1, 2])
        #expect(out.finished.allSatisfy { $0.reason == .abort })
        #expect(out.finished[0].outputTokenIds.count == 1)
        #expect(out.scheduled.isEmpty)
        #expect(!sim.scheduler.hasWork)
        #expect(sim.scheduler.stats.numFreeBlocks == 12)
    }

    @Test func updateReportsLengthStopErrorAndEngineFinishes() throws {
        var s = Scheduler(config: SchedulerConfig(blockSize: 4, numBlocks: 12))
        for (id, maxTokens) in [(1, 1), (2, 5), (3, 5), (4, 5)] {
            try! s.add(SchedulerRequest(id: RequestID(id), promptTokenIds: [1, 2, 3], maxTokens: maxTokens, arrival: UInt64(id)))
        }
        try! s.add(SchedulerRequest(id: 5, promptTokenIds: Array(repeating: 9, count: 30), maxTokens: 1, arrival: 5))
        let out = s.schedule()
        #expect(out.scheduled.count == 5)
        // 1 reaches maxTokens; 2 hits a stop token; 3 gets no token (error); 4 goes on; 5 is ended by the
        // engine (its reason wins over .length).
        let finished = s.update(after: out, sampled: [1: 7, 2: 8, 4: 9, 5: 1], finishing: [2: .stop, 5: .abort])
        try #require(finished.map(\.id) == [1, 2, 3, 5])
        #expect(finished.map(\.reason) == [.length, .stop, .error, .abort])
        #expect(finished[0].outputTokenIds == [7])
        #expect(finished[1].outputTokenIds == [8])
        #expect(s.outputTokens(of: 4) == [9])
        #expect(s.outputTokens(of: 1) == nil)
        #expect(s.stats.numRunning == 1)
        #expect(s.stats.numFreeBlocks == 11)
    }

    @Test func neverFittingRequestsAreRejectedWithTheirNumbers() {
        var s = Scheduler(config: SchedulerConfig(blockSize: 4, numBlocks: 10, maxModelLen: 64))
        func reject(_ r: SchedulerRequest) -> SchedulerError? {
            do throws(SchedulerError) { try s.add(r) } catch { return error }
            return nil
        }
        #expect(reject(SchedulerRequest(id: 1, promptTokenIds: [], maxTokens: 4, arrival: 0)) == .emptyPrompt(id: 1))
        #expect(reject(SchedulerRequest(id: 2, promptTokenIds: [1], maxTokens: 0, arrival: 0)) == .invalidMaxTokens(id: 2, maxTokens: 0))
        let long = reject(SchedulerRequest(id: 3, promptTokenIds: Array(repeating: 1, count: 60), maxTokens: 5, arrival: 0))
        #expect(long == .exceedsMaxModelLen(id: 3, promptTokens: 60, maxTokens: 5, maxModelLen: 64))
        #expect(long.map { "\($0)" }?.contains("65") == true)
        let big = reject(SchedulerRequest(id: 4, promptTokenIds: Array(repeating: 1, count: 40), maxTokens: 1, arrival: 0))
        #expect(big == .exceedsKVCapacity(id: 4, tokens: 41, blocksNeeded: 11, numBlocks: 10, blockSize: 4))
        #expect(reject(SchedulerRequest(id: 5, promptTokenIds: Array(repeating: 1, count: 39), maxTokens: 1, arrival: 0)) == nil)
        #expect(reject(SchedulerRequest(id: 5, promptTokenIds: [1], maxTokens: 1, arrival: 1)) == .duplicateID(id: 5))
        #expect(s.stats.numWaiting == 1)
    }

    @Test func aLoneRequestUsingTheWholePoolCompletes() {
        let job = Job(id: 7, prompt: prompt(30), maxTokens: 18, priority: 0, addStep: 0)  // 48 tokens = 12 blocks
        let config = SchedulerConfig(maxNumBatchedTokens: 7, blockSize: 4, numBlocks: 12)
        let sim = runScenario([job], config: config, stop: nil)
        #expect(sim.results[7]?.reason == .length)
        #expect(sim.scheduler.stats.numPreemptions == 0)
    }
}
