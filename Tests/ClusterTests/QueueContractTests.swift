@testable import Cluster
import Engine
import Foundation
import PostgresNIO
import Testing

enum QueueKind: String, CaseIterable, Sendable { case memory, postgres }

func makeQueue(_ kind: QueueKind) async throws -> any DistributedQueue {
    switch kind {
    case .memory: return MemoryQueue()
    case .postgres: return try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
    }
}

func close(_ q: any DistributedQueue) { (q as? PostgresQueue)?.close() }

func load(capacity: Int = 8, free: Int = 100) -> InstanceLoad {
    var l = InstanceLoad()
    l.capacity = capacity; l.numFreeBlocks = free; l.numTotalBlocks = 100; l.blockSize = 16
    return l
}

/// Every queue implementation keeps the same contract.
@Suite(.serialized, .timeLimit(.minutes(5))) struct QueueContractTests {
    /// Leases that must not expire during a test step (generous: see `TestTiming`).
    let timing: ClusterTiming = {
        var t = fastTiming()
        t.maxAttempts = 2
        return t
    }()
    /// Leases a test lets expire on purpose: given only to the claims and checks that should see them expire.
    let short = shortLeaseTiming(maxAttempts: 2)
    let planner = GlobalPlanner(policy: .leastRequests)

    func round(_ q: any DistributedQueue) async throws -> [Assignment] {
        try await q.scheduleRound(limit: 100, timing: timing) { planner.plan($0, $1) }.assigned
    }

    @Test(arguments: QueueKind.allCases)
    func appendsAreExactlyOnceAndFenced(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        try await q.register(name: "i1", address: "-", load: load(), timing: timing)
        try await q.register(name: "i2", address: "-", load: load(), timing: timing)
        try await q.enqueue(QueuedRequest(id: 7, origin: "r", prompt: [1, 2, 3], params: greedy(4)))
        let a = try await round(q)
        try #require(a.map(\.requestId) == [7])
        let owner = a[0].instance, other = owner == "i1" ? "i2" : "i1"
        #expect(try await q.claim(instance: other, limit: 5, timing: timing).isEmpty)
        let claimed = try await q.claim(instance: owner, limit: 5, timing: timing)
        try #require(claimed.map(\.id) == [7])
        #expect(claimed[0].prompt == [1, 2, 3] && claimed[0].params == greedy(4))
        #expect(try await q.claim(instance: owner, limit: 5, timing: timing).isEmpty, "claimed twice")
        #expect(try await q.append(instance: owner, [TokenDelta(id: 7, start: 0, tokens: [10, 11])]).isEmpty)
        // A replayed delta (same start) and another instance's delta are both refused.
        #expect(try await q.append(instance: owner, [TokenDelta(id: 7, start: 0, tokens: [10, 11])]) == [7])
        #expect(try await q.append(instance: other, [TokenDelta(id: 7, start: 2, tokens: [12])]) == [7])
        #expect(try await q.append(instance: owner, [TokenDelta(id: 7, start: 2, tokens: [12, 13], finish: .length)]).isEmpty)
        let p = try #require(try await q.progress(ids: [7]).first)
        #expect(p.state == .done && p.tokens == [10, 11, 12, 13] && p.finish == .length)
        #expect(try await q.append(instance: owner, [TokenDelta(id: 7, start: 4, tokens: [14])]) == [7], "appended after done")
        try await q.purge(olderThan: 3600)
        #expect(try await q.progress(ids: [7]).count == 1, "purged a fresh request")
        try await Task.sleep(for: .milliseconds(20))
        try await q.purge(olderThan: 0.01)
        #expect(try await q.progress(ids: [7]).isEmpty, "finished request not purged")
    }

    /// The enqueue fast path assigns at once only when nothing of the same or a more urgent priority waits, the
    /// instance is alive, not draining, and has claimed all it was given; otherwise the request is queued.
    @Test(arguments: QueueKind.allCases)
    func directAssignmentOnlyWhenUncontended(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        try await q.register(name: "i1", address: "-", load: load(), timing: timing)
        // Uncontended: assigned and claimable without a scheduling round.
        #expect(try await q.enqueue(QueuedRequest(id: 1, origin: "r", prompt: [1], params: greedy(2)), directTo: "i1", timing: timing))
        // i1 has not claimed request 1 yet: the next one waits in the queue.
        #expect(try await !q.enqueue(QueuedRequest(id: 2, origin: "r", prompt: [1], params: greedy(2)), directTo: "i1", timing: timing))
        #expect(try await q.claim(instance: "i1", limit: 5, timing: timing).map(\.id) == [1])
        // Request 2 (priority 0) is queued: a less urgent request (priority 5) may not jump it,
        let lower = QueuedRequest(id: 3, origin: "r", prompt: [1], params: greedy(2), priority: 5)
        #expect(try await !q.enqueue(lower, directTo: "i1", timing: timing))
        // but a more urgent one may (it would be placed first by a round too).
        let urgent = QueuedRequest(id: 4, origin: "r", prompt: [1], params: greedy(2), priority: -1)
        #expect(try await q.enqueue(urgent, directTo: "i1", timing: timing))
        #expect(try await q.claim(instance: "i1", limit: 5, timing: timing).map(\.id) == [4])
        // The queued ones go through a round in priority order.
        #expect(try await round(q).map(\.requestId) == [2, 3])
        _ = try await q.claim(instance: "i1", limit: 5, timing: timing)
        // Unknown, draining or dead instances never get direct work.
        #expect(try await !q.enqueue(QueuedRequest(id: 5, origin: "r", prompt: [1], params: greedy(2)), directTo: "nobody", timing: timing))
        #expect(try await round(q).map(\.requestId) == [5])
        _ = try await q.claim(instance: "i1", limit: 5, timing: timing)
        #expect(try await q.setDraining(name: "i1", true))
        #expect(try await !q.enqueue(QueuedRequest(id: 6, origin: "r", prompt: [1], params: greedy(2)), directTo: "i1", timing: timing))
        #expect(try await q.setDraining(name: "i1", false))
        #expect(try await round(q).map(\.requestId) == [6])
        _ = try await q.claim(instance: "i1", limit: 5, timing: timing)
        try await Task.sleep(for: TestTiming.pastShortLease)   // no heartbeat: with the short lease, i1 is dead
        #expect(try await !q.enqueue(QueuedRequest(id: 7, origin: "r", prompt: [1], params: greedy(2)), directTo: "i1", timing: short))
        let states = try await q.progress(ids: [1, 2, 3, 4, 5, 6, 7]).sorted { $0.id < $1.id }.map(\.state)
        #expect(states.last == .queued)
        #expect(try await q.progress(ids: [1]).first?.attempts == 1, "a direct assignment counts as the first attempt")
    }

    @Test(arguments: QueueKind.allCases)
    func expiredLeaseRequeuesWithDeliveredTokensThenFails(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        try await q.register(name: "dead", address: "-", load: load(), timing: timing)
        try await q.enqueue(QueuedRequest(id: 1, origin: "r", prompt: [5], params: greedy(8)))
        try #require(try await round(q).first?.instance == "dead")
        // Claimed with the short lease (nothing reaps until the next round, so the append below is still fenced in).
        try #require(try await q.claim(instance: "dead", limit: 1, timing: short).map(\.id) == [1])
        #expect(try await q.append(instance: "dead", [TokenDelta(id: 1, start: 0, tokens: [20, 21, 22])]).isEmpty)
        try await Task.sleep(for: TestTiming.pastShortLease)   // no heartbeat: lease and instance expire
        try await q.register(name: "alive", address: "-", load: load(), timing: timing)
        // The round tells live instances by a lease between the two: "dead" has been silent for longer than the
        // sleep, "alive" just registered (it stays alive if the round starts within 90% of the sleep).
        var seen = short
        seen.leaseSeconds = TestTiming.pastShortLeaseSeconds * 0.9
        let again = try await q.scheduleRound(limit: 100, timing: seen) { planner.plan($0, $1) }.assigned
        try #require(again.map(\.instance) == ["alive"])
        let resumed = try #require(try await q.claim(instance: "alive", limit: 1, timing: short).first)
        #expect(resumed.delivered == [20, 21, 22] && resumed.attempts == 2)
        #expect(resumed.engineRequest.promptTokenIds == [5, 20, 21, 22] && resumed.engineRequest.params.maxTokens == 5)
        #expect(try await q.append(instance: "dead", [TokenDelta(id: 1, start: 3, tokens: [9])]) == [1], "the dead instance's append was accepted")
        // The second instance dies too (its short lease expires): attempts (2) reached the limit, so the request
        // fails with a clear error.
        try await Task.sleep(for: TestTiming.pastShortLease)
        _ = try await q.scheduleRound(limit: 100, timing: short) { planner.plan($0, $1) }
        let p = try #require(try await q.progress(ids: [1]).first)
        #expect(p.state == .failed)
        #expect(p.error?.contains("failed 2 times") == true, "\(p.error ?? "nil")")
        #expect(p.tokens == [20, 21, 22])
    }

    @Test(arguments: QueueKind.allCases)
    func backlogLeavesInPriorityOrderAndOnlyWithHeadroom(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        try await q.register(name: "one", address: "-", load: load(capacity: 1), timing: timing)
        for (id, prio) in [(1, 5), (2, 0), (3, 3), (4, 0)] {
            try await q.enqueue(QueuedRequest(id: Int64(id), origin: "r", prompt: [1], params: greedy(2), priority: prio))
        }
        var order: [Int64] = []
        for _ in 0..<4 {
            let a = try await round(q)
            try #require(a.count == 1, "capacity 1 but \(a.count) assigned")
            order += a.map(\.requestId)
            #expect(try await round(q).isEmpty, "assigned beyond capacity")
            let c = try await q.claim(instance: "one", limit: 1, timing: timing)
            try #require(c.count == 1)
            _ = try await q.append(instance: "one", [TokenDelta(id: c[0].id, start: 0, tokens: [1], finish: .length)])
            _ = try await q.heartbeat(name: "one", load: load(capacity: 1), timing: timing)
        }
        #expect(order == [2, 4, 3, 1])
        let s = try await q.status(timing: timing)
        #expect(s.done == 4 && s.queued == 0)
    }

    @Test(arguments: QueueKind.allCases)
    func signalsWakeRoutersAndInstances(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        let routerSignals = q.signals([.outputs("r9"), .schedule])
        let workSignals = q.signals([.work("w")])
        var rIt = routerSignals.makeAsyncIterator(), wIt = workSignals.makeAsyncIterator()
        #expect(await rIt.next() == .resync)
        #expect(await wIt.next() == .resync)
        try await q.register(name: "w", address: "-", load: load(), timing: timing)
        try await q.enqueue(QueuedRequest(id: 3, origin: "r9", prompt: [1], params: greedy(3)))
        _ = try await round(q)
        #expect(await wIt.next() == .work)
        _ = try await q.claim(instance: "w", limit: 1, timing: timing)
        _ = try await q.append(instance: "w", [TokenDelta(id: 3, start: 0, tokens: [4, 5])])
        var events: [OutputEvent] = []
        while events.isEmpty, let s = await rIt.next() {
            if case .outputs(let e) = s { events = e }
        }
        #expect(events == [OutputEvent(id: 3, start: 0, tokens: [4, 5])])
    }
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresQueueTests {
    @Test func migrationsAreVersionedAndIdempotent() async throws {
        let url = try await TestDatabase.fresh()
        let q = try await PostgresQueue.connect(url, logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let again = try await q.client.withConnection { try await PostgresSchema.migrate($0, logger: quietLogger) }
        #expect(again.isEmpty, "re-applied a migration")
        let q2 = try await PostgresQueue.connect(url, logger: quietLogger, limits: TestTiming.queueLimits)   // a second process starting up
        q2.close()
        var versions: [Int] = []
        for try await v in try await q.client.query("SELECT version FROM swiftlet_migrations ORDER BY version").decode(Int.self) {
            versions.append(v)
        }
        #expect(versions == PostgresSchema.migrations.map(\.version))
    }

    /// An instance's heartbeat (extending the leases of all its rows) and its appends (to many of the same rows)
    /// run at the same time. They lock the rows in one order, so PostgreSQL never has to break a deadlock between
    /// them: with no retries allowed, every call succeeds.
    @Test func heartbeatsAndAppendsOfOneInstanceNeverDeadlock() async throws {
        var limits = TestTiming.queueLimits
        limits.retryFor = .zero
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: limits)
        defer { q.close() }
        let timing = fastTiming()
        try await q.register(name: "i", address: "-", load: load(capacity: 1000), timing: timing)
        let ids = (1...60).map(Int64.init)
        for id in ids { try await q.enqueue(QueuedRequest(id: id, origin: "r", prompt: [1], params: greedy(1000))) }
        let planner = GlobalPlanner(policy: .roundRobin)
        let assigned = try await q.scheduleRound(limit: 100, timing: timing) { planner.plan($0, $1) }.assigned
        try #require(assigned.count == ids.count)
        let claimed = try await q.claim(instance: "i", limit: 100, timing: timing)
        try #require(claimed.count == ids.count)
        let rounds = 60
        let errors = try await withThrowingTaskGroup(of: [String].self) { g in
            g.addTask {
                var errors: [String] = []
                for _ in 0..<rounds {
                    do { _ = try await q.heartbeat(name: "i", load: load(capacity: 1000), timing: timing) } catch { errors.append("heartbeat: \(error)") }
                }
                return errors
            }
            g.addTask {
                var errors: [String] = []
                var g = SystemRandomNumberGenerator()
                for round in 0..<rounds {
                    // Deltas in a different order each time (the planner's join order is its own anyway).
                    let deltas = ids.shuffled(using: &g).map { TokenDelta(id: $0, start: round, tokens: [5]) }
                    do {
                        let refused = try await q.append(instance: "i", deltas)
                        if !refused.isEmpty { errors.append("append refused \(refused.count) deltas in round \(round)") }
                    } catch { errors.append("append: \(error)") }
                }
                return errors
            }
            return try await g.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        let p = try await q.progress(ids: ids)
        #expect(p.count == ids.count && p.allSatisfy { $0.tokens.count == (errors.isEmpty ? rounds : $0.tokens.count) })
    }

    @Test func concurrentRoundsNeverAssignARequestTwice() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let timing = fastTiming()
        for n in ["a", "b", "c"] { try await q.register(name: n, address: "-", load: load(capacity: 1000), timing: timing) }
        for i in 1...300 { try await q.enqueue(QueuedRequest(id: Int64(i), origin: "r", prompt: [1], params: greedy(1))) }
        let planners = (0..<4).map { _ in GlobalPlanner(policy: .roundRobin) }
        let assigned = try await withThrowingTaskGroup(of: [Assignment].self) { g in
            for p in planners {
                g.addTask {
                    var all: [Assignment] = []
                    for _ in 0..<10 { all += try await q.scheduleRound(limit: 16, timing: timing) { p.plan($0, $1) }.assigned }
                    return all
                }
            }
            return try await g.reduce(into: [Assignment]()) { $0 += $1 }
        }
        #expect(Set(assigned.map(\.requestId)).count == assigned.count, "a request was assigned twice")
        var attempts: [Int] = []
        for try await a in try await q.client.query("SELECT attempts FROM swiftlet_requests WHERE state = 'assigned'").decode(Int.self) {
            attempts.append(a)
        }
        #expect(attempts.count == assigned.count && attempts.allSatisfy { $0 == 1 })
    }

    /// The logs must tell a missing database from a refused connection from a failed statement, and never show
    /// the password.
    @Test func databaseErrorsNameTheirCauseWithoutThePassword() async throws {
        let base = try PostgresURL(try TestDatabase.server.get())
        func failure(_ url: String) async -> String {
            do { _ = try await PostgresQueue.connect(url, logger: quietLogger, limits: TestTiming.queueLimits); return "connected" } catch { return "\(error)" }
        }
        let missing = await failure("postgres://\(base.user):s3cret-pw@\(base.host):\(base.port)/no_such_db")
        #expect(missing.contains("SQLSTATE 3D000") && missing.contains("no_such_db") && missing.contains("\(base.host):\(base.port)"), "\(missing)")
        #expect(!missing.contains("s3cret-pw") && !missing.contains("Generic description"), "\(missing)")
        // Port 1 (tcpmux) is not listening on a test machine: the connection is refused.
        let refused = await failure("postgres://u:s3cret-pw@127.0.0.1:1/x")
        #expect(refused.contains("127.0.0.1:1/x") && refused.lowercased().contains("connect"), "\(refused)")
        #expect(!refused.contains("s3cret-pw") && !refused.contains("Generic description"), "\(refused)")
        // A server error on a live queue: the operation, its SQLSTATE and message; not a connection problem.
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        do {
            try await q.op("test") { _ in _ = try await q.client.query("SELECT 1/0", logger: quietLogger) }
            Issue.record("no error")
        } catch let e as QueueError {
            #expect(!e.unreachable, "\(e)")
            #expect(e.description.contains("queue test failed") && e.description.contains("SQLSTATE 22012")
                    && e.description.contains("division by zero"), "\(e)")
        }
        // A bad URL is reported without its password.
        #expect(PostgresURL.redacted("mysql://bob:p%40ss@db:1/q") == "mysql://bob:***@db:1/q")
        #expect(PostgresURL.redacted("postgres://bob@db/q") == "postgres://bob@db/q")
        do { _ = try PostgresURL("mysql://bob:hunter2@db:1/q"); Issue.record("accepted mysql://") } catch {
            #expect(!"\(error)".contains("hunter2") && "\(error)".contains("bob:***@db"), "\(error)")
        }
    }

    @Test func urlParsing() throws {
        let u = try PostgresURL("postgres://bob:p%40ss@db.example:6543/queue")
        #expect(u == (try PostgresURL("postgresql://bob:p%40ss@db.example:6543/queue")))
        #expect(u.user == "bob" && u.password == "p@ss" && u.host == "db.example" && u.port == 6543 && u.database == "queue")
        #expect(throws: ClusterError.self) { try PostgresURL("mysql://x@y/z") }
    }
}
