public import Engine
import Foundation
import Synchronization

/// The in-process queue: the same contract as `PostgresQueue` without a database (single-process deployments,
/// tests of the routing logic). Nothing survives the process.
public final class MemoryQueue: DistributedQueue {
    struct Row {
        var request: QueuedRequest
        var arrival: Int
        var state: RequestState = .queued
        var instance: String?
        var started = false
        var claimedAt = 0
        var lease: ContinuousClock.Instant?
        var attempts = 0
        var tokens: [Int32] = []
        var logprobs: [TokenLogprob] = []
        var promptLogprobs: [TokenLogprob]?
        var finish: EngineFinishReason?
        var stopReason: String?
        var error: String?
        var updated = ContinuousClock.now
    }

    struct Inst {
        var address: String
        var load: InstanceLoad
        var heartbeat: ContinuousClock.Instant
        var reportedAt = 0
        var draining = false
    }

    struct Tables {
        var rows: [Int64: Row] = [:]
        var instances: [String: Inst] = [:]
        var clock = 0
        var listeners: [QueueChannel: [UUID: AsyncStream<QueueSignal>.Continuation]] = [:]
    }

    let tables = Mutex(Tables())

    public init() {}

    func post(_ s: inout Tables, _ channel: QueueChannel, _ signal: QueueSignal) {
        for c in s.listeners[channel, default: [:]].values { c.yield(signal) }
    }

    // MARK: Router side

    public func enqueue(_ r: QueuedRequest, directTo instance: String?, timing: ClusterTiming) async throws -> Bool {
        tables.withLock { s in
            s.clock += 1
            var row = Row(request: r, arrival: s.clock)
            let now = ContinuousClock.now
            if let name = instance, let inst = s.instances[name], !inst.draining,
               now - inst.heartbeat < .milliseconds(Int(timing.leaseSeconds * 1000)),
               !s.rows.values.contains(where: { ($0.state == .queued && $0.request.priority <= r.priority)
                                                || ($0.state == .assigned && $0.instance == name && !$0.started) }) {
                row.state = .assigned; row.instance = name; row.attempts = 1
                row.lease = now + .milliseconds(Int(timing.leaseSeconds * 1000))
                s.rows[r.id] = row
                post(&s, .work(name), .work)
                return true
            }
            s.rows[r.id] = row
            post(&s, .schedule, .schedule)
            return false
        }
    }

    public func finish(id: Int64, reason: EngineFinishReason) async throws {
        tables.withLock { s in
            guard var r = s.rows[id], r.state == .queued || r.state == .assigned else { return }
            r.state = .done; r.finish = reason; r.updated = .now
            s.rows[id] = r
        }
    }

    public func progress(ids: [Int64]) async throws -> [RequestProgress] {
        tables.withLock { s in
            ids.compactMap { id in
                s.rows[id].map { RequestProgress(id: id, state: $0.state, tokens: $0.tokens, finish: $0.finish,
                                                 stopReason: $0.stopReason, error: $0.error, instance: $0.instance,
                                                 attempts: $0.attempts, logprobs: $0.logprobs,
                                                 promptLogprobs: $0.promptLogprobs) }
            }
        }
    }

    public func scheduleRound(limit: Int, timing: ClusterTiming,
                              plan: ([PendingRequest], [InstanceRecord]) -> [Assignment]) async throws
        -> (assigned: [Assignment], reaped: [ReapedRequest]) {
        try tables.withLock { s throws -> ([Assignment], [ReapedRequest]) in
            let reaped = reap(&s, timing: timing)
            let instances = records(s, aliveOnly: true, timing: timing)
            let pending = s.rows.values.filter { $0.state == .queued }
                .sorted { ($0.request.priority, $0.arrival) < ($1.request.priority, $1.arrival) }
                .prefix(limit)
                .map { PendingRequest(id: $0.request.id, priority: $0.request.priority,
                                      contextLength: $0.request.prompt.count + $0.tokens.count,
                                      prefixHash: $0.request.prefixHash, attempts: $0.attempts) }
            // The plan runs even with nothing pending: routers keep the instances it sees for direct assignment.
            let decided = plan(Array(pending), instances)
            for a in decided {
                guard var r = s.rows[a.requestId], r.state == .queued else { continue }
                r.state = .assigned; r.instance = a.instance; r.started = false; r.attempts += 1
                r.lease = .now + .milliseconds(Int(timing.leaseSeconds * 1000))
                s.rows[a.requestId] = r
            }
            for name in Set(decided.map(\.instance)) { post(&s, .work(name), .work) }
            return (decided, reaped)
        }
    }

    func reap(_ s: inout Tables, timing: ClusterTiming) -> [ReapedRequest] {
        var out: [ReapedRequest] = []
        let now = ContinuousClock.now
        for (id, var r) in s.rows where r.state == .assigned && (r.lease ?? now) < now {
            let failed = r.attempts >= timing.maxAttempts
            out.append(ReapedRequest(id: id, origin: r.request.origin, failed: failed, instance: r.instance ?? ""))
            if failed {
                r.state = .failed; r.finish = .error
                r.error = "the request failed \(r.attempts) times (its instance, last \(r.instance ?? "?"), stopped heartbeating); giving up"
            } else {
                r.state = .queued
            }
            r.instance = nil; r.started = false; r.lease = nil
            s.rows[id] = r
            if failed { post(&s, .outputs(r.request.origin), .outputs([OutputEvent(id: id, start: r.tokens.count, tokens: [], finish: .error, refetch: true)])) }
        }
        return out
    }

    func records(_ s: Tables, aliveOnly: Bool, timing: ClusterTiming) -> [InstanceRecord] {
        let now = ContinuousClock.now
        return s.instances.sorted { $0.key < $1.key }.compactMap { name, i in
            let age = Double((now - i.heartbeat).components.seconds) + Double((now - i.heartbeat).components.attoseconds) / 1e18
            if aliveOnly && age >= timing.leaseSeconds { return nil }
            let mine = s.rows.values.filter { $0.state == .assigned && $0.instance == name }
            let pending = mine.filter { !$0.started || $0.claimedAt > i.reportedAt }
            let bs = max(1, i.load.blockSize)
            return InstanceRecord(name: name, address: i.address, load: i.load, heartbeatAge: age, draining: i.draining,
                                  pendingRequests: pending.count,
                                  pendingBlocks: pending.reduce(0) { $0 + ($1.request.prompt.count + $1.tokens.count + bs) / bs },
                                  assigned: mine.count)
        }
    }

    public func status(timing: ClusterTiming) async throws -> ClusterStatus {
        tables.withLock { s in
            var byPriority: [Int: Int] = [:]
            var counts: [RequestState: Int] = [:]
            for r in s.rows.values {
                counts[r.state, default: 0] += 1
                if r.state == .queued { byPriority[r.request.priority, default: 0] += 1 }
            }
            return ClusterStatus(instances: records(s, aliveOnly: false, timing: timing),
                                 queuedByPriority: byPriority.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                 assigned: counts[.assigned] ?? 0, done: counts[.done] ?? 0, failed: counts[.failed] ?? 0)
        }
    }

    // MARK: Instance side

    public func register(name: String, address: String, load: InstanceLoad, timing: ClusterTiming) async throws {
        guard validClusterName(name) else { throw ClusterError("instance name '\(name)': use 1-40 lowercase letters, digits, '-' or '_'") }
        try tables.withLock { s throws in
            if let old = s.instances[name], ContinuousClock.now - old.heartbeat < .milliseconds(Int(timing.leaseSeconds * 1000)) {
                throw ClusterError("an instance named '\(name)' is alive; choose another --name")
            }
            s.clock += 1
            s.instances[name] = Inst(address: address, load: load, heartbeat: .now, reportedAt: s.clock)
            for (id, var r) in s.rows where r.state == .assigned && r.instance == name {
                r.state = .queued; r.instance = nil; r.started = false; r.lease = nil
                s.rows[id] = r
            }
            post(&s, .schedule, .schedule)
        }
    }

    public func heartbeat(name: String, load: InstanceLoad, timing: ClusterTiming) async throws -> Bool {
        tables.withLock { s in
            s.clock += 1
            var i = s.instances[name] ?? Inst(address: "", load: load, heartbeat: .now)
            i.load = load; i.heartbeat = .now; i.reportedAt = s.clock
            s.instances[name] = i
            let lease = ContinuousClock.now + .milliseconds(Int(timing.leaseSeconds * 1000))
            for (id, var r) in s.rows where r.state == .assigned && r.instance == name {
                r.lease = lease
                s.rows[id] = r
            }
            return i.draining
        }
    }

    public func claim(instance: String, limit: Int, holding: Set<Int64>?, timing: ClusterTiming) async throws -> [ClaimedRequest] {
        tables.withLock { s in
            s.clock += 1
            let mine = s.rows.values.filter { row in
                row.state == .assigned && row.instance == instance
                    && (!row.started || holding.map { !$0.contains(row.request.id) } ?? false)
            }
                .sorted { ($0.request.priority, $0.arrival) < ($1.request.priority, $1.arrival) }.prefix(max(0, limit))
            let lease = ContinuousClock.now + .milliseconds(Int(timing.leaseSeconds * 1000))
            return mine.map { row in
                var r = row
                r.started = true; r.claimedAt = s.clock; r.lease = lease
                s.rows[r.request.id] = r
                return ClaimedRequest(id: r.request.id, prompt: r.request.prompt, params: r.request.params,
                                      priority: r.request.priority, delivered: r.tokens, attempts: r.attempts)
            }
        }
    }

    public func append(instance: String, _ deltas: [TokenDelta]) async throws -> Set<Int64> {
        tables.withLock { s in
            var rejected = Set<Int64>()
            var events: [String: [OutputEvent]] = [:]
            var finished = false
            for d in deltas {
                guard var r = s.rows[d.id], r.state == .assigned, r.instance == instance, r.tokens.count == d.start else {
                    rejected.insert(d.id); continue
                }
                r.tokens += d.tokens
                r.logprobs += d.logprobs
                if let p = d.promptLogprobs { r.promptLogprobs = p }
                if let e = d.error { r.state = .failed; r.error = e; r.finish = .error } else if let f = d.finish {
                    r.state = .done; r.finish = f; r.stopReason = d.stopReason
                }
                finished = finished || r.state != .assigned
                r.updated = .now
                s.rows[d.id] = r
                let big = d.stopReason != nil || d.error != nil || !d.logprobs.isEmpty || d.promptLogprobs != nil
                events[r.request.origin, default: []].append(OutputEvent(id: d.id, start: d.start, tokens: big ? [] : d.tokens,
                                                                         finish: d.error != nil ? .error : d.finish, refetch: big))
            }
            for (origin, e) in events { post(&s, .outputs(origin), .outputs(e)) }
            if finished { post(&s, .schedule, .schedule) }
            return rejected
        }
    }

    public func release(instance: String) async throws {
        tables.withLock { s in
            for (id, var r) in s.rows where r.state == .assigned && r.instance == instance {
                r.state = .queued; r.instance = nil; r.started = false; r.lease = nil; r.attempts = max(0, r.attempts - 1)
                s.rows[id] = r
            }
            post(&s, .schedule, .schedule)
        }
    }

    public func deregister(name: String) async throws {
        _ = tables.withLock { $0.instances.removeValue(forKey: name) }
    }

    public func setDraining(name: String, _ draining: Bool) async throws -> Bool {
        tables.withLock { s in
            guard s.instances[name] != nil else { return false }
            s.instances[name]?.draining = draining
            return true
        }
    }

    public func purge(olderThan seconds: Double) async throws {
        let cutoff = ContinuousClock.now - .milliseconds(Int(seconds * 1000))
        tables.withLock { s in s.rows = s.rows.filter { ($0.value.state != .done && $0.value.state != .failed) || $0.value.updated > cutoff } }
    }

    public func signals(_ channels: [QueueChannel]) -> AsyncStream<QueueSignal> {
        let (stream, c) = AsyncStream<QueueSignal>.makeStream(bufferingPolicy: .unbounded)
        let key = UUID()
        tables.withLock { s in for ch in channels { s.listeners[ch, default: [:]][key] = c } }
        c.onTermination = { [weak self] _ in
            self?.tables.withLock { s in for ch in channels { s.listeners[ch]?[key] = nil } }
        }
        c.yield(.resync)
        return stream
    }
}
