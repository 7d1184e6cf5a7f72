@testable import Cluster
import Engine
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Routers and instances on a real PostgreSQL with the stories260K model.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ClusterEndToEndTests {
    @Test func oneRouterTwoInstancesServe200ConcurrentRequestsExactlyLikeOneEngine() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let a = try TestInstance(queue: q, name: "a"), b = try TestInstance(queue: q, name: "b")
        let router = try await TestRouter(queue: q, policy: .leastRequests)
        let prompts = testPrompts(200, tokenizer: router.client)
        let expected = try await reference(prompts, maxTokens: 48)
        let results = try await withThrowingTaskGroup(of: (Int, Int, String).self) { g in
            for (i, p) in prompts.enumerated() {
                g.addTask {
                    let body = "{\"model\":\"stories260K\",\"prompt\":\(p),\"max_tokens\":48,\"temperature\":0}"
                    let (status, text) = try await router.post("/v1/completions", body)
                    return (i, status, text)
                }
            }
            return try await g.reduce(into: [Int: (Int, String)]()) { $0[$1.0] = ($1.1, $1.2) }
        }
        var mismatches = 0
        for i in prompts.indices {
            let (status, text) = try #require(results[i])
            let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? ["raw": text]
            let choice = (json["choices"] as? [[String: Any]])?.first
            let same = status == 200 && choice?["text"] as? String == expected[i].text
                && choice?["finish_reason"] as? String == expected[i].finish?.rawValue
            if !same { mismatches += 1; if mismatches < 4 { Issue.record("request \(i): \(status) \(json) expected \(expected[i])") } }
        }
        #expect(mismatches == 0)
        // Exactly 200 unless a lease expired on a loaded machine and a request was resumed elsewhere (outputs above
        // are exact either way).
        // An agent counts a request served once the queue confirmed its last append, just after the client saw it.
        #expect(await eventually { a.agent.servedCount + b.agent.servedCount >= 200 }, "served \(a.agent.servedCount + b.agent.servedCount)")
        #expect(a.agent.servedCount > 0 && b.agent.servedCount > 0, "a \(a.agent.servedCount), b \(b.agent.servedCount)")
        let metrics = try await router.get("/metrics")
        #expect(metrics.body.contains("swiftlet:num_requests_running"), "the server's own metrics are gone")
        #expect(metrics.body.contains("swiftlet:cluster_instance_freeness{instance=\"a\"}"))
        // The router caches the queue's status for 200 ms: poll until it shows the last requests done.
        var scraped = metrics.body
        let allDone = try await eventually {
            scraped = try await router.get("/metrics").body
            return scraped.contains("swiftlet:cluster_requests{state=\"done\"} 200")
        }
        #expect(allDone, "\(scraped.split(separator: "\n").filter { $0.contains("cluster_requests") })")
        await router.stop(); await a.stop(); await b.stop()
    }

    @Test func killedInstanceIsResumedOnTheSurvivorWithExactGreedyStreams() async throws {
        let binary = Paths.swiftletBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no swiftlet binary at \(binary); build the package's products first")
        let url = try await TestDatabase.fresh()
        let q = try await PostgresQueue.connect(url, logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: binary)
        victim.arguments = ["instance", "--model", Paths.stories, "--tokenizer", Paths.storiesTok, "--queue", url,
                            "--name", "victim", "--max-num-seqs", "2", "--kv-cache-memory", "64MiB",
                            "--lease-seconds", "\(TestTiming.lease)", "--heartbeat-ms", "\(TestTiming.heartbeatMs)", "--log-level", "warning"]
        try victim.run()
        defer { if victim.isRunning { kill(victim.processIdentifier, SIGKILL) } }
        let router = try await TestRouter(queue: q, policy: .leastRequests)
        let up = try await eventually { try await q.status(timing: fastTiming()).instances.contains { $0.name == "victim" } }
        try #require(up, "the victim instance did not register")
        let prompts = testPrompts(12, tokenizer: router.client)
        let expected = try await reference(prompts, maxTokens: 300)
        let streams = try prompts.map { try router.client.generate(EngineRequest(promptTokenIds: $0, params: greedy(300))) }
        let collecting = Task { await withTaskGroup(of: (Int, Collected).self) { g in
            for (i, s) in streams.enumerated() { g.addTask { (i, await collect(s)) } }
            return await g.reduce(into: [Int: Collected]()) { $0[$1.0] = $1.1 }
        } }
        // Kill it mid-stream: once some request has tokens delivered and is still running there.
        let midway = try await eventually {
            try await q.client.query("SELECT count(*)::int8 FROM swiftlet_requests WHERE instance = 'victim' AND state = 'assigned' AND cardinality(tokens) >= 20")
                .decode(Int64.self).reduce(0, +) > 0
        }
        try #require(midway, "the victim never streamed")
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        var interrupted: [Int64] = []
        for try await id in try await q.client.query("SELECT id FROM swiftlet_requests WHERE state = 'assigned' AND cardinality(tokens) > 0").decode(Int64.self) {
            interrupted.append(id)
        }
        let survivor = try TestInstance(queue: q, name: "survivor")
        let got = await collecting.value
        for i in prompts.indices {
            #expect(got[i]?.tokens == expected[i].tokens, "request \(i): token stream differs (lost or repeated tokens)")
            #expect(got[i]?.text == expected[i].text)
            #expect(got[i]?.finish == expected[i].finish)
        }
        #expect(!interrupted.isEmpty)
        #expect(await eventually { survivor.agent.servedCount > 0 }, "the survivor served nothing")
        let resumed = try await q.progress(ids: interrupted)
        // Resumed once on the survivor (one more attempt if the survivor's lease too expired on a loaded machine).
        #expect(resumed.count == interrupted.count
                && resumed.allSatisfy { $0.attempts >= 2 && $0.state == .done && $0.instance == "survivor" }, "\(resumed)")
        print("kill -9: \(interrupted.count) requests interrupted mid-stream, survivor finished \(survivor.agent.servedCount) of \(prompts.count)")
        await router.stop(); await survivor.stop()
    }

    /// Work is counted per request, not per routing decision: a lease that expires on a loaded machine re-routes
    /// its request (one more decision, one more attempt). Each request counts once, on the instance that finished
    /// it; the comparison below only gets stricter when requests were re-routed.
    @Test func freenessSendsTheSlowInstanceLessWorkThanRoundRobin() async throws {
        struct Split { var finished: [String: Int]; var rerouted: Int; var decisions: [String: Int] }
        var splits: [RoutingPolicyKind: Split] = [:]
        for policy in [RoutingPolicyKind.roundRobin, .freeness] {
            let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
            defer { q.close() }
            let fast = try TestInstance(queue: q, name: "fast", maxNumSeqs: 64, capacity: 64)
            // The weak instance: two sequences at a time and a small KV cache (24 blocks of 16 tokens).
            let slow = try TestInstance(queue: q, name: "slow", maxNumSeqs: 2, numBlocks: 24, capacity: 64)
            let router = try await TestRouter(queue: q, policy: policy)
            let both = try await eventually { try await q.status(timing: fastTiming()).instances.count == 2 }
            try #require(both, "the two instances did not register")
            let prompts = testPrompts(60, tokenizer: router.client)
            let outs = await withTaskGroup(of: Collected.self) { g in
                for p in prompts {
                    g.addTask { await collectOrError { try router.client.generate(EngineRequest(promptTokenIds: p, params: greedy(64))) } }
                    try? await Task.sleep(for: .milliseconds(15))
                }
                return await g.reduce(into: [Collected]()) { $0.append($1) }
            }
            #expect(outs.count == 60 && outs.allSatisfy { $0.finish == .length || $0.finish == .stop }, "\(outs.filter { $0.finish != .length && $0.finish != .stop })")
            // Each request once, by the instance that finished it (a finished row keeps its last instance), and
            // how often requests were re-routed (every assignment is an attempt).
            var split = Split(finished: [:], rerouted: 0, decisions: router.client.routedCounts)
            for try await (instance, n, extra) in try await q.client.query("""
                SELECT COALESCE(instance, ''), count(*)::int8, (sum(attempts) - count(*))::int8
                FROM swiftlet_requests WHERE state = 'done' GROUP BY 1
                """).decode((String, Int64, Int64).self) {
                split.finished[instance] = Int(n); split.rerouted += Int(extra)
            }
            print("policy \(policy.rawValue): finished on fast \(split.finished["fast"] ?? 0), slow \(split.finished["slow"] ?? 0); "
                  + "\(split.rerouted) re-routed; decisions \(split.decisions.sorted { $0.key < $1.key })")
            #expect(split.finished.values.reduce(0, +) == 60 && Set(split.finished.keys).isSubset(of: ["fast", "slow"]),
                    "\(split.finished)")
            splits[policy] = split
            await router.stop(); await fast.stop(); await slow.stop()
        }
        let rr = try #require(splits[.roundRobin]), fr = try #require(splits[.freeness])
        let rrSlow = rr.finished["slow"] ?? 0
        // Round-robin alternates decisions: 30 each, off by at most one per re-routed request.
        #expect(abs(rrSlow - 30) <= rr.rerouted, "round-robin should split evenly: slow finished \(rrSlow), \(rr.rerouted) re-routed")
        // Under freeness, at most this many requests ever ran on the slow instance: those it finished plus those
        // re-routed away from it, and never more than were routed to it.
        let frSlow = min((fr.finished["slow"] ?? 0) + fr.rerouted, fr.decisions["slow"] ?? 0)
        // Under round-robin, at least those it finished ran there.
        #expect(frSlow < rrSlow - 5, "freeness gave the slow instance \(frSlow) requests, round-robin \(rrSlow)")
    }

    @Test func requestsQueuedWithNoInstanceAreServedOnceOneStarts() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let router = try await TestRouter(queue: q)
        let prompts = testPrompts(10, tokenizer: router.client)
        let expected = try await reference(prompts, maxTokens: 40)
        let streams = try prompts.map { try router.client.generate(EngineRequest(promptTokenIds: $0, params: greedy(40))) }
        let collecting = Task { await withTaskGroup(of: (Int, Collected).self) { g in
            for (i, s) in streams.enumerated() { g.addTask { (i, await collect(s)) } }
            return await g.reduce(into: [Int: Collected]()) { $0[$1.0] = $1.1 }
        } }
        #expect(try await eventually { try await q.status(timing: fastTiming()).queued == 10 })
        try await Task.sleep(for: .seconds(1))
        #expect(try await q.status(timing: fastTiming()).queued == 10, "requests left the queue with no instance")
        let late = try TestInstance(queue: q, name: "late")
        let got = await collecting.value
        for i in prompts.indices { #expect(got[i] == expected[i], "request \(i)") }
        await router.stop(); await late.stop()
    }

    @Test func routerCrashLosesNoQueuedRequest() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let first = try await TestRouter(queue: q, name: "first")
        let prompts = testPrompts(6, tokenizer: first.client)
        let expected = try await reference(prompts, maxTokens: 30)
        // Held (not iterated) until the end: a dropped stream would count as a client going away.
        let streams = try prompts.map { try first.client.generate(EngineRequest(promptTokenIds: $0, params: greedy(30))) }
        defer { withExtendedLifetime(streams) {} }
        #expect(try await eventually { try await q.status(timing: fastTiming()).queued == 6 })
        first.task.cancel()   // abrupt: its streams are not ended, nothing is cleaned up
        _ = try? await first.task.value
        let second = try await TestRouter(queue: q, name: "second")
        let worker = try TestInstance(queue: q, name: "worker")
        #expect(try await eventually { try await q.status(timing: fastTiming()).done == 6 })
        var byPrompt: [[Int32]: [Int32]] = [:]
        for try await (prompt, tokens) in try await q.client.query("SELECT prompt, tokens FROM swiftlet_requests").decode(([Int32], [Int32]).self) {
            byPrompt[prompt] = tokens
        }
        for (p, e) in zip(prompts, expected) { #expect(byPrompt[p] == e.tokens) }
        await second.stop(); await worker.stop()
    }

    @Test func drainedInstanceFinishesItsWorkTakesNoMoreAndLeaves() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let a = try TestInstance(queue: q, name: "a", maxNumSeqs: 2), b = try TestInstance(queue: q, name: "b")
        let router = try await TestRouter(queue: q, policy: .roundRobin)
        let both = try await eventually { try await q.status(timing: fastTiming()).instances.count == 2 }
        try #require(both, "the two instances did not register")
        // The router's fast path places among the instances its last round saw: until a round has seen a, every
        // request goes to b (under stress-ng that once left a with nothing to drain).
        let routerSeesBoth = await eventually {
            router.client.knownInstances.withLock { $0?.pool.map(\.name).sorted() } == ["a", "b"]
        }
        try #require(routerSeesBoth, "the router's rounds never saw both instances")
        let prompts = testPrompts(8, tokenizer: router.client)
        let first = try prompts.map { try router.client.generate(EngineRequest(promptTokenIds: $0, params: greedy(200))) }
        let firstDone = Task { await withTaskGroup(of: Collected.self) { g in
            for s in first { g.addTask { await collect(s) } }
            return await g.reduce(into: [Collected]()) { $0.append($1) }
        } }
        try #require(await eventually { a.agent.activeCount > 0 }, "a never took any of the first batch")
        #expect(try await q.setDraining(name: "a", true))
        // Once a round has seen the flag, no later round places on a (the planner skips draining instances) and the
        // queue refuses a fast-path placement on it, whatever capacity a's last heartbeat reported. Rounds run one at
        // a time, so every earlier round's placements are counted by then. (a may have finished and left already.)
        let roundSawDrain = await eventually {
            router.client.knownInstances.withLock { k in k.map { $0.pool.first { $0.name == "a" }?.draining ?? true } ?? false }
        }
        try #require(roundSawDrain, "no scheduling round saw a draining")
        let routedToA = router.client.routedCounts["a"] ?? 0
        let second = try prompts.map { try router.client.generate(EngineRequest(promptTokenIds: $0, params: greedy(20))) }
        for s in second { #expect(await collect(s).finish != nil) }
        #expect(await firstDone.value.allSatisfy { $0.finish == .length || $0.finish == .stop }, "drain lost work")
        #expect(router.client.routedCounts["a"] ?? 0 == routedToA, "a draining instance got new work")
        // Idle and draining: its agent leaves the cluster on its own.
        #expect(try await eventually { try await q.status(timing: fastTiming()).instances.map(\.name) == ["b"] })
        await router.stop(); await a.stop(); await b.stop()
    }

    @Test func aRequestWhoseInstancesKeepDyingEndsWithAClearError() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        var timing = fastTiming()
        timing.maxAttempts = 1
        let doomed = try TestInstance(queue: q, name: "doomed", maxNumSeqs: 1, timing: timing)
        let router = try await TestRouter(queue: q, timing: timing)
        let stream = try router.client.generate(EngineRequest(promptTokenIds: [1, 403], params: greedy(400)))
        let result = Task { await collect(stream) }
        try #require(await eventually { doomed.agent.activeCount > 0 }, "the doomed instance never took the request")
        await doomed.crash()
        let got = await result.value
        #expect(got.finish == .error)
        #expect(got.error?.contains("stopped heartbeating") == true, "\(got)")
        await router.stop()
    }
}
