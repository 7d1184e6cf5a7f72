@testable import Cluster
import Engine
import Synchronization
import Testing

/// A queue whose appends fail for a while, the way a PostgreSQL restart makes them fail. Each of the next
/// `failing` appends throws an unreachable `QueueError`; with `storing`, it is applied to the queue first (the
/// database committed it, the answer was lost).
final class FlakyQueue: DistributedQueue {
    let base: any DistributedQueue
    private let faults = Mutex<(failing: Int, storing: Bool, failed: Int)>((0, false, 0))

    init(_ base: any DistributedQueue) { self.base = base }

    func failAppends(_ n: Int, storing: Bool) { faults.withLock { $0.failing = n; $0.storing = storing } }
    /// While set, `ping` throws as an unreachable database does.
    let unreachable = Mutex(false)
    func ping() async throws {
        if unreachable.withLock({ $0 }) { throw QueueError("queue ping failed: a test outage", unreachable: true) }
        try await base.ping()
    }
    var failedAppends: Int { faults.withLock { $0.failed } }

    func append(instance: String, _ deltas: [TokenDelta]) async throws -> Set<Int64> {
        let (fail, store) = faults.withLock { f -> (Bool, Bool) in
            guard f.failing > 0 else { return (false, false) }
            f.failing -= 1; f.failed += 1
            return (true, f.storing)
        }
        guard fail else { return try await base.append(instance: instance, deltas) }
        if store { _ = try await base.append(instance: instance, deltas) }
        throw QueueError("queue append failed: database connection failed: connectionError (a test fault)", unreachable: true)
    }

    func enqueue(_ request: QueuedRequest, directTo instance: String?, timing: ClusterTiming) async throws -> Bool {
        try await base.enqueue(request, directTo: instance, timing: timing)
    }
    func finish(id: Int64, reason: EngineFinishReason) async throws { try await base.finish(id: id, reason: reason) }
    func progress(ids: [Int64]) async throws -> [RequestProgress] { try await base.progress(ids: ids) }
    func scheduleRound(limit: Int, timing: ClusterTiming,
                       plan: ([PendingRequest], [InstanceRecord]) -> [Assignment]) async throws
        -> (assigned: [Assignment], reaped: [ReapedRequest]) {
        try await base.scheduleRound(limit: limit, timing: timing, plan: plan)
    }
    func status(timing: ClusterTiming) async throws -> ClusterStatus { try await base.status(timing: timing) }
    func register(name: String, address: String, load: InstanceLoad, timing: ClusterTiming) async throws {
        try await base.register(name: name, address: address, load: load, timing: timing)
    }
    func heartbeat(name: String, load: InstanceLoad, timing: ClusterTiming) async throws -> Bool {
        try await base.heartbeat(name: name, load: load, timing: timing)
    }
    func claim(instance: String, limit: Int, holding: Set<Int64>?, timing: ClusterTiming) async throws -> [ClaimedRequest] {
        try await base.claim(instance: instance, limit: limit, holding: holding, timing: timing)
    }
    func release(instance: String) async throws { try await base.release(instance: instance) }
    func deregister(name: String) async throws { try await base.deregister(name: name) }
    func setDraining(name: String, _ draining: Bool) async throws -> Bool { try await base.setDraining(name: name, draining) }
    func purge(olderThan seconds: Double) async throws { try await base.purge(olderThan: seconds) }
    func signals(_ channels: [QueueChannel]) -> AsyncStream<QueueSignal> { base.signals(channels) }
}

/// Past the outage limit the router ends its open streams with an error and refuses new requests (503) until the
/// queue answers again.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OutageLimitTests {
    @Test func streamsEndWithAnErrorPastTheOutageLimitAndServiceResumes() async throws {
        let q = FlakyQueue(MemoryQueue())
        let router = try await TestRouter(queue: q)
        let watch = RouterOutageWatch(router: router.client, limit: .milliseconds(500), probeEvery: .milliseconds(50),
                                      logger: quietLogger)
        let watching = Task { try await watch.run() }
        defer { watching.cancel() }
        // No instance: the request stays queued, its stream open.
        let prompt = testPrompts(1, tokenizer: router.client)[0]
        let stream = try router.client.generate(EngineRequest(promptTokenIds: prompt, params: greedy(8)))
        q.unreachable.withLock { $0 = true }
        let began = ContinuousClock.now
        let got = await collect(stream)
        #expect(got.finish == .error && (got.error ?? "").contains("unreachable"), "\(got)")
        #expect(ContinuousClock.now - began >= .milliseconds(400), "ended before the limit")
        #expect(await eventually { !router.client.isReady }, "still ready past the limit")
        #expect(router.client.unavailableReason?.contains("queue") == true, "\(router.client.unavailableReason ?? "nil")")
        q.unreachable.withLock { $0 = false }
        #expect(await eventually { router.client.isReady }, "not ready once the queue answers")
        await router.stop()
    }
}

/// Instances ride out a queue they cannot append to: the tokens stay buffered and go out once it answers again.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OutageTests {
    /// 15 failed appends in a row take about 6 s of retries (longer than the old give-up point of 12 attempts,
    /// after which the buffered tokens were lost and the streams hung). With `storing`, every failed append was
    /// committed first (the answer lost): the instance must not deliver those tokens twice, nor drop the request
    /// when the next append is refused as a replay.
    @Test(arguments: [false, true])
    func appendsFailingForAWhileLoseAndRepeatNoToken(storing: Bool) async throws {
        let q = FlakyQueue(MemoryQueue())
        let router = try await TestRouter(queue: q)
        let instance = try TestInstance(queue: q, name: "i1")
        let prompts = testPrompts(8, tokenizer: router.client)
        let expected = try await reference(prompts, maxTokens: 64)
        q.failAppends(15, storing: storing)
        let got = await withTaskGroup(of: (Int, Collected).self) { g in
            for (i, p) in prompts.enumerated() {
                g.addTask { (i, await collectOrError { try router.client.generate(EngineRequest(promptTokenIds: p, params: greedy(64))) }) }
            }
            return await g.reduce(into: [Int: Collected]()) { $0[$1.0] = $1.1 }
        }
        #expect(q.failedAppends == 15, "the fault did not happen")
        for i in prompts.indices { #expect(got[i] == expected[i], "request \(i)") }
        #expect(await eventually { instance.agent.activeCount == 0 }, "requests left behind: \(instance.agent.activeCount)")
        #expect(instance.agent.servedCount == prompts.count, "served \(instance.agent.servedCount)")
        await router.stop(); await instance.stop()
    }
}
