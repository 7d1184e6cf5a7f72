public import Engine

/// Where wake-ups go. Routers listen to `.schedule` and their own `.outputs`; instances to their `.work`.
public enum QueueChannel: Hashable, Sendable {
    /// New queued work or freed capacity: time for a scheduling round.
    case schedule
    /// New assignments for this instance.
    case work(String)
    /// Token deltas for requests this router holds.
    case outputs(String)
}

public enum QueueSignal: Sendable, Equatable {
    case schedule
    case work
    case outputs([OutputEvent])
    /// The listener (re)connected: notifications may have been missed, re-read state.
    case resync
}

extension DistributedQueue {
    /// Whether the queue answers (in memory: always).
    public func ping() async throws {}

    /// Takes up to `limit` requests assigned to this instance and not started yet.
    public func claim(instance: String, limit: Int, timing: ClusterTiming) async throws -> [ClaimedRequest] {
        try await claim(instance: instance, limit: limit, holding: nil, timing: timing)
    }

    /// Queues a request for the next scheduling round.
    public func enqueue(_ request: QueuedRequest) async throws {
        _ = try await enqueue(request, directTo: nil, timing: ClusterTiming())
    }
}

/// The request queue shared by routers and instances (Llumnix / Baidu distributed-queue shape).
/// Requests move queued → assigned (router) → claimed (instance, `started`) → done | failed; a lease that is not
/// renewed puts an assigned request back to queued with the tokens delivered so far.
public protocol DistributedQueue: Sendable {
    // MARK: Router side
    /// Puts a request in the queue. With `directTo`, the same step assigns it to that instance when nothing of the
    /// same or a more urgent priority is queued, the instance is alive, not draining and has claimed everything
    /// assigned to it so far (the router picked it with its policy from the instances' last known load). This is
    /// the uncontended fast path: one round trip instead of enqueue + a scheduling round. Returns whether it
    /// assigned; otherwise the request waits for a scheduling round like any other.
    func enqueue(_ request: QueuedRequest, directTo instance: String?, timing: ClusterTiming) async throws -> Bool
    /// Ends a request from the router side (client gone, stop string matched locally) unless already ended.
    func finish(id: Int64, reason: EngineFinishReason) async throws
    func progress(ids: [Int64]) async throws -> [RequestProgress]
    /// One global scheduling round: reaps expired leases, then hands up to `limit` queued requests (priority
    /// order) with the current instances to `plan`, and records the assignments it returns.
    func scheduleRound(limit: Int, timing: ClusterTiming,
                       plan: ([PendingRequest], [InstanceRecord]) -> [Assignment]) async throws
        -> (assigned: [Assignment], reaped: [ReapedRequest])
    func status(timing: ClusterTiming) async throws -> ClusterStatus

    // MARK: Instance side
    /// Registers (or takes over a dead instance's name: its unfinished work goes back to the queue).
    func register(name: String, address: String, load: InstanceLoad, timing: ClusterTiming) async throws
    /// Publishes load, renews the instance's leases; returns whether an operator asked it to drain.
    func heartbeat(name: String, load: InstanceLoad, timing: ClusterTiming) async throws -> Bool
    /// Takes up to `limit` requests assigned to this instance. With `holding` (the requests it runs), also takes
    /// back those it started but does not hold (a claim whose answer was lost).
    func claim(instance: String, limit: Int, holding: Set<Int64>?, timing: ClusterTiming) async throws -> [ClaimedRequest]
    /// Appends tokens (exactly once, fenced by the lease); returns the ids whose delta was rejected.
    func append(instance: String, _ deltas: [TokenDelta]) async throws -> Set<Int64>
    /// Puts this instance's unfinished requests back in the queue (graceful stop), without counting an attempt.
    func release(instance: String) async throws
    func deregister(name: String) async throws

    // MARK: Operator
    /// Returns false when there is no such instance.
    func setDraining(name: String, _ draining: Bool) async throws -> Bool

    /// Deletes requests that ended more than `seconds` ago (routers call it now and then).
    func purge(olderThan seconds: Double) async throws

    /// Wake-ups for the given channels until the stream's consumer stops.
    func signals(_ channels: [QueueChannel]) -> AsyncStream<QueueSignal>

    /// Throws unless the queue answers now (one round trip, no retry).
    func ping() async throws
}
