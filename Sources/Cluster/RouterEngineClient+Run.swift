import Engine
import Synchronization
import Foundation
import Logging
import ServiceLifecycle
import Tokenizer

/// One client stream the router relays: what it has delivered and the text state across instances.
struct Flight {
    let params: SamplingParams
    let promptCount: Int
    let continuation: AsyncStream<RequestOutput>.Continuation
    var detok: IncrementalDetokenizer
    var stops: StopStringMatcher
    /// Tokens delivered to the client = the queue's token count this router has relayed.
    var delivered = 0
    let arrival = ContinuousClock.now
    var lastToken: ContinuousClock.Instant?
    var lastProgress = ContinuousClock.now
    var timings = RequestTimings()
    /// The prompt's logprobs went out (they travel once, with the first output that has them).
    var sentPromptLogprobs = false

    init(params: SamplingParams, promptCount: Int, continuation: AsyncStream<RequestOutput>.Continuation,
         detok: IncrementalDetokenizer) {
        self.params = params; self.promptCount = promptCount; self.continuation = continuation
        self.detok = detok; stops = StopStringMatcher(stops: params.stop)
    }
}

extension RouterEngineClient {
    // MARK: Service

    /// Runs the token listener, the scheduling rounds and the progress sweep until graceful shutdown.
    public func run() async throws {
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
        var routerStop: String?
        let ok: Bool = flights.withLock { all in
            guard var f = all[id] else { return true }
            guard start <= f.delivered else { return false }
            let fresh = tokens.dropFirst(f.delivered - start)
            let now = ContinuousClock.now
            f.lastProgress = now
            var out = RequestOutput(promptTokenCount: f.promptCount)
            if f.params.promptLogprobs, !f.sentPromptLogprobs, let promptLogprobs {
                out.promptLogprobs = promptLogprobs
                f.sentPromptLogprobs = true
            }
            var ended: (EngineFinishReason, String?)?
            for t in fresh {
                let index = f.delivered - start
                f.delivered += 1
                out.newTokenIds.append(t)
                if f.params.logprobs != nil, index < logprobs.count { out.logprobs.append(logprobs[index]) }
                if isStopToken(t, f.params) { ended = (.stop, tokenizer.tokenText(t)); break }
                switch f.stops.push(f.detok.push(t)) {
                case .emit(let text): out.textDelta += text
                case .stopped(let before, let stop):
                    out.textDelta += before
                    ended = (.stop, stop); routerStop = stop
                }
                if ended != nil { break }
                if f.delivered >= f.params.maxTokens { ended = (.length, nil); break }
            }
            if !fresh.isEmpty { if f.lastToken == nil { trace("R relay first") }; stamp(&f, now) }
            if ended == nil, let finish, start + tokens.count <= f.delivered {
                ended = (finish, error ?? stopReason)
            }
            out.completionTokenCount = f.delivered
            guard let (reason, why) = ended else {
                all[id] = f
                if !out.newTokenIds.isEmpty || !out.textDelta.isEmpty || out.promptLogprobs != nil { f.continuation.yield(out) }
                return true
            }
            all[id] = nil
            if routerStop == nil && reason != .error { out.textDelta += f.stops.flush() + f.detok.finish() }
            out.finishReason = reason
            out.stopReason = why
            f.timings.e2eLatency = seconds(now - f.arrival)
            out.timings = f.timings
            f.continuation.yield(out)
            f.continuation.finish()
            return true
        }
        if routerStop != nil { Task { try? await queue.finish(id: id, reason: .stop) } }
        return ok
    }

    private func stamp(_ f: inout Flight, _ now: ContinuousClock.Instant) {
        if let last = f.lastToken {
            f.timings.interTokenGaps.append(seconds(now - last))
        } else {
            f.timings.timeToFirstToken = seconds(now - f.arrival)
            f.timings.queueTime = f.timings.timeToFirstToken ?? 0
        }
        f.lastToken = now
    }

    func isStopToken(_ t: Int32, _ p: SamplingParams) -> Bool {
        (!p.ignoreEOS && tokenizer.stopIds.contains(t)) || p.stopTokenIds.contains(t)
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Ends a stream with an error (queue unavailable).
    func end(_ id: Int64, error: String) {
        guard let f = flights.withLock({ $0.removeValue(forKey: id) }) else { return }
        f.continuation.yield(RequestOutput(finishReason: .error, stopReason: error, promptTokenCount: f.promptCount,
                                           completionTokenCount: f.delivered))
        f.continuation.finish()
    }

    /// The client went away: drop the stream and end the request in the queue (its instance stops at its next append).
    func clientGone(_ id: Int64) {
        guard flights.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
        Task { try? await queue.finish(id: id, reason: .abort) }
    }
}
