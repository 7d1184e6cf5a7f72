@testable import Cluster
import CoreMetrics
import Engine
import Foundation
import Synchronization
import Testing

/// Sums what the agent reports, by metric label.
final class SummingMetrics: MetricsFactory, Sendable {
    final class Store: Sendable { let sums = Mutex<[String: (count: Int, sum: Double)]>([:]) }
    final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let label: String
        let store: Store
        init(_ label: String, _ store: Store) { self.label = label; self.store = store }
        func add(_ v: Double) { store.sums.withLock { s in let o = s[label] ?? (0, 0); s[label] = (o.count + 1, o.sum + v) } }
        func increment(by: Int64) { add(Double(by)) }
        func reset() {}
        func record(_ value: Int64) { add(Double(value)) }
        func record(_ value: Double) { add(value) }
        func recordNanoseconds(_ duration: Int64) { add(Double(duration) / 1e9) }
    }
    let store = Store()
    func value(_ label: String) -> (count: Int, sum: Double) { store.sums.withLock { $0[label] ?? (0, 0) } }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Handler(label, store) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Handler(label, store) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler(label, store) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

@Suite struct AgentMetricsTests {
    /// The group commit's metrics (what the simulator's FlushModel is calibrated on): every token the client got
    /// was appended, appends are fewer than tokens and batches of more than one, and each append was timed.
    @Test func appendsAreCountedAndTimed() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let engine = try storiesEngine()
        engine.start()
        defer { engine.shutdown() }
        let metrics = SummingMetrics()
        var config = InstanceAgent.Config(name: "counted")
        config.address = "-"
        config.timing = fastTiming()
        config.metricsFactory = metrics
        let agent = InstanceAgent(engine: engine, queue: q, config: config, logger: quietLogger)
        let agentTask = Task { try await agent.run() }
        let router = try await TestRouter(queue: q, policy: .freeness)
        try #require(try await eventually { try await q.status(timing: fastTiming()).instances.count == 1 }, "the instance did not register")
        let prompts = testPrompts(4, tokenizer: router.client)
        var received = 0
        try await withThrowingTaskGroup(of: Int.self) { group in
            for p in prompts {
                group.addTask {
                    var n = 0
                    for await o in try router.client.generate(EngineRequest(promptTokenIds: p, params: greedy(64))) { n += o.newTokenIds.count }
                    return n
                }
            }
            for try await n in group { received += n }
        }
        try #require(received == 4 * 64, "the requests got \(received) tokens")
        // The agent counts an append when its answer is back, which can come after the router has relayed what it
        // stored: wait until every received token is counted and every counted append timed.
        let settled = await eventually {
            metrics.value("swiftlet:cluster_appended_tokens_total").sum >= Double(received)
                && metrics.value("swiftlet:cluster_append_seconds").count == Int(metrics.value("swiftlet:cluster_appends_total").sum)
        }
        #expect(settled, "the agent's counts did not settle")
        let appends = metrics.value("swiftlet:cluster_appends_total").sum
        let tokens = metrics.value("swiftlet:cluster_appended_tokens_total").sum
        let timed = metrics.value("swiftlet:cluster_append_seconds")
        #expect(tokens >= Double(received), "\(tokens) tokens appended, \(received) received")
        #expect(appends >= 1 && appends < tokens, "\(appends) appends of \(tokens) tokens")
        #expect(timed.count == Int(appends) && timed.sum > 0, "\(timed.count) timings for \(appends) appends")
        agentTask.cancel()
        await router.stop()
    }
}
