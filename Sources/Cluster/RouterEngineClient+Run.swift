import Engine
import Synchronization
import Foundation
import Logging
import ServiceLifecycle
import Tokenizer

/// One client stream the router relays: what it has delivered and the text state across instances.
struct Flight {
    let continuation: AsyncStream<RequestOutput>.Continuation
    /// The engine's output path, run on the exact token stream the queue holds (so the text is right across
    /// instance failures). Its `completionTokens` = the queue's token count this router has relayed.
    var output: OutputProcessor
    /// For the trace: the request's prefix hash.
    let prefixHash: Int64
    var lastProgress = ContinuousClock.now
    /// The prompt's logprobs went out (they travel once, with the first output that has them).
    var sentPromptLogprobs = false

    var params: SamplingParams { output.params }
    var promptCount: Int { output.promptTokenCount }
    /// Tokens delivered to the client.
    var delivered: Int { output.completionTokens }

    init(output: OutputProcessor, prefixHash: Int64, continuation: AsyncStream<RequestOutput>.Continuation) {
        self.output = output; self.prefixHash = prefixHash; self.continuation = continuation
    }

    /// The trace line of this request ending now.
    func traceRecord(_ finish: EngineFinishReason, origin: UInt64) -> RequestTraceRecord {
        RequestTraceRecord(arrival: OutputProcessor.seconds(output.arrival &- origin), promptTokens: promptCount,
                           outputTokens: delivered, prefixHash: prefixHash, finish: finish)
    }
}

extension RouterEngineClient {
    // MARK: Service

    /// Runs the token listener, the scheduling rounds and the progress sweep until graceful shutdown (and the
    /// trace writer, which writes what finished until then and stops after them).
    public func run() async throws {
        await withTaskGroup(of: Void.self) { outer in
            if let traceFile, let traceLines { outer.addTask { await traceFile.drain(traceLines.stream) } }
            await relayUntilShutdown()
            traceLines?.continuation.finish()
        }
    }

    private func relayUntilShutdown() async {
        let signals = queue.signals([.schedule, .outputs(name)])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await s in signals { await self.handle(s) } }
            group.addTask { await self.schedulerLoop() }
            group.addTask {
                var lastPurge = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.timing.sweep)
                    self.kick.yield()
                    await self.sweep()
                    if ContinuousClock.now - lastPurge > .seconds(30) {
                        lastPurge = .now
                        try? await self.queue.purge(olderThan: self.timing.retainFinished)
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    func handle(_ s: QueueSignal) async {
        switch s {
        case .schedule: trace("R sched signal"); kick.yield()
        case .work: break
        case .resync:
            trace("R resync")
            kick.yield()
            await refetch(flights.withLock { Array($0.keys) })
        case .outputs(let events):
            trace("R outputs \(events.map { "\($0.id % 1000):\($0.start)+\($0.tokens.count)\($0.refetch ? "*" : "")" })")
            var stale: [Int64] = []
            for e in events where !apply(e) { stale.append(e.id) }
            await refetch(stale)
        }
    }

    func schedulerLoop() async {
        for await _ in kicks {
            if Task.isCancelled { return }
            do {
                let limit = 256
                trace("R round start")
                let (assigned, _) = try await queue.scheduleRound(limit: limit, timing: timing) { pending, instances in
                    var pool = instances
                    let decided = planner.plan(pending, &pool)
                    knownInstances.withLock { $0 = (ContinuousClock.now, pool) }
                    return decided
                }
                trace("R round end \(assigned.count)")
                routed(assigned, direct: false)
                if assigned.count == limit { kick.yield() }
            } catch {
                if Task.isCancelled { return }
                logger.warning("scheduling round failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Re-reads requests that have not moved for a while (a notification may have been lost).
    func sweep() async {
        let now = ContinuousClock.now
        let stale = flights.withLock { f in f.filter { now - $0.value.lastProgress > .seconds(1) }.map(\.key) }
        await refetch(stale)
    }

    func refetch(_ ids: [Int64]) async {
        guard !ids.isEmpty else { return }
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            guard let rows = try? await queue.progress(ids: chunk) else { return }
            for p in rows { apply(p) }
            flights.withLock { f in for id in chunk { f[id]?.lastProgress = .now } }
        }
    }

    // MARK: Relaying

    /// Applies a notification; false when the router must read the row instead (gap or no inline data).
    @discardableResult
    func apply(_ e: OutputEvent) -> Bool {
        if e.refetch { return false }
        return relay(id: e.id, start: e.start, tokens: e.tokens, finish: e.finish, stopReason: nil, error: nil)
    }

    func apply(_ p: RequestProgress) {
        let finish: EngineFinishReason? = switch p.state {
        case .done: p.finish ?? .stop
        case .failed: .error
        case .queued, .assigned: nil
        }
        _ = relay(id: p.id, start: 0, tokens: p.tokens, finish: finish, stopReason: p.stopReason,
                  error: p.state == .failed ? (p.error ?? "the request failed") : nil,
                  logprobs: p.logprobs, promptLogprobs: p.promptLogprobs)
    }

    /// Delivers tokens[delivered - start ...] and, when the request ended, the final output. Returns false on a gap.
    /// `logprobs` (aligned with `tokens`) come only from a read of the row: deltas of requests that asked for them
    /// are never inlined in notifications, so tokens and their logprobs reach the client together.
    func relay(id: Int64, start: Int, tokens: [Int32], finish: EngineFinishReason?, stopReason: String?, error: String?,
               logprobs: [TokenLogprob] = [], promptLogprobs: [TokenLogprob]? = nil) -> Bool {
        var routerStop = false
        let ok: Bool = flights.withLock { all in
            guard var f = all[id] else { return true }
            guard start <= f.delivered else { return false }
            let skip = f.delivered - start
            let fresh = tokens.dropFirst(skip)
            f.lastProgress = .now
            let now = OutputProcessor.now()
            var out = f.output.output
            if f.params.promptLogprobs, !f.sentPromptLogprobs, let promptLogprobs {
                out.promptLogprobs = promptLogprobs
                f.sentPromptLogprobs = true
            }
            if !fresh.isEmpty, f.delivered == 0 { trace("R relay first") }
            let wantsLogprobs = f.params.logprobs != nil
            var ended: EngineFinishReason?
            if let stop = f.output.process(fresh, at: now, into: &out, logprob: { i in
                wantsLogprobs && skip + i < logprobs.count ? logprobs[skip + i] : nil
            }) {
                ended = stop.finishReason
                routerStop = stop == .stopString
            }
            if ended == nil, let finish, start + tokens.count <= f.delivered {
                ended = finish
                out.stopReason = error ?? stopReason
            }
            guard let reason = ended else {
                all[id] = f
                if !out.newTokenIds.isEmpty || !out.textDelta.isEmpty || out.promptLogprobs != nil { f.continuation.yield(out) }
                return true
            }
            all[id] = nil
            f.output.finish(&out, reason: reason, at: now)
            f.continuation.yield(out)
            f.continuation.finish()
            record(f.traceRecord(reason, origin: started))
            return true
        }
        if routerStop { Task { try? await queue.finish(id: id, reason: .stop) } }
        return ok
    }

    /// Ends a stream with an error (queue unavailable).
    func end(_ id: Int64, error: String) {
        guard let f = flights.withLock({ $0.removeValue(forKey: id) }) else { return }
        f.continuation.yield(RequestOutput(finishReason: .error, stopReason: error, promptTokenCount: f.promptCount,
                                           completionTokenCount: f.delivered))
        f.continuation.finish()
        record(f.traceRecord(.error, origin: started))
    }

    /// The client went away: drop the stream and end the request in the queue (its instance stops at its next append).
    func clientGone(_ id: Int64) {
        guard let f = flights.withLock({ $0.removeValue(forKey: id) }) else { return }
        record(f.traceRecord(.abort, origin: started))
        Task { try? await queue.finish(id: id, reason: .abort) }
    }

    /// Hands a finished request's line to the trace writer (when `--record-trace` is on).
    func record(_ r: RequestTraceRecord) {
        traceLines?.continuation.yield(r)
    }
}
