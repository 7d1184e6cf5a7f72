import Bench
import Cluster
import CoreMetrics
import Engine
import Foundation
import Scheduler
import Simulator
import Synchronization
import Testing

enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path
}

/// A known cost model: what the fit must recover.
let truth = StepCostModel(knots: [1, 2, 4, 8, 16, 32, 64, 128, 256], knotSeconds: [1, 1.1, 1.3, 1.6, 2.4, 4, 7, 13, 25].map { $0 * 1e-3 },
                          decodeContextSeconds: 2e-7, prefillAttentionSeconds: 3e-9, sampledSeconds: 4e-5, sequenceSeconds: 1e-5)

func smallScheduler(numBlocks: Int = 400, maxSeqs: Int = 16, maxBatched: Int = 256) -> SchedulerConfig {
    SchedulerConfig(maxNumBatchedTokens: maxBatched, maxNumSeqs: maxSeqs, policy: .mixed, blockSize: 16, numBlocks: numBlocks)
}

func workload(_ n: Int, seed: UInt64, rate: Double, groups: Int = 4) -> [TraceRequest] {
    var g = SeededGenerator(seed: seed)
    let base = (0..<n).map { i in
        TraceRequest(arrival: 0, promptTokens: 20 + Int(g.next() % 100), outputTokens: 5 + Int(g.next() % 60),
                     prefixHash: Int64(i % groups))
    }
    return Traces.retimed(base, rate: rate, burstiness: 1, seed: seed)
}

@Suite struct CostModelTests {
    @Test func fitRecoversAKnownModel() throws {
        var shapes: [StepShape] = []
        for n in [1, 2, 3, 5, 8, 13, 21, 34, 55] {
            for c in [16, 100, 700] { var s = StepShape(); for _ in 0..<n { s.addDecode(context: c) }; shapes.append(s) }
        }
        for p in [8, 20, 50, 90, 130, 200, 256] {
            for start in [0, 64, 300] { var s = StepShape(); s.addPrefill(start: start, tokens: p, samples: p % 20 == 0); shapes.append(s) }
        }
        for (n, p) in [(3, 40), (10, 100), (30, 150)] {
            var s = StepShape(); for _ in 0..<n { s.addDecode(context: 200) }; s.addPrefill(start: 0, tokens: p, samples: true); shapes.append(s)
        }
        let fitted = try StepCostModel.fit(shapes.map { ($0, truth.seconds($0)) }, knots: truth.knots)
        for s in shapes { #expect(abs(fitted.seconds(s) / truth.seconds(s) - 1) < 1e-3, "\(s)") }
        #expect(abs(fitted.decodeContextSeconds / truth.decodeContextSeconds - 1) < 0.01)
        #expect(abs(fitted.prefillAttentionSeconds / truth.prefillAttentionSeconds - 1) < 0.01)
        // Off the samples: between knots and past the last one.
        var off = StepShape(); for _ in 0..<40 { off.addDecode(context: 333) }; off.addPrefill(start: 10, tokens: 250, samples: true)
        #expect(abs(fitted.seconds(off) / truth.seconds(off) - 1) < 0.01)
    }

    @Test func tooFewStepsIsAClearError() {
        var s = StepShape(); s.addDecode(context: 10)
        #expect(throws: SimulatorError.self) { try StepCostModel.fit([(s, 1e-3)], knots: [1, 2]) }
    }

    @Test func contextKnotsAreFittedAndOldProfilesStillRead() throws {
        // A machine whose decode keys cost more past 2,000 keys in a step (the KV cache out of a cache level).
        let hinged = StepCostModel(knots: truth.knots, knotSeconds: truth.knotSeconds, decodeContextSeconds: 2e-7,
                                   prefillAttentionSeconds: 3e-9, sampledSeconds: 4e-5, sequenceSeconds: 1e-5,
                                   contextKnots: [500, 2000], contextKnotSeconds: [0, 3e-7])
        var shapes: [StepShape] = []
        for n in [1, 2, 3, 5, 8, 13, 21, 34, 55] {
            for c in [16, 100, 300, 700] { var s = StepShape(); for _ in 0..<n { s.addDecode(context: c) }; shapes.append(s) }
        }
        for p in [8, 20, 50, 90, 130, 200, 256] { var s = StepShape(); s.addPrefill(start: 0, tokens: p, samples: true); shapes.append(s) }
        let samples = shapes.map { ($0, hinged.seconds($0)) }
        let fitted = try StepCostModel.fit(samples, knots: truth.knots, contextKnots: [500, 2000])
        for s in shapes { #expect(abs(fitted.seconds(s) / hinged.seconds(s) - 1) < 1e-3, "\(s)") }
        #expect(abs(fitted.contextKnotSeconds[1] / 3e-7 - 1) < 0.02)
        // Linear in keys, the same steps are fitted worse: the knots carry what the data show.
        let linear = try StepCostModel.fit(samples, knots: truth.knots)
        let worst = { (m: StepCostModel) in shapes.map { abs(m.seconds($0) / hinged.seconds($0) - 1) }.max()! }
        #expect(worst(linear) > 10 * worst(fitted))
        // Round trip, and a profile written before the knots existed reads as linear in keys.
        let data = try JSONEncoder().encode(fitted)
        #expect(try JSONDecoder().decode(StepCostModel.self, from: data) == fitted)
        let old = #"{"knots":[1,2],"knotSeconds":[0.001,0.002],"decodeContextSeconds":1e-7,"prefillAttentionSeconds":1e-9,"sampledSeconds":0,"sequenceSeconds":0}"#
        let read = try JSONDecoder().decode(StepCostModel.self, from: Data(old.utf8))
        #expect(read.contextKnots.isEmpty && read.contextKnotSeconds.isEmpty)
        #expect(abs(read.seconds(StepShape(decodeSequences: 2, decodeContext: 100, sampled: 2)) - (0.002 + 1e-5)) < 1e-12)
    }

    @Test func scaledIsEveryStepSlowerByTheFactor() {
        let slow = truth.scaled(by: 1.25)
        for shape in [StepShape(decodeSequences: 3, decodeContext: 900, sampled: 3),
                      StepShape(prefillTokens: 200, prefillSequences: 1, prefillAttention: 20_100, sampled: 1)] {
            #expect(abs(slow.seconds(shape) / truth.seconds(shape) - 1.25) < 1e-9)
        }
    }

    @Test func negativeTermsAreDroppedNotFitted() throws {
        // Times that fall with context: the attention term must not go negative.
        var samples: [(shape: StepShape, seconds: Double)] = []
        for n in [1, 2, 4, 8, 16] {
            for c in [10, 100, 1000] {
                var s = StepShape(); for _ in 0..<n { s.addDecode(context: c) }
                samples.append((s, 1e-3 * Double(n) * (c == 1000 ? 0.98 : 1)))
            }
        }
        let m = try StepCostModel.fit(samples, knots: [1, 2, 4, 8, 16])
        #expect(m.decodeContextSeconds >= 0 && m.prefillAttentionSeconds >= 0 && m.sampledSeconds >= 0 && m.sequenceSeconds >= 0)
    }

    @Test func shapeOfAPlannedStep() throws {
        var sch = Scheduler(config: smallScheduler())
        try sch.add(SchedulerRequest(id: 1, promptTokenIds: Array(repeating: 5, count: 40), maxTokens: 3, arrival: 1))
        let out = sch.schedule()
        let s = StepShape(out)
        #expect(s.prefillTokens == 40 && s.prefillSequences == 1 && s.sampled == 1 && s.decodeSequences == 0)
        #expect(s.prefillAttention == 40 * 20.5)
        sch.update(after: out, sampled: [1: 9])
        let d = StepShape(sch.schedule())
        #expect(d.decodeSequences == 1 && d.decodeContext == 41 && d.prefillTokens == 0)
    }
}

@Suite struct ClusterSimulatorTests {
    func config(_ policy: RoutingPolicyKind, instances: Int = 3, seed: UInt64 = 1,
                scenario: SimScenario = SimScenario()) -> SimulationConfig {
        SimulationConfig(instances: (0..<instances).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                         policy: policy, overhead: ClusterOverhead(dispatch: 0.004, relay: 0.002), scenario: scenario, seed: seed)
    }

    @Test(arguments: RoutingPolicyKind.allCases)
    func deterministicForASeed(_ policy: RoutingPolicyKind) {
        let trace = workload(300, seed: 3, rate: 60)
        let a = ClusterSimulator(config: config(policy)).run(trace, recordSteps: true)
        let b = ClusterSimulator(config: config(policy)).run(trace, recordSteps: true)
        #expect(a == b)
        #expect(a.outcomes.allSatisfy { $0.success })
        #expect(a.outcomes.map(\.outputTokens) == trace.map(\.outputTokens))
        #expect(a.instances.map(\.served).reduce(0, +) == trace.count)
    }

    @Test func seedsChangeRandomPolicies() {
        let trace = workload(300, seed: 3, rate: 60)
        let a = ClusterSimulator(config: config(.powerOfTwo, seed: 1)).run(trace)
        let b = ClusterSimulator(config: config(.powerOfTwo, seed: 2)).run(trace)
        #expect(a.instances.map(\.served) != b.instances.map(\.served))
    }

    @Test func moreInstancesCutQueueingAtHighLoad() {
        let trace = workload(400, seed: 5, rate: 200)
        let two = ClusterSimulator(config: config(.leastRequests, instances: 2)).run(trace)
        let six = ClusterSimulator(config: config(.leastRequests, instances: 6)).run(trace)
        let ttft = { (r: SimulationResult) in BenchmarkMetrics(outcomes: r.outcomes, duration: r.duration).ttft.median }
        #expect(ttft(six) < ttft(two))
        // The cluster overhead is in every TTFT: dispatch + first step + relay.
        #expect(six.outcomes.allSatisfy { $0.ttft >= 0.006 })
    }

    @Test func aFailedInstancesRequestsFinishElsewhere() {
        let trace = workload(200, seed: 7, rate: 40)
        let r = ClusterSimulator(config: config(.roundRobin, scenario: SimScenario([.fail(instance: 1, at: 1.0)]))).run(trace)
        #expect(r.outcomes.allSatisfy { $0.success })
        #expect(r.outcomes.map(\.outputTokens) == trace.map(\.outputTokens))
        // Requests it held are resumed after the lease: some TTFT-after gap of at least a lease shows in their ITL.
        #expect(r.outcomes.contains { $0.itl.contains { $0 >= 2.5 } })
        let served = r.instances.map(\.served)
        #expect(served[1] < served[0] && served[1] < served[2])
    }

    @Test func drainTakesNoNewWork() {
        let trace = workload(200, seed: 8, rate: 40)
        let r = ClusterSimulator(config: config(.leastRequests, scenario: SimScenario([.drain(instance: 0, at: 0)]))).run(trace)
        #expect(r.outcomes.allSatisfy { $0.success })
        #expect(r.instances[0].served == 0)
    }

    @Test func scenarioParsing() throws {
        #expect(try SimScenario(parsing: "fail:1@30,drain:0@2.5").events == [.fail(instance: 1, at: 30), .drain(instance: 0, at: 2.5)])
        #expect(throws: SimulatorError.self) { try SimScenario(parsing: "explode:1@3") }
        #expect(throws: SimulatorError.self) { try SimScenario(parsing: "fail:1") }
    }

    @Test func traceFileRoundTripAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sim-trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = workload(20, seed: 9, rate: 5)
        let path = dir.appendingPathComponent("t.jsonl").path
        try (trace.map { Traces.line($0) }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let back = try Traces.read(path: path)
        #expect(back.map(\.promptTokens) == trace.map(\.promptTokens))
        #expect(back.map(\.outputTokens) == trace.map(\.outputTokens))
        #expect(back.map(\.prefixHash) == trace.map(\.prefixHash))
        #expect(zip(back, trace).allSatisfy { abs($0.arrival - $1.arrival) < 1e-9 })
        let bad = dir.appendingPathComponent("bad.jsonl").path
        try "{\"arrival\": 0, \"prompt_tokens\": 3, \"output_tokens\": 2}\n{\"arrival\": 1}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect { try Traces.read(path: bad) } throws: { "\($0)".contains("bad.jsonl:2") }
    }

    @Test func readsWhatTheRouterRecords() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sim-router-trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = [RequestTraceRecord(arrival: 0.5, promptTokens: 12, outputTokens: 7, prefixHash: 99, finish: .length),
                       RequestTraceRecord(arrival: 0.25, promptTokens: 30, outputTokens: 3, prefixHash: 5, finish: .stop),
                       RequestTraceRecord(arrival: 0.75, promptTokens: 9, outputTokens: 0, prefixHash: 5, finish: .abort)]
        let path = dir.appendingPathComponent("router.jsonl").path
        try records.map(\.jsonLine).joined().write(toFile: path, atomically: true, encoding: .utf8)
        let t = try Traces.read(path: path)
        // Sorted by arrival; the abort before any token is left out.
        #expect(t.map(\.arrival) == [0.25, 0.5])
        #expect(t.map(\.promptTokens) == [30, 12] && t.map(\.outputTokens) == [3, 7] && t.map(\.prefixHash) == [5, 99])
    }

    @Test func sharedPrefixHashesShareCachedBlocks() {
        // 40 requests of one prefix group on one instance: their first 32 tokens (two blocks) are cached after the first.
        let trace = (0..<40).map { TraceRequest(arrival: Double($0) * 0.05, promptTokens: 64, outputTokens: 4, prefixHash: 42) }
        let r = ClusterSimulator(config: config(.roundRobin, instances: 1)).run(trace)
        #expect(r.instances[0].prefixCacheHits >= 39 * 32)
    }

    @Test func explorationFindsTheCheapestConfiguration() {
        let trace = workload(300, seed: 11, rate: 50)
        let profile = EngineProfile(date: "", machine: .init(cpu: "test", logicalCPUs: 1, isa: "portable", memoryBytes: 0, hostname: ""),
                                    model: "m", modelPath: "", engine: .init(precision: "exact", blockSize: 16, numBlocks: 400,
                                    maxNumBatchedTokens: 256, maxNumSeqs: 16, policy: "mixed", enablePrefixCaching: true, maxModelLen: 6400),
                                    cost: truth, samples: [])
        let e = Exploration(policies: [.roundRobin, .leastRequests], instanceCounts: [1, 2, 4], rates: [20, 200], profiles: [profile],
                            goodput: GoodputBounds(ttftMs: 100))
        let points = e.run(trace)
        #expect(points.count == 12)
        let best = Exploration.cheapest(points, target: 0.9)
        #expect(best.count == 2)
        // A higher rate never needs fewer instances.
        if let lo = best[0].best, let hi = best[1].best { #expect(lo.instances <= hi.instances) }
        #expect(Exploration.series(points).count == 6)
    }
}

@Suite struct HostCPUTests {
    func run(_ host: HostCPU, instances: Int = 2, rate: Double = 60, seed: UInt64 = 3) -> BenchmarkMetrics {
        let trace = workload(300, seed: seed, rate: rate)
        let c = SimulationConfig(instances: (0..<instances).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                                 policy: .leastRequests, overhead: ClusterOverhead(dispatch: 0.004, relay: 0.002, host: host), seed: 1)
        let r = ClusterSimulator(config: c).run(trace)
        #expect(r.outcomes.allSatisfy { $0.success })
        return BenchmarkMetrics(outcomes: r.outcomes, duration: r.duration)
    }

    @Test func noDemandNoEffect() {
        let trace = workload(300, seed: 3, rate: 60)
        func sim(_ h: HostCPU) -> SimulationResult {
            ClusterSimulator(config: SimulationConfig(
                instances: (0..<2).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                policy: .leastRequests, overhead: ClusterOverhead(dispatch: 0.004, relay: 0.002, host: h))).run(trace, recordSteps: true)
        }
        let base = sim(HostCPU())
        #expect(sim(HostCPU(cores: 2)) == base)
        // Demand but no host: off.
        #expect(sim(HostCPU(cores: 0, perRequest: 0.01, perToken: 0.001)) == base)
        // On: the same steps (the scheduler sees the same requests in the same order here), other times.
        let on = sim(HostCPU(cores: 2, perToken: 3e-4))
        #expect(on != base)
    }

    @Test func deterministicWithTheHostModel() {
        let trace = workload(300, seed: 4, rate: 80)
        let c = SimulationConfig(instances: (0..<3).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                                 policy: .powerOfTwo, overhead: ClusterOverhead(dispatch: 0.004, relay: 0.002,
                                 host: HostCPU(cores: 3, perRequest: 2e-3, perToken: 2e-4)), seed: 9)
        #expect(ClusterSimulator(config: c).run(trace, recordSteps: true) == ClusterSimulator(config: c).run(trace, recordSteps: true))
    }

    @Test func moreCPUPerTokenRaisesTPOTAtHighRate() {
        let tpot = [0, 1e-4, 2e-4, 3e-4].map { run(HostCPU(cores: 2, perToken: $0), rate: 150).tpot.median }
        for (a, b) in zip(tpot, tpot.dropFirst()) { #expect(b > a * 1.05, "\(tpot)") }
        // At a low rate, with both instances mostly idle, the control plane runs on idle cores: little effect.
        let lo0 = run(HostCPU(cores: 2), rate: 5).tpot.median, lo3 = run(HostCPU(cores: 2, perToken: 3e-4), rate: 5).tpot.median
        #expect(lo3 / lo0 - 1 < (tpot[3] / tpot[0] - 1) / 3, "low \(lo0) \(lo3), high \(tpot)")
    }

    @Test func idleCoresAbsorbTheControlPlane() {
        // One busy instance on four cores: the control plane fits on the three idle ones, steps keep their time.
        let alone = run(HostCPU(cores: 4), instances: 1, rate: 40).tpot.median
        let spare = run(HostCPU(cores: 4, perToken: 2e-4), instances: 1, rate: 40).tpot.median
        #expect(abs(spare / alone - 1) < 0.02, "\(alone) \(spare)")
        // The same demand on the instance's only core stretches its steps.
        let shared = run(HostCPU(cores: 1, perToken: 2e-4), instances: 1, rate: 40).tpot.median
        #expect(shared > alone * 1.1, "\(alone) \(shared)")
    }

    @Test func coRunningInstancesSlowEachOther() {
        // Alone on the host, the co-run term never applies: one instance's steps keep their time.
        let one = run(HostCPU(), instances: 1, rate: 40).tpot.median
        #expect(run(HostCPU(coRun: 0.3), instances: 1, rate: 40).tpot.median == one)
        // Two instances kept busy (150 req/s) step side by side nearly all the time: TPOT grows by at least about
        // the factor (more, once the slower steps let batches grow).
        let two = run(HostCPU(), rate: 150).tpot.median, slowed = run(HostCPU(coRun: 0.3), rate: 150).tpot.median
        #expect(slowed > two * 1.2, "\(two) \(slowed)")
        // At 5 req/s they rarely overlap: much less effect.
        let lo = run(HostCPU(), rate: 5).tpot.median, loSlowed = run(HostCPU(coRun: 0.3), rate: 5).tpot.median
        #expect(loSlowed >= lo && loSlowed / lo - 1 < (slowed / two - 1) / 2, "\(lo) \(loSlowed)")
    }

    @Test func anOverloadedControlPlaneQueues() {
        // Demand beyond what the host gives the control plane: its backlog delays first tokens without bound.
        let base = run(HostCPU(cores: 2), rate: 150)
        let over = run(HostCPU(cores: 2, perRequest: 5e-3, perToken: 1e-3), rate: 150)
        #expect(over.ttft.median > 5 * base.ttft.median, "\(base.ttft.median) \(over.ttft.median)")
        #expect(over.ttft.p99 > over.ttft.median)
    }
}

/// Captures the engine's per-step batch sizes (`swiftlet:iteration_tokens_total`).
final class StepRecorder: MetricsFactory, RecorderHandler, CounterHandler, TimerHandler, Sendable {
    let values = Mutex<[Int64]>([])
    let label: String
    init(label: String = "") { self.label = label }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { self }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        label == "swiftlet:iteration_tokens_total" ? self : StepRecorder(label: "other")
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { self }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
    func record(_ value: Int64) { if label.isEmpty { values.withLock { $0.append(value) } } }
    func record(_ value: Double) {}
    func increment(by: Int64) {}
    func reset() {}
    func recordNanoseconds(_ duration: Int64) {}
}

@Suite struct SimulatorMatchesTheEngineTests {
    /// The same requests through the real engine (stories260K) and through one simulated instance with the engine's
    /// scheduler settings: every step has the same batch size, and preemptions and prefix-cache hits agree.
    @Test func sameStepsAsTheRealEngine() async throws {
        var c = EngineConfig()
        c.numBlocks = 40        // tight: the requests preempt each other
        c.maxNumSeqs = 8
        c.maxNumBatchedTokens = 96
        let rec = StepRecorder()
        let engine = try Engine.load(modelPath: Paths.stories, tokenizerPath: Paths.storiesTok, config: c, metricsFactory: rec)
        var g = SeededGenerator(seed: 21)
        let shared = (0..<32).map { _ in Int32(1 + g.next() % 500) }
        var trace: [TraceRequest] = []
        var streams: [AsyncStream<RequestOutput>] = []
        for i in 0..<14 {
            let own = (0..<(10 + Int(g.next() % 60))).map { _ in Int32(1 + g.next() % 500) }
            let prompt = (i % 2 == 0 ? shared : []) + own
            var p = SamplingParams()
            p.temperature = 0; p.ignoreEOS = true; p.maxTokens = 20 + Int(g.next() % 80)
            trace.append(TraceRequest(arrival: 0, promptTokens: prompt.count, outputTokens: p.maxTokens, prompt: prompt))
            streams.append(try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)))
        }
        engine.start()   // every request is in the inbox: the first step sees them all, as the simulator's does
        var counts: [Int] = []
        for s in streams {
            var n = 0
            for await o in s { n += o.newTokenIds.count }
            counts.append(n)
        }
        let stats = engine.currentStats
        engine.shutdown()
        let spec = SimInstanceSpec(name: "one", scheduler: engine.schedulerConfig, cost: truth)
        let sim = ClusterSimulator(config: SimulationConfig(instances: [spec], policy: .roundRobin)).run(trace, recordSteps: true)
        #expect(counts == trace.map(\.outputTokens))
        #expect(sim.outcomes.map(\.outputTokens) == counts)
        let engineSteps = rec.values.withLock { $0 }.map { Int($0) }
        let simSteps = try #require(sim.stepLog.first).map(\.batchTokens)
        #expect(engineSteps.count == simSteps.count)
        #expect(engineSteps == simSteps)
        #expect(stats.numPreemptions > 0)
        #expect(sim.instances[0].preemptions == stats.numPreemptions)
        #expect(stats.prefixCacheHits > 0)
        #expect(sim.instances[0].prefixCacheHits == stats.prefixCacheHits)
        #expect(sim.instances[0].prefixCacheQueries == stats.prefixCacheQueries)
    }
}

@Suite struct FlushModelTests {
    func sim(_ flush: FlushModel, instances: Int = 2, rate: Double = 60, seed: UInt64 = 3, host: HostCPU = HostCPU(),
             scenario: SimScenario = SimScenario(), n: Int = 300, policy: RoutingPolicyKind = .leastRequests) -> SimulationResult {
        let trace = workload(n, seed: seed, rate: rate)
        var o = ClusterOverhead(dispatch: 0.004, relay: 0.002, host: host)
        o.flush = flush
        let c = SimulationConfig(instances: (0..<instances).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                                 policy: policy, overhead: o, scenario: scenario, seed: 1)
        let r = ClusterSimulator(config: c).run(trace, recordSteps: true)
        #expect(r.outcomes.allSatisfy { $0.success })
        #expect(r.outcomes.map(\.outputTokens) == trace.map(\.outputTokens))
        // Every token reached the client once: one arrival time per token (none counted that never landed).
        #expect(r.outcomes.allSatisfy { $0.itl.count == $0.outputTokens - 1 })
        return r
    }

    @Test func offByDefaultAndDeterministic() {
        #expect(!FlushModel().isOn)
        let base = sim(FlushModel())
        #expect(base.instances.allSatisfy { $0.appends == 0 })
        let f = FlushModel(latency: 0.003, hostCPU: 5e-4, instanceCPU: 1e-4)
        let a = sim(f, host: HostCPU(cores: 2, perRequest: 1e-3, perToken: 2e-5)), b = sim(f, host: HostCPU(cores: 2, perRequest: 1e-3, perToken: 2e-5))
        #expect(a == b)
        #expect(a != base)
    }

    @Test func anAppendCarriesEveryTokenSinceTheLastAndMoreUnderLoad() {
        // A round trip of 5 ms against steps of 1-4 ms: one append at a time gathers the tokens of several steps.
        let f = FlushModel(latency: 0.005)
        let lo = sim(f, rate: 5), hi = sim(f, rate: 150)
        func perAppend(_ r: SimulationResult) -> Double {
            Double(r.outcomes.map(\.outputTokens).reduce(0, +)) / Double(r.instances.map(\.appends).reduce(0, +))
        }
        for r in [lo, hi] {
            let steps = r.instances.map(\.steps).reduce(0, +), appends = r.instances.map(\.appends).reduce(0, +)
            #expect(appends > 0 && appends < steps, "\(appends) appends, \(steps) steps")
        }
        #expect(perAppend(hi) > 2 * perAppend(lo), "\(perAppend(lo)) \(perAppend(hi))")
        // Tokens that land together reach the client together: gaps of zero inside an append, and gaps of at least
        // a round trip between appends.
        let gaps = lo.outcomes.flatMap(\.itl)
        #expect(gaps.contains(0))
        #expect(gaps.filter { $0 > 0 }.allSatisfy { $0 >= 0.005 - 1e-9 }, "\(gaps.filter { $0 > 0 }.min() ?? 0)")
        // Every first token waits for at least one round trip beyond the dispatch, the first step and the relay.
        let first = truth.knotSeconds[0]
        #expect(lo.outcomes.allSatisfy { $0.ttft >= 0.004 + first + 0.005 + 0.002 - 1e-9 })
    }

    @Test func aFixedCostPerAppendIsSharedByMoreTokensUnderLoad() {
        // The same control-plane CPU as a cost per append: per token it falls as appends grow, so at a high rate it
        // slows the cluster less than the same CPU charged per token at the low rate's append size would.
        let host = HostCPU(cores: 2)
        let lo = sim(FlushModel(latency: 0.002, hostCPU: 1e-3), rate: 5, host: host)
        let tokens = Double(lo.outcomes.map(\.outputTokens).reduce(0, +)), appends = Double(lo.instances.map(\.appends).reduce(0, +))
        let perTokenAtLow = 1e-3 * appends / tokens
        let fixed = sim(FlushModel(latency: 0.002, hostCPU: 1e-3), rate: 150, host: host)
        var h = host; h.perToken = perTokenAtLow
        let linear = sim(FlushModel(latency: 0.002), rate: 150, host: h)
        let tpot = { (r: SimulationResult) in BenchmarkMetrics(outcomes: r.outcomes, duration: r.duration).tpot.median }
        #expect(tpot(fixed) < tpot(linear), "per append \(tpot(fixed)), per token \(tpot(linear))")
    }

    @Test func hopsQueueBehindABusyControlPlane() {
        // A busy control plane (15 ms of CPU per request at 30 req/s: about half a core, against what it can use of
        // two): with hop queueing the dispatch and the appends wait for a CPU, so first tokens come later; with an
        // idle one (2 req/s), hardly.
        let f = FlushModel(latency: 0.002, hostCPU: 5e-4)
        let busy = HostCPU(cores: 2, perRequest: 15e-3), queued = HostCPU(cores: 2, perRequest: 15e-3, hopQueueing: true)
        let ttft = { (r: SimulationResult) in BenchmarkMetrics(outcomes: r.outcomes, duration: r.duration).ttft.median }
        let hi = ttft(sim(f, rate: 30, host: busy)), hiQ = ttft(sim(f, rate: 30, host: queued))
        let lo = ttft(sim(f, rate: 2, host: busy)), loQ = ttft(sim(f, rate: 2, host: queued))
        #expect(hiQ > hi * 1.1, "\(hi) \(hiQ)")
        #expect(loQ >= lo && loQ / lo - 1 < (hiQ / hi - 1) / 2, "\(lo) \(loQ)")
        // Off without the shared-host model.
        #expect(sim(f, rate: 150, host: HostCPU(hopQueueing: true)) == sim(f, rate: 150))
    }

    @Test func instanceCPUPerAppendLengthensItsSteps() {
        let base = sim(FlushModel(latency: 0.001), rate: 40)
        let cost = sim(FlushModel(latency: 0.001, instanceCPU: 5e-4), rate: 40)
        #expect(cost.instances.map(\.busySeconds).reduce(0, +) > base.instances.map(\.busySeconds).reduce(0, +))
    }

    @Test func tokensNotYetAppendedDieWithTheInstance() {
        // A long round trip, so the instance holds unappended tokens when it dies: those requests resume elsewhere
        // from what landed, and every request still ends with exactly its tokens (checked in `sim`).
        let r = sim(FlushModel(latency: 0.02), instances: 3, rate: 150, scenario: SimScenario([.fail(instance: 1, at: 1.0)]), n: 300,
                    policy: .roundRobin)
        #expect(r.outcomes.contains { $0.itl.contains { $0 >= 2.5 } },
                "served \(r.instances.map(\.served)), longest gap \(r.outcomes.flatMap(\.itl).max() ?? 0), longest TTFT \(r.outcomes.map(\.ttft).max() ?? 0)")
    }
}

/// The router's admission limit (`swiftlet router --max-queued-requests`): 429 while too many wait for a first token.
@Suite struct AdmissionLimitTests {
    func sim(limit: Int?, rate: Double = 400, n: Int = 400) -> (trace: [TraceRequest], result: SimulationResult) {
        let trace = workload(n, seed: 21, rate: rate)
        var c = SimulationConfig(instances: (0..<2).map { SimInstanceSpec(name: "i\($0)", scheduler: smallScheduler(), cost: truth) },
                                 policy: .leastRequests, overhead: ClusterOverhead(dispatch: 0.004, relay: 0.002), seed: 1)
        c.maxQueuedRequests = limit
        return (trace, ClusterSimulator(config: c).run(trace))
    }

    @Test func aLimitNeverReachedChangesNothing() {
        let (_, none) = sim(limit: nil)
        let (_, high) = sim(limit: 100_000)
        #expect(none == high)
        #expect(none.outcomes.allSatisfy { $0.success })
    }

    @Test func overloadIsTurnedAwayOnlyWhenTheLimitIsReached() throws {
        let limit = 8
        let (trace, r) = sim(limit: limit)
        let rejected = r.outcomes.indices.filter { r.outcomes[$0].error == simulatedRateLimitError }
        let accepted = r.outcomes.indices.filter { r.outcomes[$0].success }
        #expect(!rejected.isEmpty)
        #expect(rejected.count + accepted.count == trace.count)
        #expect(rejected.allSatisfy { r.outcomes[$0].outputTokens == 0 && !r.outcomes[$0].success })
        #expect(accepted.allSatisfy { r.outcomes[$0].outputTokens == trace[$0].outputTokens })
        // Requests waiting for their first token at t: accepted ones that arrived by t and had no first token yet.
        func waiting(at t: Double, except i: Int) -> Int {
            accepted.filter { j in
                j != i && r.outcomes[j].startTime <= t && t < r.outcomes[j].startTime + r.outcomes[j].ttft - 1e-12
            }.count
        }
        for i in accepted { #expect(waiting(at: r.outcomes[i].startTime, except: i) < limit) }
        for i in rejected { #expect(waiting(at: r.outcomes[i].startTime, except: i) >= limit) }
        // Shedding load keeps the admitted requests' first tokens prompt.
        let (_, open) = sim(limit: nil)
        let ttft = { (x: SimulationResult) in BenchmarkMetrics(outcomes: x.outcomes, duration: x.duration).ttft.p99 }
        #expect(ttft(r) < ttft(open))
    }

    @Test func explorationSweepsLimitsAndLabelsThem() {
        let profile = EngineProfile(date: "", machine: .init(cpu: "test", logicalCPUs: 1, isa: "portable", memoryBytes: 0, hostname: ""),
                                    model: "m", modelPath: "", engine: .init(precision: "exact", blockSize: 16, numBlocks: 400,
                                    maxNumBatchedTokens: 256, maxNumSeqs: 16, policy: "mixed", enablePrefixCaching: true, maxModelLen: 6400),
                                    cost: truth, samples: [])
        var e = Exploration(policies: [.roundRobin], instanceCounts: [2], rates: [400], profiles: [profile])
        e.queueLimits = [8, nil]
        let points = e.run(workload(300, seed: 4, rate: 400))
        #expect(points.map(\.label) == ["round-robin x2 q8", "round-robin x2 q-"])
        #expect(points.map(\.queueLimit) == [8, nil])
        #expect(points[0].result.metrics.completed < 300 && points[1].result.metrics.completed == 300)
        #expect(Exploration.table(points).contains("round-robin x2 q8"))
        #expect(Exploration.series(points).count == 2)
        // One limit: labels as before.
        e.queueLimits = [8]
        #expect(e.run(workload(50, seed: 4, rate: 10)).map(\.label) == ["round-robin x2"])
    }
}
