import KVBlocks
import HeapModule

/// The step being planned by `schedule()`.
struct StepPlan {
    var budget: Int
    var scheduled: [ScheduledSequence] = []
    var preempted: [RequestID] = []
    var numPrefillTokens = 0
    var numDecodeTokens = 0

    mutating func add(_ seq: ScheduledSequence) {
        budget -= seq.tokenIds.count
        if seq.isPrefill { numPrefillTokens += seq.tokenIds.count } else { numDecodeTokens += seq.tokenIds.count }
        scheduled.append(seq)
    }

    /// Takes back a sequence planned earlier in this step (its request was preempted).
    mutating func unschedule(_ id: RequestID) {
        guard let i = scheduled.firstIndex(where: { $0.requestId == id }) else { return }
        let seq = scheduled.remove(at: i)
        budget += seq.tokenIds.count
        if seq.isPrefill { numPrefillTokens -= seq.tokenIds.count } else { numDecodeTokens -= seq.tokenIds.count }
    }
}

extension Scheduler {
    /// Plans the next model step. Call `update(after:sampled:finishing:)` with the result before the next
    /// `schedule()` (required when the output schedules anything).
    public mutating func schedule() -> SchedulerOutput {
        precondition(!awaitingUpdate, "schedule() called again before update(after:) of step \(stepNumber)")
        let aborted = applyPendingAborts()
        var plan = StepPlan(budget: config.maxNumBatchedTokens)
        switch config.policy {
        case .mixed: planMixed(&plan)
        case .split: planSplit(&plan)
        }
        stepNumber += 1
        awaitingUpdate = !plan.scheduled.isEmpty
        return SchedulerOutput(
            step: stepNumber, scheduled: plan.scheduled, preempted: plan.preempted, finished: aborted,
            numBatchedTokens: plan.numPrefillTokens + plan.numDecodeTokens,
            numPrefillTokens: plan.numPrefillTokens, numDecodeTokens: plan.numDecodeTokens)
    }

    private mutating func applyPendingAborts() -> [FinishedRequest] {
        guard !pendingAborts.isEmpty else { return [] }
        var finished: [FinishedRequest] = []
        for id in pendingAborts {
            guard let slot = slotOf[id] else { continue }  // unknown, finished, or a repeated abort
            finished.append(remove(slot: slot, reason: .abort))
        }
        pendingAborts.removeAll()
        return finished
    }

    /// Decodes first, then running prefills, then admissions (none in a step that had to preempt).
    private mutating func planMixed(_ plan: inout StepPlan) {
        planRunning(&plan, decoding: true)
        planRunning(&plan, decoding: false)
        if plan.preempted.isEmpty { planWaiting(&plan) }
    }

    /// Pure prefill or pure decode steps; see `SchedulePolicy.split` for the alternation rule.
    private mutating func planSplit(_ plan: inout StepPlan) {
        let someoneDecoding = running.contains { slots[$0]!.isDecoding }
        if !(lastStepRanPrefill && someoneDecoding) {
            planRunning(&plan, decoding: false)
            if plan.preempted.isEmpty { planWaiting(&plan) }
        }
        lastStepRanPrefill = !plan.scheduled.isEmpty
        if plan.scheduled.isEmpty { planRunning(&plan, decoding: true) }
    }

    /// Schedules the running requests that are decoding (1 token each) or prefilling (a chunk each), in
    /// (priority, arrival) order, preempting from the back of `running` when blocks run out.
    private mutating func planRunning(_ plan: inout StepPlan, decoding: Bool) {
        var i = 0
        while i < running.count, plan.budget > 0 {
            let slot = running[i]
            let state = slots[slot]!
            i += 1
            guard state.isDecoding == decoding else { continue }
            let count = min(state.numRemaining, plan.budget)
            guard reserveBlocks(slot: slot, numTokens: state.numComputed + count, &plan) else { return }
            plan.add(sequence(slot: slot, count: count))
        }
    }

    /// Allocates blocks for a running request, preempting the lowest-priority running requests (possibly
    /// itself) until it fits. Returns false when the request preempted itself.
    private mutating func reserveBlocks(slot: Int, numTokens: Int, _ plan: inout StepPlan) -> Bool {
        let id = slots[slot]!.id
        while !kv.allocateSlots(for: id, numTokens: numTokens) {
            let victim = running.last!
            preempt(victim, &plan)
            if victim == slot { return false }
        }
        return true
    }

    /// Recompute-style preemption: free the blocks, keep the tokens, requeue by (priority, arrival).
    private mutating func preempt(_ slot: Int, _ plan: inout StepPlan) {
        let id = slots[slot]!.id
        kv.free(id)
        plan.unschedule(id)
        running.removeLast()  // the victim is always the last running request
        slots[slot]!.numComputed = 0
        slots[slot]!.isDecoding = false
        slots[slot]!.status = .waiting
        waiting.insert(WaitingEntry(key: slots[slot]!.key, slot: slot))
        plan.preempted.append(id)
        numPreemptions += 1
    }

    /// Admits waiting requests in (priority, arrival) order while budget, sequence cap and free blocks
    /// allow; reuses cached prefix blocks; the first request that does not fit stops admission.
    private mutating func planWaiting(_ plan: inout StepPlan) {
        while plan.budget > 0, running.count < config.maxNumSeqs, let head = waiting.min {
            let state = slots[head.slot]!
            let prefix = state.skipPrefixCache ? .none(blockSize: kv.blockSize) : kv.computedPrefix(for: state.tokens)
            let count = min(state.tokens.count - prefix.numTokens, plan.budget)
            guard kv.allocateSlots(for: state.id, numTokens: prefix.numTokens + count, prefix: prefix) else { return }
            _ = waiting.removeMin()
            slots[head.slot]!.numComputed = prefix.numTokens
            slots[head.slot]!.status = .running
            insertRunning(head.slot)
            plan.add(sequence(slot: head.slot, count: count))
        }
    }

    private func sequence(slot: Int, count: Int) -> ScheduledSequence {
        let state = slots[slot]!
        let start = state.numComputed
        return ScheduledSequence(
            requestId: state.id, tokenIds: Array(state.tokens[start..<start + count]), startPosition: start,
            blockTable: kv.blockTable(for: state.id), sampleAfter: start + count == state.tokens.count,
            isPrefill: !state.isDecoding)
    }
}
