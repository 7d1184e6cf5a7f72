public import Engine
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import Tokenizer

/// The router's face to the HTTP server: an `EngineClient` that tokenizes locally, puts requests in the
/// distributed queue and streams the tokens instances append back to the client. Detokenization and stop
/// strings run here, on the exact token stream the queue holds, so the text is right across instance failures.
/// As a `Service` it runs the global scheduler (one round per wake-up) and the token listener.
public final class RouterEngineClient: TokenizerBacked, Service {
    public let modelInfo: ModelInfo
    public let tokenizer: Tokenizer
    public let queue: any DistributedQueue
    /// This router's name: its notification channel and the requests' `origin`.
    public let name: String
    public let planner: GlobalPlanner
    public let timing: ClusterTiming
    public let chatTemplate: ChatTemplate?
    let logger: Logger
    let flights = Mutex<[Int64: Flight]>([:])
    let kicks: AsyncStream<Void>
    let kick: AsyncStream<Void>.Continuation
    let statusCache = Mutex<(at: ContinuousClock.Instant, status: ClusterStatus)?>(nil)
    /// Routing decisions made by this router, by instance (for /metrics and tests).
    let decisions = Mutex<[String: Int]>([:])
    /// The instances as the last scheduling round saw them, with this router's later placements counted in:
    /// what the direct-assignment fast path plans against.
    let knownInstances = Mutex<(at: ContinuousClock.Instant, pool: [InstanceRecord])?>(nil)
    /// Requests assigned at enqueue (fast path) and in scheduling rounds.
    let placements = Mutex<(direct: Int, rounds: Int)>((0, 0))
    /// When the router was made (`OutputProcessor.now()` clock): the origin of trace arrivals.
    let started = OutputProcessor.now()
    /// `--record-trace`: the file, and the finished requests on their way to the task that writes it.
    let traceFile: RequestTraceFile?
    let traceLines: (stream: AsyncStream<RequestTraceRecord>, continuation: AsyncStream<RequestTraceRecord>.Continuation)?

    public init(queue: any DistributedQueue, tokenizer: Tokenizer, modelInfo: ModelInfo, name: String,
                policy: RoutingPolicyKind, timing: ClusterTiming = ClusterTiming(), chatTemplate: String? = nil,
                recordTrace: String? = nil, logger: Logger = Logger(label: "swiftlet.router")) throws {
        guard validClusterName(name) else { throw ClusterError("router name '\(name)': use 1-40 lowercase letters, digits, '-' or '_'") }
        self.queue = queue; self.tokenizer = tokenizer; self.modelInfo = modelInfo; self.name = name
        self.planner = GlobalPlanner(policy: policy); self.timing = timing; self.logger = logger
        self.chatTemplate = try ChatTemplate.forModel(tokenizer, override: chatTemplate)
        (kicks, kick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        traceFile = try recordTrace.map { try RequestTraceFile(path: $0) }
        traceLines = traceFile == nil ? nil : AsyncStream<RequestTraceRecord>.makeStream(bufferingPolicy: .unbounded)
    }

    // MARK: EngineClient

    /// False while the queue has been unreachable past the outage limit (`RouterOutageWatch`): new requests and
    /// /health get 503 then.
    public var isReady: Bool { !outageTripped.withLock { $0 } }
    let outageTripped = Mutex(false)

    public var unavailableReason: String? {
        isReady ? nil : "The request queue (PostgreSQL) has been unreachable for longer than the router's outage limit; retry shortly."
    }

    public func generate(_ request: EngineRequest) throws(EngineError) -> AsyncStream<RequestOutput> {
        try request.validate(for: modelInfo)   // the instances' KV capacity is checked where they run
        let id = Int64.random(in: 1...Int64.max)
        let (stream, continuation) = AsyncStream<RequestOutput>.makeStream(bufferingPolicy: .unbounded)
        let q = QueuedRequest(id: id, origin: name, prompt: request.promptTokenIds, params: request.params,
                              priority: request.priority)
        let flight = Flight(output: OutputProcessor(tokenizer: tokenizer, params: request.params, prompt: request.promptTokenIds),
                            prefixHash: q.prefixHash, continuation: continuation)
        flights.withLock { $0[id] = flight }
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.clientGone(id) }
        }
        trace("R generate \(id)")
        Task { [weak self] in
            guard let self else { return }
            do {
                let target = self.directTarget(q)
                trace("R enqueue start")
                let direct = try await self.queue.enqueue(q, directTo: target?.instance, timing: self.timing)
                trace("R enqueue done \(direct)")
                if direct, let target {
                    self.routed([target], direct: true)
                } else {
                    if let target { self.planner.unplace(target) }
                    self.kick.yield()
                }
            } catch {
                self.logger.error("could not queue a request", metadata: ["request": "\(id)", "error": "\(error)"])
                self.end(id, error: "the request queue is unavailable: \(error)")
            }
        }
        return stream
    }

    /// The fast path's choice: the policy's pick among the instances the last round saw (at most a second ago),
    /// or nil (then the request waits for a scheduling round). The queue still refuses it when work is queued
    /// ahead of it or the instance has not claimed what it was given.
    func directTarget(_ q: QueuedRequest) -> Assignment? {
        let pending = PendingRequest(id: q.id, priority: q.priority, contextLength: q.prompt.count,
                                     prefixHash: q.prefixHash, attempts: 0)
        return knownInstances.withLock { known -> Assignment? in
            guard let at = known?.at, ContinuousClock.now - at < .seconds(1) else { return nil }
            return planner.place(pending, &known!.pool)
        }
    }

    /// Logs and counts routing decisions.
    func routed(_ assigned: [Assignment], direct: Bool) {
        guard !assigned.isEmpty else { return }
        for a in assigned {
            logger.debug("routed", metadata: ["request": "\(a.requestId)", "instance": "\(a.instance)",
                                              "policy": "\(planner.policy.rawValue)",
                                              "path": "\(direct ? "direct" : "round")", "reason": "\(a.reason)"])
        }
        decisions.withLock { d in for a in assigned { d[a.instance, default: 0] += 1 } }
        placements.withLock { p in if direct { p.direct += assigned.count } else { p.rounds += assigned.count } }
    }

    public func stats() async -> EngineStats {
        guard let s = await clusterStatus() else { return EngineStats() }
        var e = EngineStats()
        for i in s.instances where i.heartbeatAge < timing.leaseSeconds {
            e.numRunning += i.load.numRunning
            e.numWaiting += i.load.numWaiting
            e.numFreeBlocks += i.load.numFreeBlocks
            e.numTotalBlocks += i.load.numTotalBlocks
            e.blockSize = i.load.blockSize
        }
        e.numWaiting += s.queued
        e.kvUsage = e.numTotalBlocks == 0 ? 0 : 1 - Double(e.numFreeBlocks) / Double(e.numTotalBlocks)
        return e
    }

    /// The queue's status, cached for 200 ms (scrapes and `stats()` share it).
    public func clusterStatus() async -> ClusterStatus? {
        if let c = statusCache.withLock({ $0 }), ContinuousClock.now - c.at < .milliseconds(200) { return c.status }
        guard let s = try? await queue.status(timing: timing) else { return nil }
        statusCache.withLock { $0 = (ContinuousClock.now, s) }
        return s
    }

    /// Requests this router has routed to each instance since it started.
    public var routedCounts: [String: Int] { decisions.withLock { $0 } }

    /// Requests this router assigned at enqueue (the fast path) and in scheduling rounds.
    public var placementCounts: (direct: Int, rounds: Int) { placements.withLock { $0 } }

    /// Requests with an open client stream.
    public var inFlightCount: Int { flights.withLock { $0.count } }
}
