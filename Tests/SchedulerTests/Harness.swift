import KVBlocks
import Scheduler
import Testing

/// A deterministic stand-in for the model: the next token is a pure function of the whole token history,
/// so any correct scheduler reproduces each request's solo output whatever the batching.
enum StandInModel {
    static let vocab: UInt64 = 24

    static func next(_ history: some Sequence<Int32>) -> Int32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for t in history {
            h = (h ^ UInt64(UInt32(bitPattern: t))) &* 0x0000_0100_0000_01B3
        }
        return Int32((h >> 17) % vocab)
    }

    /// What one request produces when run alone: generate until the stop token or maxTokens.
    static func solo(prompt: [Int32], maxTokens: Int, stop: Int32?) -> (output: [Int32], reason: FinishReason) {
        var tokens = prompt
        while true {
            let t = next(tokens)
            tokens.append(t)
            if t == stop { return (Array(tokens[prompt.count...]), .stop) }
            if tokens.count - prompt.count == maxTokens { return (Array(tokens[prompt.count...]), .length) }
        }
    }
}

/// One request of a scenario: added at `addStep`, aborted at `abortStep` if still alive then.
struct Job: Sendable, CustomStringConvertible {
    var id: RequestID
    var prompt: [Int32]
    var maxTokens: Int
    var priority: Int
    var addStep: Int
    var abortStep: Int?

    var description: String {
        "Job(id: \(id), prompt: \(prompt), maxTokens: \(maxTokens), priority: \(priority), add@\(addStep), abort@\(abortStep.map(String.init) ?? "-"))"
    }
}

/// Plays the engine: schedule → write the chunk's tokens into a simulated paged KV store through the
/// block tables → "run the model" by reading each sequence's whole context back through its block table
/// → sample → update. Checks the scheduler's invariants at every step with `#expect`.
struct EngineSimulator {
    var scheduler: Scheduler
    let config: SchedulerConfig
    let stop: Int32?
    /// The simulated paged KV storage: the token id stored at each slot, -1 when never written.
    var store: [Int32]  // [numBlocks * blockSize]
    /// The test's own record of every live request's tokens (prompt + sampled).
    var history: [RequestID: [Int32]] = [:]
    /// Requests that sampled since their last (re)admission.
    var decoding: Set<RequestID> = []
    var results: [RequestID: FinishedRequest] = [:]
    var firstScheduledOrder: [RequestID] = []
    var lastStepWasPrefillOnly = false
    var steps = 0

    init(config: SchedulerConfig, stop: Int32?) {
        self.config = config
        self.stop = stop
        scheduler = Scheduler(config: config)
        store = [Int32](repeating: -1, count: config.numBlocks * config.blockSize)
    }

    mutating func add(_ job: Job, arrival: UInt64) throws(SchedulerError) {
        try scheduler.add(
            SchedulerRequest(
                id: job.id, promptTokenIds: job.prompt, maxTokens: job.maxTokens, priority: job.priority,
                arrival: arrival))
        history[job.id] = job.prompt
    }

    mutating func step() {
        let decodingBefore = decoding
        let out = scheduler.schedule()
        steps += 1
        record(out.finished)
        checkStepShape(out, decodingBefore: decodingBefore)
        checkBlockSharing()
        for id in out.preempted { decoding.remove(id) }
        for seq in out.scheduled { write(seq) }
        var sampled: [RequestID: Int32] = [:]
        var finishing: [RequestID: FinishReason] = [:]
        for seq in out.scheduled where seq.sampleAfter {
            let token = StandInModel.next(readContext(seq))
            sampled[seq.requestId] = token
            history[seq.requestId]!.append(token)
            decoding.insert(seq.requestId)
            if token == stop { finishing[seq.requestId] = .stop }
        }
        record(scheduler.update(after: out, sampled: sampled, finishing: finishing))
        lastStepWasPrefillOnly = out.isPrefillStage
    }

    private mutating func record(_ finished: [FinishedRequest]) {
        for f in finished {
            #expect(results[f.id] == nil, "request \(f.id) finished twice")
            results[f.id] = f
            decoding.remove(f.id)
            #expect(scheduler.outputTokens(of: f.id) == nil)
        }
    }

    /// Budget, sequence cap, chunk contents and positions, and the split / decode-first rules.
    private mutating func checkStepShape(_ out: SchedulerOutput, decodingBefore: Set<RequestID>) {
        let counts = out.scheduled.map(\.tokenIds.count)
        #expect(counts.reduce(0, +) == out.numBatchedTokens)
        #expect(out.numBatchedTokens <= config.maxNumBatchedTokens)
        #expect(out.scheduled.count <= config.maxNumSeqs)
        #expect(scheduler.stats.numRunning <= config.maxNumSeqs)
        #expect(Set(out.scheduled.map(\.requestId)).count == out.scheduled.count)
        for seq in out.scheduled {
            if !firstScheduledOrder.contains(seq.requestId) { firstScheduledOrder.append(seq.requestId) }
            let known = history[seq.requestId]!
            #expect(!seq.tokenIds.isEmpty)
            #expect(Array(known[seq.startPosition..<seq.contextLength]) == seq.tokenIds)
            #expect(seq.sampleAfter == (seq.contextLength == known.count))
            #expect(seq.blockTable.count * config.blockSize >= seq.contextLength)
            #expect(seq.isPrefill == !decodingBefore.contains(seq.requestId))
        }
        let stillDecoding = decodingBefore.subtracting(out.preempted).subtracting(out.finished.map(\.id))
        let decodeIDs = Set(out.scheduled.filter { !$0.isPrefill }.map(\.requestId))
        switch config.policy {
        case .mixed:
            if stillDecoding.count <= config.maxNumBatchedTokens { #expect(decodeIDs == stillDecoding) }
        case .split:
            #expect(out.numPrefillTokens == 0 || out.numDecodeTokens == 0)
            if lastStepWasPrefillOnly && !stillDecoding.isEmpty { #expect(out.isDecodeStage) }
        }
    }

    /// A block is in two running requests' tables only if it is a cached full block whose reference count
    /// equals the number of tables holding it.
    private func checkBlockSharing() {
        var holders: [Int32: Int] = [:]
        for id in scheduler.runningRequestIDs {
            for b in scheduler.blockTable(of: id)! { holders[b, default: 0] += 1 }
        }
        let pool = scheduler.kvCache.pool
        for (block, n) in holders {
            #expect(pool.refCount(of: block) == n)
            if n > 1 { #expect(pool.cachedHash(of: block) != nil) }
        }
        #expect(pool.numFreeBlocks == config.numBlocks - holders.count)
    }

    /// Stores the chunk's tokens at their positions; only exclusively owned blocks may be written.
    private mutating func write(_ seq: ScheduledSequence) {
        let bs = config.blockSize
        for (i, token) in seq.tokenIds.enumerated() {
            let p = seq.startPosition + i
            let block = seq.blockTable[p / bs]
            #expect(scheduler.kvCache.pool.refCount(of: block) == 1, "writing into shared block \(block)")
            store[Int(block) * bs + p % bs] = token
        }
    }

    /// The whole context as the model would see it: read back through the block table.
    private func readContext(_ seq: ScheduledSequence) -> [Int32] {
        let bs = config.blockSize
        let context = (0..<seq.contextLength).map { p in store[Int(seq.blockTable[p / bs]) * bs + p % bs] }
        #expect(context == Array(history[seq.requestId]![..<seq.contextLength]), "KV content differs")
        return context
    }

    /// Every block free, nothing referenced.
    func expectAllBlocksFree() {
        let stats = scheduler.stats
        #expect(stats.numFreeBlocks == config.numBlocks)
        #expect(stats.kvUsage == 0)
        #expect(stats.numRunning == 0 && stats.numWaiting == 0)
        #expect(!scheduler.hasWork)
        let pool = scheduler.kvCache.pool
        #expect((0..<Int32(config.numBlocks)).allSatisfy { pool.refCount(of: $0) == 0 })
    }
}

/// Runs a scenario to completion and checks every request against its solo run.
func runScenario(_ jobs: [Job], config: SchedulerConfig, stop: Int32?, maxSteps: Int = 5_000) -> EngineSimulator {
    var sim = EngineSimulator(config: config, stop: stop)
    var arrival: UInt64 = 0
    var aborted: Set<RequestID> = []
    var stepIndex = 0
    let lastAdd = jobs.map(\.addStep).max() ?? 0
    while (stepIndex <= lastAdd || sim.scheduler.hasWork) && stepIndex < maxSteps {
        for job in jobs where job.addStep == stepIndex {
            do throws(SchedulerError) { try sim.add(job, arrival: arrival) } catch {
                Issue.record("rejected \(job): \(error)")
            }
            arrival += 1
        }
        for job in jobs where job.abortStep == stepIndex && sim.results[job.id] == nil && job.addStep <= stepIndex {
            sim.scheduler.abort(job.id)
            aborted.insert(job.id)
        }
        sim.step()
        stepIndex += 1
    }
    #expect(stepIndex < maxSteps, "no progress after \(maxSteps) steps")
    for job in jobs {
        let solo = StandInModel.solo(prompt: job.prompt, maxTokens: job.maxTokens, stop: stop)
        guard let result = sim.results[job.id] else {
            Issue.record("\(job) never finished")
            continue
        }
        if aborted.contains(job.id) {
            #expect(result.reason == .abort)
            #expect(solo.output.starts(with: result.outputTokenIds))
        } else {
            #expect(result.reason == solo.reason, "\(job)")
            #expect(result.outputTokenIds == solo.output, "\(job)")
        }
    }
    sim.expectAllBlocksFree()
    return sim
}
