import KVBlocks

extension Scheduler {
    /// Applies the step planned by `out` after the model ran it.
    /// - `sampled`: the token sampled for each scheduled sequence whose `sampleAfter` is true.
    /// - `finishing`: requests the engine ends now (stop token, stop string, abort, error); the sampled
    ///   token of this step, if any, is still appended to the output first. May name requests that were
    ///   not scheduled in this step.
    ///
    /// Advances computed counts, registers newly full blocks in the prefix cache, appends sampled tokens,
    /// and finishes (freeing blocks) the requests in `finishing`, those reaching `maxTokens` (`.length`),
    /// and those that should have sampled but got no token (`.error`).
    /// Returns every request finished here, in schedule order then id order.
    @discardableResult
    public mutating func update(
        after out: SchedulerOutput, sampled: [RequestID: Int32], finishing: [RequestID: FinishReason] = [:]
    ) -> [FinishedRequest] {
        precondition(out.step == stepNumber, "update(after:) got step \(out.step), the latest is \(stepNumber)")
        awaitingUpdate = false
        var finished: [FinishedRequest] = []
        var handled = 0
        for seq in out.scheduled {
            guard let slot = slotOf[seq.requestId] else { continue }
            if finishing[seq.requestId] != nil { handled += 1 }
            if let reason = advance(slot: slot, seq, sampled: sampled, finishing: finishing) {
                finished.append(remove(slot: slot, reason: reason))
            }
        }
        if finishing.count > handled {
            for id in finishing.keys.sorted() {
                guard let slot = slotOf[id] else { continue }
                finished.append(remove(slot: slot, reason: finishing[id]!))
            }
        }
        return finished
    }

    /// One scheduled sequence's bookkeeping; returns the finish reason if it ends now.
    private mutating func advance(
        slot: Int, _ seq: ScheduledSequence, sampled: [RequestID: Int32], finishing: [RequestID: FinishReason]
    ) -> FinishReason? {
        precondition(slots[slot]!.numComputed == seq.startPosition, "step \(stepNumber) applied twice")
        slots[slot]!.numComputed += seq.tokenIds.count
        kv.cacheFullBlocks(for: seq.requestId, tokens: slots[slot]!.tokens, numComputed: slots[slot]!.numComputed)
        let engineReason = finishing[seq.requestId]
        guard seq.sampleAfter else { return engineReason }
        slots[slot]!.isDecoding = true
        guard let token = sampled[seq.requestId] else { return engineReason ?? .error }
        slots[slot]!.tokens.append(token)
        if let engineReason { return engineReason }
        return slots[slot]!.numOutput >= slots[slot]!.maxTokens ? .length : nil
    }
}
