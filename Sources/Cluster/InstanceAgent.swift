public import CoreMetrics
public import Engine
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs next to an engine: registers the instance, heartbeats its load, claims the requests routers assigned to
/// it (while it has room), runs them and appends their tokens to the queue. Appends are batched: one statement per
/// flush carries every request's new tokens (group commit), and the next flush starts when the previous one ends.
public final class InstanceAgent: Service {
    public struct Config: Sendable {
        public var name: String
        /// Where its own HTTP server listens (shown by `cluster status`); empty = wait for `announce(address:)`.
        public var address: String = ""
        /// Most requests held at once (running + waiting in the engine).
        public var capacity: Int = 128
        public var timing = ClusterTiming()
        /// Exit `run()` once drained (an operator ran `swiftlet cluster drain`).
        public var exitWhenDrained = true
        /// Called once drained and idle (the command shuts its process down); without it `run()` returns.
        public var onDrained: (@Sendable () async -> Void)? = nil
        /// Where the agent's metrics go (the instance passes its server's registry, so `/metrics` shows them):
        /// `swiftlet:cluster_appends_total` (flushes that landed), `swiftlet:cluster_appended_tokens_total` (the
        /// tokens they carried: over the appends, the group commit's batch) and `swiftlet:cluster_append_seconds`
        /// (each append's round trip). Nil: the process-wide swift-metrics system (a no-op unless bootstrapped).
        public var metricsFactory: (any MetricsFactory)? = nil
        public init(name: String) { self.name = name }
    }

    /// The group commit as operators (and `scripts/validate-simulator.sh`, which calibrates the simulator's flush
    /// cost on it) see it.
    struct Metrics: Sendable {
        let appends: Counter
        let tokens: Counter
        let seconds: CoreMetrics.Timer
        init(factory: any MetricsFactory) {
            appends = Counter(label: "swiftlet:cluster_appends_total", factory: factory)
            tokens = Counter(label: "swiftlet:cluster_appended_tokens_total", factory: factory)
            seconds = CoreMetrics.Timer(label: "swiftlet:cluster_append_seconds", preferredDisplayUnit: .seconds, factory: factory)
        }
    }

    public let engine: any EngineClient
    public let queue: any DistributedQueue
    public let config: Config
    let logger: Logger
    let state = Mutex(State())
    let flushWake: AsyncStream<Void>
    let flushKick: AsyncStream<Void>.Continuation
    let claimWake: AsyncStream<Void>
    let claimKick: AsyncStream<Void>.Continuation
    let addresses: AsyncStream<String>
    let addressKick: AsyncStream<String>.Continuation
    let metrics: Metrics

    struct Active {
        let contextLength: Int
        /// Tokens the queue has confirmed; `buffered` holds the rest until an append confirms them.
        var flushed: Int
        /// An append carrying this request's tokens failed without an answer: it may have been stored anyway, so a
        /// refusal of the next one is checked against the row (`reconcile`) before the request is dropped.
        var uncertain = false
        var buffered: [Int32] = []
        var bufferedLogprobs: [TokenLogprob] = []
        var promptLogprobs: [TokenLogprob]?
        var finish: EngineFinishReason?
        var stopReason: String?
        var error: String?
        var produced = false
        var task: Task<Void, Never>?
    }

    struct State {
        var active: [Int64: Active] = [:]
        var draining = false
        var crashed = false
        var served = 0
    }

    public init(engine: any EngineClient, queue: any DistributedQueue, config: Config,
                logger: Logger = Logger(label: "swiftlet.instance")) {
        self.engine = engine; self.queue = queue; self.config = config; self.logger = logger
        metrics = Metrics(factory: config.metricsFactory ?? MetricsSystem.factory)
        (flushWake, flushKick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (claimWake, claimKick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (addresses, addressKick) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Tells the agent where its HTTP server listens (when `config.address` was left empty).
    public func announce(address: String) { addressKick.yield(address) }

    /// Requests this agent has finished (for tests and logs).
    public var servedCount: Int { state.withLock { $0.served } }
    public var activeCount: Int { state.withLock { $0.active.count } }

    // MARK: Service

    public func run() async throws {
        var address = config.address
        if address.isEmpty {
            for await a in addresses { address = a; break }
        }
        try await queue.register(name: config.name, address: address, load: await load(), timing: config.timing)
        logger.info("instance registered", metadata: ["name": "\(config.name)", "capacity": "\(config.capacity)"])
        let signals = queue.signals([.work(config.name)])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in signals { trace("I work signal"); self.claimKick.yield() } }
            group.addTask { await self.claimLoop() }
            group.addTask { await self.flushLoop() }
            group.addTask { await self.heartbeatLoop() }
            group.addTask { try? await gracefulShutdown() }
            await group.next()   // graceful shutdown, cancellation, or drained
            group.cancelAll()
        }
        // Clean up even when cancelled: a fresh task does not inherit the cancellation.
        await Task { await self.stopCleanly() }.value
    }

    /// Simulates a crash (kill -9): everything stops at once and nothing is cleaned up in the queue;
    /// the leases expire and the requests go to other instances.
    public func crash() {
        let tasks = state.withLock { s -> [Task<Void, Never>] in
            s.crashed = true
            defer { s.active.removeAll() }
            return s.active.values.compactMap(\.task)
        }
        for t in tasks { t.cancel() }
        flushKick.finish(); claimKick.finish()
    }

    var crashed: Bool { state.withLock { $0.crashed } }

    func stopCleanly() async {
        guard !crashed else { return }
        let tasks = state.withLock { s in s.active.values.compactMap(\.task) }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        // Tokens already produced reach the queue before the rest goes back (not forever if the queue is down).
        await flushOnce(giveUpAfter: max(5, config.timing.leaseSeconds * 2))
        do {
            try await queue.release(instance: config.name)
            try await queue.deregister(name: config.name)
        } catch {
            logger.warning("could not release work cleanly; leases will expire", metadata: ["error": "\(error)"])
        }
        logger.info("instance stopped", metadata: ["name": "\(config.name)", "served": "\(servedCount)"])
    }

    // MARK: Loops

    func heartbeatLoop() async {
        while !Task.isCancelled && !crashed {
            do {
                let draining = try await queue.heartbeat(name: config.name, load: await load(), timing: config.timing)
                let (idle, newly) = state.withLock { s in
                    defer { s.draining = draining }
                    return (s.active.isEmpty, draining && !s.draining)
                }
                if newly { logger.notice("draining: finishing current work, taking no more", metadata: ["name": "\(config.name)"]) }
                if draining && idle && config.exitWhenDrained {
                    logger.notice("drained: leaving the cluster", metadata: ["name": "\(config.name)"])
                    // With a hook the process shuts down (and graceful shutdown ends `run()`); without, `run()` ends now.
                    guard let done = config.onDrained else { return }
                    await done()
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: config.timing.heartbeat)
        }
    }

    func claimLoop() async {
        let ticker = Task { [claimKick, config] in
            while !Task.isCancelled {
                try? await Task.sleep(for: config.timing.sweep * 2)
                claimKick.yield()
            }
        }
        defer { ticker.cancel() }
        for await _ in claimWake {
            if Task.isCancelled || crashed { return }
            let (room, held) = state.withLock { s in (s.draining ? 0 : config.capacity - s.active.count, Set(s.active.keys)) }
            guard room > 0 else { continue }
            do {
                trace("I claim start")
                // `holding`: requests a claim took whose answer was lost (timed out) come back with the next one.
                let work = try await queue.claim(instance: config.name, limit: room, holding: held, timing: config.timing)
                trace("I claim done \(work.count)")
                for c in work { start(c) }
                if work.count == room { claimKick.yield() }
            } catch {
                if Task.isCancelled { return }
                logger.warning("claim failed", metadata: ["error": "\(error)"])
            }
        }
    }

    func flushLoop() async {
        for await _ in flushWake {
            if Task.isCancelled || crashed { return }
            await flushOnce()
        }
    }

    // MARK: Running requests

    func start(_ c: ClaimedRequest) {
        let request = c.engineRequest
        state.withLock { s in
            s.active[c.id] = Active(contextLength: request.promptTokenIds.count, flushed: c.delivered.count)
        }
        guard request.params.maxTokens >= 1 else {
            record(c.id, RequestOutput(finishReason: .length))
            return
        }
        let task = Task { [engine] in
            do {
                for await out in try engine.generate(request) { self.record(c.id, out) }
            } catch {
                self.record(c.id, RequestOutput(finishReason: .error, stopReason: String(describing: error)))
            }
        }
        state.withLock { s in s.active[c.id]?.task = task }
    }

    func record(_ id: Int64, _ out: RequestOutput) {
        let wake: Bool = state.withLock { s in
            guard var a = s.active[id], a.finish == nil else { return false }
            a.buffered += out.newTokenIds
            a.bufferedLogprobs += out.logprobs
            if let p = out.promptLogprobs { a.promptLogprobs = p }
            if !out.newTokenIds.isEmpty { if !a.produced { trace("I first token") }; a.produced = true }
            switch out.finishReason {
            case .abort?:
                return false   // we cancelled it, or the engine is stopping: the queue keeps it for someone else
            case .error?:
                a.finish = .error; a.error = out.stopReason ?? "the engine failed the request"
            case let r?:
                a.finish = r; a.stopReason = out.stopReason
            case nil: break
            }
            s.active[id] = a
            return true
        }
        if wake { flushKick.yield() }
    }

    /// Every request's unconfirmed delta: the tokens (and the end) the queue has not confirmed yet. They stay
    /// buffered until an append confirms them (`confirm`), so a failed append loses nothing: the next one carries
    /// them again, with whatever was generated meanwhile.
    func takeBatch() -> [TokenDelta] {
        state.withLock { s in
            var batch: [TokenDelta] = []
            for (id, a) in s.active where !a.buffered.isEmpty || a.finish != nil || a.promptLogprobs != nil {
                batch.append(TokenDelta(id: id, start: a.flushed, tokens: a.buffered, finish: a.finish,
                                        stopReason: a.stopReason, error: a.error, logprobs: a.bufferedLogprobs,
                                        promptLogprobs: a.promptLogprobs))
            }
            return batch
        }
    }

    /// The queue stored `batch` but for `refused`: what it now holds leaves the buffers; finished requests leave.
    func confirm(_ batch: [TokenDelta], refused: Set<Int64>) {
        state.withLock { s in
            for d in batch where !refused.contains(d.id) {
                guard var a = s.active[d.id], a.flushed == d.start else { continue }
                a.flushed += d.tokens.count
                a.buffered.removeFirst(min(d.tokens.count, a.buffered.count))
                a.bufferedLogprobs.removeFirst(min(d.logprobs.count, a.bufferedLogprobs.count))
                if d.promptLogprobs != nil { a.promptLogprobs = nil }
                a.uncertain = false
                if d.finish != nil { s.active[d.id] = nil; s.served += 1 } else { s.active[d.id] = a }
            }
        }
    }

    func markUncertain(_ batch: [TokenDelta]) {
        state.withLock { s in for d in batch { s.active[d.id]?.uncertain = true } }
    }

    /// Appends every unconfirmed delta. While the queue cannot be reached (PostgreSQL restarting, stopped, a network
    /// cut) it retries with backoff and the tokens stay buffered, the engine generating on meanwhile: memory grows
    /// by at most the tokens of the requests held (each bounded by its max_tokens). Gives up only after
    /// `giveUpAfter` seconds (when stopping), on cancellation without a limit, or when the agent crashed.
    func flushOnce(giveUpAfter limit: Double? = nil) async {
        let began = ContinuousClock.now
        var failures = 0
        while !crashed {
            let batch = takeBatch()
            guard !batch.isEmpty else { return }
            do {
                trace("I append start \(batch.count)")
                let sent = ContinuousClock.now
                var refused = try await queue.append(instance: config.name, batch)
                trace("I append done")
                let took = ContinuousClock.now - sent
                metrics.appends.increment()
                metrics.tokens.increment(by: batch.reduce(0) { $0 + $1.tokens.count })
                metrics.seconds.recordSeconds(Double(took.components.seconds) + Double(took.components.attoseconds) * 1e-18)
                if !refused.isEmpty {
                    let resolved = await reconcile(refused)
                    refused.subtract(resolved)
                }
                confirm(batch, refused: refused)
                if !refused.isEmpty { dropRejected(refused) }
                if failures > 0 {
                    logger.notice("appends succeed again", metadata: ["failed_attempts": "\(failures)",
                                                                      "after_seconds": "\(ContinuousClock.now - began)"])
                }
                if batch.contains(where: { $0.finish != nil }) { claimKick.yield() }
                return
            } catch {
                markUncertain(batch)
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("append failed; keeping the tokens and retrying",
                                   metadata: ["error": "\(error)", "attempt": "\(failures)", "requests": "\(batch.count)"])
                }
                if let limit, ContinuousClock.now - began > .milliseconds(Int(limit * 1000)) {
                    logger.error("appends keep failing; giving these requests up to the lease reaper",
                                 metadata: ["requests": "\(batch.map(\.id))"])
                    return
                }
                if limit == nil && Task.isCancelled { return }
                try? await Task.sleep(for: .milliseconds(min(500, 25 * failures * failures)))
            }
        }
    }

    /// Of the refused requests, those whose earlier append failed without an answer may have been stored after
    /// all (the answer was lost, not the append): when the row is still ours and holds our earlier tokens, the
    /// buffers skip what it holds and the request goes on (or counts as served when that append ended it).
    /// Returns the requests so resolved; the others stay refused. When the rows cannot be read, all of them count
    /// as resolved for now: still unconfirmed and uncertain, the next flush tries again.
    func reconcile(_ refused: Set<Int64>) async -> Set<Int64> {
        let uncertain = state.withLock { s in refused.filter { s.active[$0]?.uncertain == true } }
        guard !uncertain.isEmpty else { return [] }
        guard let rows = try? await queue.progress(ids: Array(uncertain)) else { return uncertain }
        let name = config.name
        return state.withLock { s in
            var resolved = Set<Int64>()
            for p in rows {
                guard var a = s.active[p.id] else { continue }
                let stored = p.tokens.count, held = a.flushed + a.buffered.count
                guard p.instance == name || p.state == .done, stored >= a.flushed, stored <= held else { continue }
                let landed = stored - a.flushed
                a.flushed = stored
                a.buffered.removeFirst(landed)
                a.bufferedLogprobs.removeFirst(min(landed, a.bufferedLogprobs.count))
                a.uncertain = false
                if p.state == .done && a.finish != nil && stored == held {
                    s.active[p.id] = nil; s.served += 1   // our final append had landed
                } else if p.state == .assigned && p.instance == name {
                    s.active[p.id] = a
                } else {
                    continue   // ended by someone else (router, reaper): refused after all
                }
                resolved.insert(p.id)
            }
            return resolved   // rows gone (purged) or not ours: refused
        }
    }

    /// The queue refused these appends: the router ended the request (client gone, stop string) or our lease was
    /// lost. Stop generating for them.
    func dropRejected(_ ids: Set<Int64>) {
        let tasks = state.withLock { s in ids.compactMap { s.active.removeValue(forKey: $0)?.task } }
        for t in tasks { t.cancel() }
        logger.debug("appends rejected; aborted", metadata: ["requests": "\(ids.sorted())"])
    }

    /// The load published with each heartbeat.
    func load() async -> InstanceLoad {
        let s = await engine.stats()
        var l = InstanceLoad()
        l.numRunning = s.numRunning; l.numWaiting = s.numWaiting
        l.numFreeBlocks = s.numFreeBlocks; l.numTotalBlocks = s.numTotalBlocks; l.blockSize = s.blockSize
        let bs = max(1, s.blockSize)
        state.withLock { st in
            l.active = st.active.count
            l.waitingBlocksNeeded = st.active.values.filter { !$0.produced }.reduce(0) { $0 + ($1.contextLength + bs) / bs }
        }
        l.capacity = state.withLock { $0.draining } ? 0 : config.capacity
        l.maxModelLen = engine.modelInfo.maxModelLen
        l.model = engine.modelInfo.name
        return l
    }
}
