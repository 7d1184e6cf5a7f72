@testable import Cluster
import Engine
import Foundation
import Synchronization
import Testing

/// Records when the instance's engine produced each token, to measure the data path's lag per token.
final class StampingEngine: EngineClient {
    let inner: Engine
    let stamps = Mutex<[ContinuousClock.Instant]>([])
    init(_ inner: Engine) { self.inner = inner }
    var modelInfo: ModelInfo { inner.modelInfo }
    var isReady: Bool { true }
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] { inner.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    func decode(_ ids: [Int32], skipSpecial: Bool) -> String { inner.decode(ids, skipSpecial: skipSpecial) }
    func tokenText(_ id: Int32) -> String { inner.tokenText(id) }
    func renderChat(_ messages: [ChatMessageInput], addGenerationPrompt: Bool) throws -> String { "" }
    func stats() async -> EngineStats { inner.currentStats }
    func generate(_ request: EngineRequest) throws(EngineError) -> AsyncStream<RequestOutput> {
        let base = try inner.generate(request)
        return AsyncStream { c in
            let t = Task {
                for await o in base {
                    let now = ContinuousClock.now
                    stamps.withLock { s in for _ in o.newTokenIds { s.append(now) } }
                    c.yield(o)
                }
                c.finish()
            }
            c.onTermination = { _ in t.cancel() }
        }
    }
}

struct Timed { var ttft: Double; var perToken: Double; var arrivals: [ContinuousClock.Instant]; var tokens: [Int32] }

func timed(_ client: some EngineClient, _ prompt: [Int32], _ n: Int) async throws -> Timed {
    let start = ContinuousClock.now
    var arrivals: [ContinuousClock.Instant] = [], tokens: [Int32] = []
    for await o in try client.generate(EngineRequest(promptTokenIds: prompt, params: greedy(n))) {
        let now = ContinuousClock.now
        for t in o.newTokenIds { arrivals.append(now); tokens.append(t) }
    }
    let first = try #require(arrivals.first, "the request produced no token")
    let ttft = seconds(first - start)
    let per = arrivals.count > 1 ? seconds(arrivals[arrivals.count - 1] - first) / Double(arrivals.count - 1) : 0
    return Timed(ttft: ttft, perToken: per, arrivals: arrivals, tokens: tokens)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
func ms(_ x: Double) -> String { String(format: "%.2f ms", x * 1000) }

@Suite(.serialized) struct LatencyTests {
    /// Router + queue vs the engine alone, one request at a time (figures printed for the report).
    @Test func addedLatencyThroughRouterAndQueue() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let engine = try storiesEngine()
        engine.start()
        defer { engine.shutdown() }
        let stamping = StampingEngine(try storiesEngine())
        stamping.inner.start()
        var config = InstanceAgent.Config(name: "timed")
        config.address = "-"
        config.timing = fastTiming()
        let agent = InstanceAgent(engine: stamping, queue: q, config: config, logger: quietLogger)
        let agentTask = Task { try await agent.run() }
        let router = try await TestRouter(queue: q, policy: .freeness)
        try #require(try await eventually { try await q.status(timing: fastTiming()).instances.count == 1 }, "the instance did not register")
        let prompts = testPrompts(8, tokenizer: router.client)
        var local: [Timed] = [], cluster: [Timed] = [], lags: [Double] = [], aligned = 0
        for p in prompts {
            local.append(try await timed(engine, p, 128))
            stamping.stamps.withLock { $0.removeAll() }
            let t = try await timed(router.client, p, 128)
            let produced = stamping.stamps.withLock { $0 }
            // One stamp per produced token. On a loaded machine a lease can expire and a request be re-run,
            // producing extra stamps; such a run's lags cannot be paired, so it is left out of the figures.
            if produced.count == t.arrivals.count {
                lags += zip(t.arrivals, produced).map { seconds($0 - $1) }
                aligned += 1
            }
            cluster.append(t)
        }
        #expect(zip(local, cluster).allSatisfy { $0.tokens == $1.tokens })
        try #require(aligned >= prompts.count / 2, "only \(aligned) of \(prompts.count) runs had one stamp per token")
        let report = """
            single engine: TTFT \(ms(median(local.map(\.ttft)))), per token \(ms(median(local.map(\.perToken))))
            router+queue : TTFT \(ms(median(cluster.map(\.ttft)))), per token \(ms(median(cluster.map(\.perToken))))
            token lag engine→router (PostgreSQL NOTIFY path): median \(ms(median(lags))), p90 \(ms(lags.sorted()[lags.count * 9 / 10]))
            """
        print(report)
        #expect(median(lags) < 0.25 * TestTiming.scale, "the data path adds \(ms(median(lags))) per token")
        // One request at a time never finds work queued ahead: requests take the enqueue fast path.
        #expect(router.client.placementCounts.direct >= prompts.count / 2, "\(router.client.placementCounts)")
        agentTask.cancel()
        await router.stop()
        stamping.inner.shutdown()
    }
}
