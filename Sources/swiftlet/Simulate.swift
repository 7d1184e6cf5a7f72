import ArgumentParser
import Bench
import Cluster
import Foundation
import Simulator


/// `swiftlet cluster simulate`: the cluster's real scheduler, block manager and routing policies on a profiled
/// step time, over a recorded trace or a bench workload; sweeps policies × instance counts × rates.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a cluster on profiled step times: policies × instance counts × request rates.",
        discussion: """
            Profile first (`swiftlet bench profile --model M --output p.json`), then for example
              swiftlet cluster simulate --profile p.json --trace trace.jsonl --policies freeness,round-robin --instances 2,4
              swiftlet cluster simulate --profile p.json --tokenizer M --input-len 128 --output-len 64 --num-prompts 10000 \\
                  --request-rates 20,40,80 --instances 2,4,8 --goodput ttft:500 tpot:50 --goodput-target 0.9
            """)

    @Option(help: "Engine profile (JSON from `swiftlet bench profile`); repeat for heterogeneous instances (instance i uses profile i mod count).")
    var profile: [String]

    @Option(help: "Recorded trace (JSONL of arrival, prompt_tokens, output_tokens; `swiftlet router --record-trace`). Without it, the bench workload options build one.")
    var trace: String?

    @Option(help: "Comma-separated routing policies (\(RoutingPolicyKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    var policies: String = "freeness"

    @Option(help: "Comma-separated instance counts.")
    var instances: String = "2"

    @Option(help: "Comma-separated request rates (req/s, or inf); default: the trace's own arrival times, or inf.")
    var requestRates: String?

    @Option(help: "Requests each instance holds at once (default: twice the profile's --max-num-seqs, as `swiftlet instance`).")
    var capacity: Int?

    @Option(help: "Multiply every profiled step time by this (1.2: the instances' machine 20% slower than when profiled).")
    var stepTimeScale: Double = 1

    @Option(help: "Milliseconds from arrival until the instance's engine has the request (HTTP, enqueue, routing, claim).")
    var dispatchMs: Double = 0

    @Option(help: "Milliseconds from a generated token to the client (append, notify, relay, SSE).")
    var relayMs: Double = 0

    @Option(help: "Microseconds added to a step per sampled token (output handling beside the model).")
    var perTokenUs: Double = 0

    @Option(help: "Microseconds added to every step (the engine loop's work and waits beside the model).")
    var stepOverheadUs: Double = 0

    @Option(help: "Shared host: cores the instances share with the control plane (router, PostgreSQL, client); 0: off. See HostCPU.")
    var hostCores: Double = 0

    @Option(help: "Shared host: control-plane CPU milliseconds per request (HTTP, tokenizing, enqueue, claim, finish).")
    var hostCpuPerRequestMs: Double = 0

    @Option(help: "Shared host: control-plane CPU microseconds per generated token (queue append, notify, relay, client).")
    var hostCpuPerTokenUs: Double = 0

    @Option(help: "Shared host: the most of a busy instance's core the control plane takes (0-1; 0.5: a fair share).")
    var hostMaxShare: Double = 0.5

    @Option(help: "Shared host: averaging window of the control plane's CPU rate, milliseconds.")
    var hostWindowMs: Double = 100

    @Option(help: "Shared host: how much longer a step takes per other instance stepping at the same time (memory bandwidth, shared cache), as a fraction (0.2: 20% longer beside one busy neighbour); measure it with a profile taken beside a running engine.")
    var hostCoRunSlowdown: Double = 0

    @Flag(help: "Shared host: the dispatch and each append's round trip stretch by 1/(1 - the control plane's CPU utilization), as processes waiting for a CPU behind the rest of the control plane.")
    var hostHopQueueing = false

    @Option(help: "Group commit: an instance's append round trip on an idle host, milliseconds (with any --flush-* option: tokens reach the client when the append carrying them lands; one append in flight per instance). See FlushModel.")
    var flushLatencyMs: Double = 0

    @Option(help: "Group commit: control-plane CPU microseconds per append (PostgreSQL, the router's read and relay); shared-host model.")
    var flushHostCpuUs: Double = 0

    @Option(help: "Group commit: the instance's own CPU microseconds per append (on its core: it lengthens the next step).")
    var flushInstanceCpuUs: Double = 0

    @Option(help: "Comma-separated admission limits of the router (`swiftlet router --max-queued-requests`, default as there): a request arriving while this many wait for their first token gets 429; 'none' for no limit. Several: a sweep, each point labelled with its limit.")
    var maxQueuedRequests: String = "1024"

    @Option(help: "Instance heartbeat period, milliseconds (how stale the router's view of the load is).")
    var heartbeatMs: Double = 500

    @Option(help: "Lease seconds: how long a dead instance's work waits before it goes elsewhere.")
    var leaseSeconds: Double = 2.5

    @Option(help: "Faults and operations, e.g. fail:1@30,drain:0@60 (instance index @ seconds).")
    var scenario: String?

    @Option(help: "With --goodput: the share of requests (0-1) that must meet the bounds for a configuration to pass.")
    var goodputTarget: Double = 0.9

    @Option(help: "Directory for one result JSON per point (bench serve's fields), chart.svg and chart.html.")
    var outputDir: String?

    @OptionGroup var workload: BenchWorkloadOptions

    func validate() throws {
        guard !profile.isEmpty else { throw ValidationError("give at least one --profile (from `swiftlet bench profile`)") }
        guard stepTimeScale > 0 else { throw ValidationError("--step-time-scale must be positive") }
        guard goodputTarget > 0, goodputTarget <= 1 else { throw ValidationError("--goodput-target must be in (0, 1]") }
        guard hostCores >= 0, hostCpuPerRequestMs >= 0, hostCpuPerTokenUs >= 0 else {
            throw ValidationError("--host-cores, --host-cpu-per-request-ms and --host-cpu-per-token-us must not be negative")
        }
        guard hostMaxShare > 0, hostMaxShare <= 1 else { throw ValidationError("--host-max-share must be in (0, 1]") }
        guard hostWindowMs > 0 else { throw ValidationError("--host-window-ms must be positive") }
        guard hostCoRunSlowdown >= 0 else { throw ValidationError("--host-co-run-slowdown must not be negative") }
        guard flushLatencyMs >= 0, flushHostCpuUs >= 0, flushInstanceCpuUs >= 0 else {
            throw ValidationError("--flush-latency-ms, --flush-host-cpu-us and --flush-instance-cpu-us must not be negative")
        }
    }

    func run() async throws {
        let profiles = try profile.map { p throws -> EngineProfile in
            var e = try EngineProfile.read(from: p)
            if stepTimeScale != 1 { e.cost = e.cost.scaled(by: stepTimeScale) }
            return e
        }
        let pols = try policies.split(separator: ",").map { s throws -> RoutingPolicyKind in
            guard let p = RoutingPolicyKind(rawValue: s.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--policies: unknown policy '\(s)' (\(RoutingPolicyKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return p
        }
        let counts = try instances.split(separator: ",").map { s throws -> Int in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw ValidationError("--instances: '\(s)' is not a positive integer")
            }
            return n
        }
        let rates = try requestRates.map { list in
            try SweepVariable.rates(list).map { v -> Double in if case .rate(let r) = v { return r }; return .infinity }
        }
        let requests: [TraceRequest]
        if let trace {
            requests = try Traces.read(path: trace)
        } else {
            let bench: [BenchRequest]
            if workload.tokenizer == nil, workload.datasetName == "random" || workload.datasetName == "prefix" {
                bench = try workload.dataset().build(count: workload.numPrompts, seed: workload.seed,
                                                     tokenizer: SyntheticTokenizer(), endpoint: .completions)
            } else {
                bench = try workload.requests()
            }
            requests = Traces.fromBench(bench, rate: .infinity, burstiness: workload.burstiness, seed: workload.seed)
        }
        var overhead = ClusterOverhead(dispatch: dispatchMs / 1000, relay: relayMs / 1000, perToken: perTokenUs / 1e6, perStep: stepOverheadUs / 1e6,
                                       heartbeat: heartbeatMs / 1000, lease: leaseSeconds,
                                       host: HostCPU(cores: hostCores, perRequest: hostCpuPerRequestMs / 1000, perToken: hostCpuPerTokenUs / 1e6,
                                                     maxShare: hostMaxShare, window: hostWindowMs / 1000,
                                                     coRun: hostCoRunSlowdown, hopQueueing: hostHopQueueing))
        overhead.flush = FlushModel(latency: flushLatencyMs / 1000, hostCPU: flushHostCpuUs / 1e6, instanceCPU: flushInstanceCpuUs / 1e6)
        let limits = try maxQueuedRequests.split(separator: ",").map { s throws -> Int? in
            let t = s.trimmingCharacters(in: .whitespaces)
            if t == "none" { return nil }
            guard let n = Int(t), n >= 1 else {
                throw ValidationError("--max-queued-requests: '\(s)' is neither a positive integer nor 'none'")
            }
            return n
        }
        let bounds = try workload.bounds()
        var exploration = Exploration(
            policies: pols, instanceCounts: counts, rates: rates ?? (trace == nil ? [.infinity] : []),
            burstiness: workload.burstiness, profiles: profiles, capacity: capacity, overhead: overhead,
            scenario: try scenario.map { try SimScenario(parsing: $0) } ?? SimScenario(), goodput: bounds,
            seed: workload.seed)
        exploration.maxConcurrency = workload.maxConcurrency
        exploration.queueLimits = limits
        let t0 = ContinuousClock.now
        let points = exploration.run(requests)
        let wall = ContinuousClock.now - t0
        print("\(requests.count) requests; profiles: " + profiles.map { "\($0.model) (\($0.engine.precision), \($0.machine.cpu))" }.joined(separator: ", "))
        print(Exploration.table(points), terminator: "")
        for p in points {   // what each instance did (busy: modelled step seconds, with the overheads asked for)
            let busy = p.simulation.instances.map { String(format: "%.4f", $0.busySeconds) }.joined(separator: " ")
            let steps = p.simulation.instances.map { String($0.steps) }.joined(separator: " ")
            let appends = p.simulation.instances.map { String($0.appends) }.joined(separator: " ")
            print("instances of \(p.label) at \(p.rate): busy seconds \(busy); steps \(steps); appends \(appends)")
        }
        print("simulated \(points.count) configurations in \(wall)")
        if bounds != nil {
            for (rate, best) in Exploration.cheapest(points, target: goodputTarget) {
                let r = rate.isFinite ? String(format: "%.2f req/s", rate) : "all at once"
                if let best {
                    print("at \(r): \(best.label) is the cheapest configuration with "
                          + String(format: "%.1f%% of requests within the goodput bounds", Exploration.goodShare(best) * 100))
                } else {
                    print("at \(r): no configuration reaches \(Int(goodputTarget * 100))% within the goodput bounds")
                }
            }
        }
        if let outputDir {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            for p in points {
                try p.result.write(to: outputDir + "/" + SweepRunner.fileName(label: p.label, .rate(p.rate)))
            }
            let title = "Swiftlet cluster simulation (\(requests.count) requests, \(profiles[0].model))"
            let svg = SweepChart.svg(Exploration.series(points), title: title)
            try svg.write(toFile: outputDir + "/chart.svg", atomically: true, encoding: .utf8)
            let html = "<!doctype html><meta charset=\"utf-8\"><title>\(title)</title>\n<body style=\"font-family:sans-serif\">\n"
                + svg + "\n<pre>\n" + Exploration.table(points) + "</pre>\n</body>\n"
            try html.write(toFile: outputDir + "/chart.html", atomically: true, encoding: .utf8)
            print("wrote \(outputDir)/chart.svg, chart.html and one JSON per point")
        }
    }
}

/// Prompt ids for random/prefix workloads when no tokenizer is given: the scheduler only needs ids.
struct SyntheticTokenizer: BenchTokenizer {
    var promptTokenIds: [Int] { Array(1..<32000) }
    func encode(_ text: String) -> [Int] { text.utf8.map { Int($0) + 1 } }
    func decode(_ ids: [Int]) -> String { "" }
}
