public import Engine
import Foundation
public import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The distributed queue on PostgreSQL 15. Rows are claimed with `FOR UPDATE SKIP LOCKED`; routers and
/// instances are woken with LISTEN/NOTIFY (`swiftlet_sched`, `swiftlet_work_<instance>`, `swiftlet_out_<router>`);
/// token deltas travel in the NOTIFY payload of the same transaction that appends them to the row, so a router
/// never forwards a token that is not durable in the queue (what makes resumption on another instance exact).
public final class PostgresQueue: DistributedQueue {
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    /// Time limits and retries of every operation.
    public let limits: QueueLimits
    private let runTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let lastReap = Mutex<ContinuousClock.Instant?>(nil)

    /// Connects (the pool runs in a background task until `close()`) and applies the schema migrations.
    public static func connect(_ urlText: String, logger: Logger = Logger(label: "swiftlet.queue"),
                               limits: QueueLimits = .fromEnvironment) async throws -> PostgresQueue {
        let url = try PostgresURL(urlText)
        // Migrations run on a connection of their own, so the pool is first used after its run() has started.
        do {
            let conn = try await PostgresConnection.connect(configuration: try url.connectionConfiguration, id: 0, logger: logger)
            do {
                try await PostgresSchema.migrate(conn, logger: logger)
            } catch {
                try? await conn.close()
                throw error
            }
            try? await conn.close()
        } catch {
            throw ClusterError("cannot open the queue: \(describeQueueError(error, url: url))")
        }
        let q = PostgresQueue(url: url, logger: logger, limits: limits)
        await q.started()
        return q
    }

    init(url: PostgresURL, logger: Logger, limits: QueueLimits = .fromEnvironment) {
        self.url = url
        self.logger = logger
        self.limits = limits
        var config = PostgresClient.Configuration(host: url.host, port: url.port, username: url.user,
                                                  password: url.password, database: url.database, tls: url.clientTLS)
        config.options.maximumConnections = 8
        // No minimum: postgres-nio 1.33's pool traps (precondition `minimumConcurrentConnections <= active` in
        // `ConnectionGroup.createNewDemandConnectionIfPossible`) when a connection is leased while fewer than the
        // minimum are up, which is every lease during a database restart or stop (seen in scripts/chaos.sh: an
        // instance died with an illegal instruction). Without a minimum a lease could strand in the pool after a
        // restart (postgres-nio issue 657); the operations' time limit (`QueueLimits`) cancels such a lease and
        // retries. Connections opened on demand stay open while used (idle timeout 60 s), so the token path
        // stays warm under load.
        config.options.minimumConnections = 0
        config.options.connectTimeout = .seconds(5)
        client = PostgresClient(configuration: config, backgroundLogger: logger)
        let c = client
        let (running, runningIn) = AsyncStream<Void>.makeStream()
        self.running = running
        runTask.withLock { $0 = Task { runningIn.finish(); await c.run() } }
    }

    private let running: AsyncStream<Void>

    /// Returns once the pool's `run()` task has begun (leasing earlier only logs a warning, but it is noise).
    func started() async {
        for await _ in running {}
        await Task.yield()
    }

    /// Stops the pool (in-flight queries fail).
    public func close() {
        runTask.withLock { $0?.cancel(); $0 = nil }
    }

    deinit { runTask.withLock { $0?.cancel() } }

    static func outChannel(_ origin: String) -> String { "swiftlet_out_" + origin }
    static func workChannel(_ instance: String) -> String { "swiftlet_work_" + instance }
    static let schedChannel = "swiftlet_sched"

    /// Runs one queue operation under the time limit and retry policy of `limits` (see `QueueLimits`): each
    /// attempt runs at most `operationTimeout` (then it is cancelled and abandoned); with `retry`, an attempt that
    /// timed out or could not reach the database is retried with backoff while `retryFor` lasts. A failure becomes
    /// a `QueueError` that names the operation and its real cause (SQLSTATE and message, or why the connection
    /// failed, and the server), so that logs tell a refused connection from a bad password from a constraint
    /// violation. Errors of our own (`ClusterError`) and cancellation pass. `attempt` (1-based) lets a body tell a
    /// replay from a first try.
    @discardableResult
    func op<T: Sendable>(_ name: String, retry: Bool = true,
                         _ body: @escaping @Sendable (_ attempt: Int) async throws -> T) async throws -> T {
        let began = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            let n = attempt
            do {
                let value = try await withTimeLimit(limits.operationTimeout) { try await body(n) }
                if attempt > 1 {
                    logger.notice("queue operation succeeded after retrying",
                                  metadata: ["operation": "\(name)", "attempts": "\(attempt)",
                                             "after": "\(ContinuousClock.now - began)"])
                }
                return value
            } catch let e as ClusterError {
                throw e
            } catch let e as CancellationError {
                throw e
            } catch {
                let unreachable = isUnreachable(error)
                let failure = (error as? QueueError)
                    ?? QueueError("queue \(name) failed: \(describeQueueError(error, url: url))", unreachable: unreachable)
                if Task.isCancelled { throw failure }
                let pause = limits.pause(attempt)
                // A deadlock or serialization failure rolled the transaction back: running it again is safe.
                let transient = unreachable || isTransactionConflict(error)
                guard retry, transient, ContinuousClock.now - began + pause < limits.retryFor else { throw failure }
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("queue operation failed; retrying",
                                   metadata: ["operation": "\(name)", "attempt": "\(attempt)", "error": "\(failure)"])
                }
                try? await Task.sleep(for: pause)
                if Task.isCancelled { throw failure }
            }
        }
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { conn in
            try await conn.query("BEGIN", logger: logger)
            do {
                let v = try await body(conn)
                try await conn.query("COMMIT", logger: logger)
                return v
            } catch {
                _ = try? await conn.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    func notify(_ conn: PostgresConnection, _ pairs: [(channel: String, payload: String)]) async throws {
        guard !pairs.isEmpty else { return }
        let channels = pairs.map(\.channel), payloads = pairs.map(\.payload)
        try await conn.query("SELECT pg_notify(c, p) FROM unnest(\(channels)::text[], \(payloads)::text[]) AS x(c, p)",
                             logger: logger)
    }

    /// One round trip (`SELECT 1`) under the time limit, no retry: whether the database answers now.
    public func ping() async throws {
        try await op("ping", retry: false) { [self] _ in _ = try await client.query("SELECT 1", logger: logger) }
    }

    // MARK: Router side

    public func enqueue(_ r: QueuedRequest, directTo instance: String?, timing: ClusterTiming) async throws -> Bool {
        let statement = EnqueueStatement(request: r, params: encodeParams(r.params), instance: instance ?? "",
                                         leaseSeconds: timing.leaseSeconds)
        return try await op("enqueue") { [client, logger] attempt in
            var direct = false
            do {
                for try await d in try await client.execute(statement, logger: logger) { direct = d }
            } catch let e as PSQLError where attempt > 1 && e.serverInfo?[.sqlState] == "23505" {
                // An earlier attempt whose answer was lost stored it; whether it assigned it directly is unknown,
                // so the caller runs a scheduling round (an instance claims a direct assignment all the same).
                return false
            }
            return direct
        }
    }

    public func finish(id: Int64, reason: EngineFinishReason) async throws {
        try await op("finish") { [self] _ in
            _ = try await client.query("""
                UPDATE swiftlet_requests SET state = 'done', finish_reason = \(reason.rawValue), updated_at = clock_timestamp()
                WHERE id = \(id) AND state IN ('queued', 'assigned')
                """, logger: logger)
        }
    }

    public func progress(ids: [Int64]) async throws -> [RequestProgress] {
        guard !ids.isEmpty else { return [] }
        return try await op("progress") { [self] _ in
            let rows = try await client.query("""
                SELECT id, state, tokens, finish_reason, stop_reason, error, instance, attempts,
                       CASE WHEN logprobs = '[]'::jsonb THEN NULL ELSE logprobs::text END, prompt_logprobs::text
                FROM swiftlet_requests WHERE id = ANY(\(ids)::int8[])
                """, logger: logger)
            var out: [RequestProgress] = []
            let decoder = JSONDecoder()
            for try await (id, state, tokens, fin, stop, err, inst, attempts, lp, plp) in rows.decode(
                (Int64, String, [Int32], String?, String?, String?, String?, Int, String?, String?).self) {
                out.append(RequestProgress(
                    id: id, state: RequestState(rawValue: state) ?? .failed, tokens: tokens,
                    finish: fin.flatMap(EngineFinishReason.init(rawValue:)), stopReason: stop, error: err, instance: inst,
                    attempts: attempts,
                    logprobs: lp.flatMap { try? decoder.decode([TokenLogprob].self, from: Data($0.utf8)) } ?? [],
                    promptLogprobs: plp.flatMap { try? decoder.decode([TokenLogprob].self, from: Data($0.utf8)) }))
            }
            return out
        }
    }

    public func scheduleRound(limit: Int, timing: ClusterTiming,
                              plan: ([PendingRequest], [InstanceRecord]) -> [Assignment]) async throws
        -> (assigned: [Assignment], reaped: [ReapedRequest]) {
        // The round runs in a task of its own (the time limit may abandon it) but `plan` is the caller's
        // non-escaping closure: the box lends it for this call only; an abandoned round that reaches its plan after
        // this call returned finds the box empty and gives up (rolling its transaction back).
        try await withoutActuallyEscaping(plan) { plan in
            let box = PlanBox(plan)
            defer { box.close() }
            return try await scheduleRound(limit: limit, timing: timing, box: box)
        }
    }

    private func scheduleRound(limit: Int, timing: ClusterTiming, box: PlanBox) async throws
        -> (assigned: [Assignment], reaped: [ReapedRequest]) {
        try await op("scheduling round") { [self] _ in try await transaction { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.lockKey + 1))", logger: logger)
            let reaped = reapDue() ? try await reap(conn, timing: timing) : []
            let instances = try await instanceRecords(conn, aliveOnly: true, timing: timing)
            let pending = try await queuedRequests(conn, limit: limit)
            // The plan runs even with nothing pending: routers keep the instances it sees for direct assignment.
            let decided = try box.call(pending, instances)
            guard !decided.isEmpty else { return ([], reaped) }
            let ids = decided.map(\.requestId), names = decided.map(\.instance)
            // Assign and wake the instances in one statement.
            try await conn.query("""
                WITH u AS (
                    UPDATE swiftlet_requests r SET state = 'assigned', instance = x.inst, started = false,
                        assigned_at = clock_timestamp(), lease_expiry = clock_timestamp() + make_interval(secs => \(timing.leaseSeconds)),
                        attempts = r.attempts + 1, updated_at = clock_timestamp()
                    FROM unnest(\(ids)::int8[], \(names)::text[]) AS x(id, inst)
                    WHERE r.id = x.id AND r.state = 'queued' RETURNING r.instance)
                SELECT pg_notify('swiftlet_work_' || instance, '') FROM (SELECT DISTINCT instance FROM u) w
                """, logger: logger)
            return (decided, reaped)
        } }
    }

    /// Reaping runs at most every 100 ms per process (rounds on every wake-up need not repeat it).
    func reapDue() -> Bool {
        lastReap.withLock { last in
            let now = ContinuousClock.now
            guard last.map({ now - $0 >= .milliseconds(100) }) ?? true else { return false }
            last = now
            return true
        }
    }

    /// Expired leases: back to the queue, or failed after too many attempts (its router is told).
    func reap(_ conn: PostgresConnection, timing: ClusterTiming) async throws -> [ReapedRequest] {
        let rows = try await conn.query("""
            WITH old AS (
                SELECT id, instance FROM swiftlet_requests
                WHERE state = 'assigned' AND lease_expiry < clock_timestamp()
                  -- The server has been up for a whole lease: a restart (or a stop and start) never expires a lease
                  -- by itself; the instances get one lease to heartbeat again first.
                  AND pg_postmaster_start_time() < clock_timestamp() - make_interval(secs => \(timing.leaseSeconds))
                FOR UPDATE SKIP LOCKED)
            UPDATE swiftlet_requests r SET
                state = CASE WHEN r.attempts >= \(timing.maxAttempts) THEN 'failed' ELSE 'queued' END,
                finish_reason = CASE WHEN r.attempts >= \(timing.maxAttempts) THEN 'error' END,
                error = CASE WHEN r.attempts >= \(timing.maxAttempts) THEN
                    format('the request failed %s times (its instance, last %s, stopped heartbeating); giving up', r.attempts, old.instance) END,
                instance = NULL, started = false, lease_expiry = NULL, updated_at = clock_timestamp()
            FROM old WHERE r.id = old.id
            RETURNING r.id, r.origin, r.state, old.instance, cardinality(r.tokens)
            """, logger: logger)
        var reaped: [ReapedRequest] = []
        var notes: [(String, String)] = []
        for try await (id, origin, state, inst, n) in rows.decode((Int64, String, String, String, Int).self) {
            reaped.append(ReapedRequest(id: id, origin: origin, failed: state == "failed", instance: inst))
            if state == "failed" { notes.append((Self.outChannel(origin), "\(id) \(n) error *")) }
        }
        if !reaped.isEmpty {
            logger.warning("leases expired", metadata: ["requeued": "\(reaped.filter { !$0.failed }.map(\.id))",
                                                        "failed": "\(reaped.filter(\.failed).map(\.id))"])
        }
        try await notify(conn, notes)
        return reaped
    }

    func queuedRequests(_ conn: PostgresConnection, limit: Int) async throws -> [PendingRequest] {
        let rows = try await conn.query("""
            SELECT id, priority, cardinality(prompt) + cardinality(tokens), prefix_hash, attempts FROM swiftlet_requests
            WHERE state = 'queued' ORDER BY priority, arrival, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var out: [PendingRequest] = []
        for try await (id, prio, ctx, hash, attempts) in rows.decode((Int64, Int, Int, Int64, Int).self) {
            out.append(PendingRequest(id: id, priority: prio, contextLength: ctx, prefixHash: hash, attempts: attempts))
        }
        return out
    }

    func instanceRecords(_ conn: PostgresConnection, aliveOnly: Bool, timing: ClusterTiming) async throws -> [InstanceRecord] {
        let rows = try await conn.query("""
            SELECT i.name, i.address, i.load::text, EXTRACT(EPOCH FROM clock_timestamp() - i.heartbeat)::float8, i.draining,
                   COALESCE(p.pending, 0)::int8, COALESCE(p.pending_blocks, 0)::int8, COALESCE(p.assigned, 0)::int8
            FROM swiftlet_instances i LEFT JOIN LATERAL (
                SELECT count(*) AS assigned,
                       count(*) FILTER (WHERE NOT r.started OR r.claimed_at > i.reported_at) AS pending,
                       sum((cardinality(r.prompt) + cardinality(r.tokens) + GREATEST((i.load->>'blockSize')::int, 1))
                           / GREATEST((i.load->>'blockSize')::int, 1))
                           FILTER (WHERE NOT r.started OR r.claimed_at > i.reported_at) AS pending_blocks
                FROM swiftlet_requests r WHERE r.state = 'assigned' AND r.instance = i.name) p ON true
            WHERE NOT \(aliveOnly) OR i.heartbeat > clock_timestamp() - make_interval(secs => \(timing.leaseSeconds))
            ORDER BY i.name
            """, logger: logger)
        var out: [InstanceRecord] = []
        for try await (name, addr, load, age, draining, pending, blocks, assigned) in rows.decode(
            (String, String, String, Double, Bool, Int64, Int64, Int64).self) {
            let l = (try? JSONDecoder().decode(InstanceLoad.self, from: Data(load.utf8))) ?? InstanceLoad()
            out.append(InstanceRecord(name: name, address: addr, load: l, heartbeatAge: age, draining: draining,
                                      pendingRequests: Int(pending), pendingBlocks: Int(blocks), assigned: Int(assigned)))
        }
        return out
    }

    public func status(timing: ClusterTiming) async throws -> ClusterStatus {
        try await op("status", retry: false) { [self] _ in try await client.withConnection { conn in
            let instances = try await instanceRecords(conn, aliveOnly: false, timing: timing)
            var byPriority: [(priority: Int, count: Int)] = []
            let q = try await conn.query("""
                SELECT priority, count(*)::int8 FROM swiftlet_requests WHERE state = 'queued' GROUP BY priority ORDER BY priority
                """, logger: logger)
            for try await (p, n) in q.decode((Int, Int64).self) { byPriority.append((p, Int(n))) }
            var counts: [String: Int] = [:]
            let c = try await conn.query("SELECT state, count(*)::int8 FROM swiftlet_requests GROUP BY state", logger: logger)
            for try await (s, n) in c.decode((String, Int64).self) { counts[s] = Int(n) }
            return ClusterStatus(instances: instances, queuedByPriority: byPriority, assigned: counts["assigned"] ?? 0,
                                 done: counts["done"] ?? 0, failed: counts["failed"] ?? 0)
        } }
    }

    // MARK: Instance side

    public func register(name: String, address: String, load: InstanceLoad, timing: ClusterTiming) async throws {
        guard validClusterName(name) else {
            throw ClusterError("instance name '\(name)': use 1-40 lowercase letters, digits, '-' or '_'")
        }
        let loadText = String(decoding: try JSONEncoder().encode(load), as: UTF8.self)
        try await op("register", retry: false) { [self] _ in try await transaction { conn in
            let rows = try await conn.query("""
                SELECT EXTRACT(EPOCH FROM clock_timestamp() - heartbeat)::float8 FROM swiftlet_instances WHERE name = \(name) FOR UPDATE
                """, logger: logger)
            for try await age in rows.decode(Double.self) where age < timing.leaseSeconds {
                throw ClusterError("an instance named '\(name)' is alive (heartbeat \(String(format: "%.1f", age)) s ago); choose another --name")
            }
            try await conn.query("""
                INSERT INTO swiftlet_instances (name, address, load) VALUES (\(name), \(address), \(loadText)::jsonb)
                ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, load = EXCLUDED.load, heartbeat = clock_timestamp(),
                    reported_at = clock_timestamp(), draining = false, started_at = clock_timestamp()
                """, logger: logger)
            // Work a previous incarnation of this name left behind goes back to the queue (it counted as an attempt).
            try await conn.query("""
                UPDATE swiftlet_requests SET state = 'queued', instance = NULL, started = false, lease_expiry = NULL
                WHERE state = 'assigned' AND instance = \(name)
                """, logger: logger)
            try await notify(conn, [(Self.schedChannel, "")])
        } }
    }

    public func heartbeat(name: String, load: InstanceLoad, timing: ClusterTiming) async throws -> Bool {
        let loadText = String(decoding: try JSONEncoder().encode(load), as: UTF8.self)
        return try await op("heartbeat") { [self] _ in try await transaction { conn in
            var draining = false
            let rows = try await conn.query("""
                INSERT INTO swiftlet_instances (name, address, load) VALUES (\(name), '', \(loadText)::jsonb)
                ON CONFLICT (name) DO UPDATE SET heartbeat = clock_timestamp(), reported_at = clock_timestamp(), load = EXCLUDED.load
                RETURNING draining
                """, logger: logger)
            for try await d in rows.decode(Bool.self) { draining = d }
            // Locked in id order, as an append locks them (AppendStatement): no deadlock between the two.
            try await conn.query("""
                UPDATE swiftlet_requests r SET lease_expiry = clock_timestamp() + make_interval(secs => \(timing.leaseSeconds))
                FROM (SELECT id FROM swiftlet_requests WHERE state = 'assigned' AND instance = \(name) ORDER BY id FOR UPDATE) l
                WHERE r.id = l.id AND r.state = 'assigned' AND r.instance = \(name)
                """, logger: logger)
            return draining
        } }
    }

    public func claim(instance: String, limit: Int, holding: Set<Int64>?, timing: ClusterTiming) async throws -> [ClaimedRequest] {
        guard limit > 0 else { return [] }
        let statement = ClaimStatement(instance: instance, limit: limit, leaseSeconds: timing.leaseSeconds,
                                       holding: holding.map { Array($0) })
        let out: [ClaimedRequest] = try await op("claim") { [self] _ in
            var out: [ClaimedRequest] = []
            for try await (id, prompt, params, prio, tokens, attempts) in try await client.execute(statement, logger: logger) {
                out.append(ClaimedRequest(id: id, prompt: prompt, params: try decodeParams(params), priority: prio,
                                          delivered: tokens, attempts: attempts))
            }
            return out
        }
        return out.sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
    }

    public func append(instance: String, _ deltas: [TokenDelta]) async throws -> Set<Int64> {
        guard !deltas.isEmpty else { return [] }
        let accepted: Set<Int64> = try await op("append", retry: false) { [self] _ in
            var accepted = Set<Int64>()
            for try await id in try await client.execute(AppendStatement(instance: instance, deltas: deltas), logger: logger) {
                accepted.insert(id)
            }
            return accepted
        }
        return Set(deltas.map(\.id)).subtracting(accepted)
    }

    public func release(instance: String) async throws {
        try await op("release") { [self] _ in try await transaction { conn in
            try await conn.query("""
                UPDATE swiftlet_requests SET state = 'queued', instance = NULL, started = false, lease_expiry = NULL,
                    attempts = GREATEST(attempts - 1, 0), updated_at = clock_timestamp()
                WHERE state = 'assigned' AND instance = \(instance)
                """, logger: logger)
            try await notify(conn, [(Self.schedChannel, "")])
        } }
    }

    public func deregister(name: String) async throws {
        try await op("deregister") { [self] _ in _ = try await client.query("DELETE FROM swiftlet_instances WHERE name = \(name)", logger: logger) }
    }

    public func setDraining(name: String, _ draining: Bool) async throws -> Bool {
        try await op("set draining") { [self] _ in
            let rows = try await client.query("UPDATE swiftlet_instances SET draining = \(draining) WHERE name = \(name) RETURNING name",
                                              logger: logger)
            var found = false
            for try await _ in rows.decode(String.self) { found = true }
            return found
        }
    }

    /// Deletes finished requests older than `seconds` (housekeeping; the router calls it now and then).
    public func purge(olderThan seconds: Double) async throws {
        try await op("purge") { [self] _ in
            _ = try await client.query("""
                DELETE FROM swiftlet_requests WHERE state IN ('done', 'failed')
                AND updated_at < clock_timestamp() - make_interval(secs => \(seconds))
                """, logger: logger)
        }
    }
}

/// Lends a non-escaping planner to a task that may outlive the call (see `scheduleRound`).
final class PlanBox: @unchecked Sendable {
    private let lock = NSLock()
    private var plan: (([PendingRequest], [InstanceRecord]) -> [Assignment])?
    init(_ plan: @escaping ([PendingRequest], [InstanceRecord]) -> [Assignment]) { self.plan = plan }
    func call(_ pending: [PendingRequest], _ instances: [InstanceRecord]) throws -> [Assignment] {
        lock.lock(); defer { lock.unlock() }
        guard let plan else { throw QueueTimeout(limit: .zero) }
        return plan(pending, instances)
    }
    /// Drops the planner (waiting for a call in progress): it is never called after this.
    func close() { lock.lock(); plan = nil; lock.unlock() }
}
