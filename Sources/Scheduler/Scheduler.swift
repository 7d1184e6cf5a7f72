public import KVBlocks
import HeapModule

/// Continuous-batching scheduler (vLLM v1 shape): each `schedule()` picks which tokens of which requests
/// run in the next model step under a token budget and a sequence cap, allocating KV blocks (with automatic
/// prefix caching) and preempting by recomputation when blocks run out; `update(after:…)` applies the step's
/// sampled tokens and finishes. Pure and deterministic: no clocks, no threads, no floats of the model.
///
/// Priorities: lower number first, FCFS (arrival) within a priority, both for admission and for keeping
/// blocks (the victim of a preemption is the running request with the greatest (priority, arrival)).
/// A new arrival never preempts running work by itself: admission only uses free blocks, and preemption
/// happens only when an already running request needs a block. A waiting request that does not fit
/// blocks the requests behind it (strict order, no starvation of long prompts).
public struct Scheduler: Sendable {
    public let config: SchedulerConfig
    var kv: KVCacheManager
    /// Live requests by slot; `slotOf` maps ids to slots, `freeSlots` recycles them.
    var slots: [RequestState?] = []
    var freeSlots: [Int] = []
    var slotOf: [RequestID: Int] = [:]
    /// Running requests' slots, sorted by QueueKey (so the preemption victim is the last one).
    var running: [Int] = []
    var waiting = Heap<WaitingEntry>()
    var pendingAborts: [RequestID] = []
    var numPreemptions = 0
    var stepNumber: UInt64 = 0
    var awaitingUpdate = false
    var lastStepRanPrefill = false

    public init(config: SchedulerConfig) {
        precondition(config.maxNumBatchedTokens > 0, "maxNumBatchedTokens must be positive")
        precondition(config.maxNumSeqs > 0, "maxNumSeqs must be positive")
        self.config = config
        kv = KVCacheManager(
            numBlocks: config.numBlocks, blockSize: config.blockSize,
            enablePrefixCaching: config.enablePrefixCaching)
    }

    // MARK: - Requests in and out

    /// Queues a request. Rejects what could never run: empty prompt, `maxTokens < 1`, prompt + maxTokens
    /// over `maxModelLen`, or more blocks for prompt + maxTokens than the whole pool.
    public mutating func add(_ r: SchedulerRequest) throws(SchedulerError) {
        try validate(r)
        let state = RequestState(r)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = state
        } else {
            slot = slots.count
            slots.append(state)
        }
        slotOf[r.id] = slot
        waiting.insert(WaitingEntry(key: state.key, slot: slot))
    }

    private func validate(_ r: SchedulerRequest) throws(SchedulerError) {
        guard slotOf[r.id] == nil else { throw .duplicateID(id: r.id) }
        guard !r.promptTokenIds.isEmpty else { throw .emptyPrompt(id: r.id) }
        guard r.maxTokens >= 1 else { throw .invalidMaxTokens(id: r.id, maxTokens: r.maxTokens) }
        let total = r.promptTokenIds.count + r.maxTokens
        guard total <= config.maxModelLen else {
            throw .exceedsMaxModelLen(
                id: r.id, promptTokens: r.promptTokenIds.count, maxTokens: r.maxTokens,
                maxModelLen: config.maxModelLen)
        }
        let needed = kv.blocksNeeded(forTokens: total)
        guard needed <= config.numBlocks else {
            throw .exceedsKVCapacity(
                id: r.id, tokens: total, blocksNeeded: needed, numBlocks: config.numBlocks,
                blockSize: config.blockSize)
        }
    }

    /// Marks a request for abortion. It is removed (blocks freed) at the start of the next `schedule()`,
    /// whose output lists it in `finished` with `.abort`. Unknown or already finished ids are ignored.
    public mutating func abort(_ id: RequestID) {
        pendingAborts.append(id)
    }

    // MARK: - Inspection

    public var stats: SchedulerStats {
        SchedulerStats(
            numRunning: running.count, numWaiting: waiting.count, kvUsage: kv.usage,
            prefixCacheQueries: kv.prefixCacheQueries, prefixCacheHits: kv.prefixCacheHits,
            numPreemptions: numPreemptions, numFreeBlocks: kv.numFreeBlocks, numTotalBlocks: kv.numTotalBlocks)
    }

    /// Tokens generated so far for a live (waiting or running) request; nil once it finished.
    public func outputTokens(of id: RequestID) -> [Int32]? {
        slotOf[id].map { slots[$0]!.outputTokens }
    }

    /// The live request's current block table (empty while waiting).
    public func blockTable(of id: RequestID) -> [Int32]? {
        slotOf[id] == nil ? nil : kv.blockTable(for: id)
    }

    /// Running requests in (priority, arrival) order.
    public var runningRequestIDs: [RequestID] { running.map { slots[$0]!.id } }

    /// The block manager, read-only (ref counts, cached blocks, free queue).
    public var kvCache: KVCacheManager { kv }

    /// True while some request is waiting or running, or an abort is still to be applied.
    public var hasWork: Bool { !running.isEmpty || !waiting.isEmpty || !pendingAborts.isEmpty }

    // MARK: - Removal helpers

    /// Frees the request's blocks and forgets it.
    mutating func remove(slot: Int, reason: FinishReason) -> FinishedRequest {
        let state = slots[slot]!
        kv.free(state.id)
        switch state.status {
        case .running: running.removeAll { $0 == slot }
        case .waiting: waiting = Heap(waiting.unordered.filter { $0.slot != slot })
        }
        slots[slot] = nil
        freeSlots.append(slot)
        slotOf[state.id] = nil
        return FinishedRequest(id: state.id, reason: reason, outputTokenIds: state.outputTokens)
    }

    /// Inserts `slot` into `running`, keeping it sorted by key.
    mutating func insertRunning(_ slot: Int) {
        let key = slots[slot]!.key
        var lo = 0, hi = running.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if slots[running[mid]]!.key < key { lo = mid + 1 } else { hi = mid }
        }
        running.insert(slot, at: lo)
    }
}
