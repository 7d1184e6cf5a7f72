@testable import Cluster
import Engine
import Foundation
import Testing

/// Runs the built `swiftlet` binary; returns (exit status, stdout, stderr).
func runSwiftlet(_ args: [String]) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Paths.swiftletBinary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct OperatorTests {
    @Test func statusAndDrainCommands() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Paths.swiftletBinary), "no swiftlet binary at \(Paths.swiftletBinary)")
        let url = try await TestDatabase.fresh()
        let q = try await PostgresQueue.connect(url, logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let worker = try TestInstance(queue: q, name: "worker")
        for i in 0..<3 { try await q.enqueue(QueuedRequest(id: Int64(100 + i), origin: "nobody", prompt: [1], params: greedy(2), priority: i == 0 ? 5 : 0)) }
        try #require(try await eventually { try await q.status(timing: fastTiming()).instances.count == 1 }, "the worker did not register")
        // The commands judge liveness by the tests' lease (their default, 2.5 s, is short for a loaded machine).
        let lease = ["--lease-seconds", "\(TestTiming.lease)"]
        let (code, json, err) = try runSwiftlet(["cluster", "status", "--queue", url, "--json"] + lease)
        #expect(code == 0, "\(err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
        #expect(obj["queued"] as? Int == 3)
        #expect((obj["queued_by_priority"] as? [[String: Int]]) == [["priority": 0, "count": 2], ["priority": 5, "count": 1]])
        let inst = try #require((obj["instances"] as? [[String: Any]])?.first, "no instance in \(json)")
        #expect(inst["name"] as? String == "worker" && inst["alive"] as? Bool == true && (inst["total_blocks"] as? Int ?? 0) > 0)
        let (tcode, table, _) = try runSwiftlet(["cluster", "status", "--queue", url] + lease)
        #expect(tcode == 0 && table.contains("worker") && table.contains("priority 0: 2"))

        let (dcode, dout, _) = try runSwiftlet(["cluster", "drain", "--queue", url, "--name", "worker", "--wait"] + lease)
        #expect(dcode == 0 && dout.contains("draining"))
        // `--wait` returns once the instance has finished its work; it deregisters right after (allow for a loaded machine).
        #expect(try await eventually { try await q.status(timing: fastTiming()).instances.isEmpty },
                "the drained instance never deregistered")
        let (missing, _, merr) = try runSwiftlet(["cluster", "drain", "--queue", url, "--name", "ghost"])
        #expect(missing != 0 && merr.contains("no instance named 'ghost'"))
        await worker.stop()
    }

    /// The same router and agent over the in-memory queue: the embedded, database-free deployment.
    @Test func memoryQueueClusterServesExactlyLikeOneEngine() async throws {
        let q = MemoryQueue()
        let a = try TestInstance(queue: q, name: "a"), b = try TestInstance(queue: q, name: "b")
        let router = try await TestRouter(queue: q, policy: .powerOfTwo)
        let prompts = testPrompts(40, tokenizer: router.client)
        let expected = try await reference(prompts, maxTokens: 32)
        let got = await withTaskGroup(of: (Int, Collected).self) { g in
            for (i, p) in prompts.enumerated() {
                g.addTask { (i, await collectOrError { try router.client.generate(EngineRequest(promptTokenIds: p, params: greedy(32))) }) }
            }
            return await g.reduce(into: [Int: Collected]()) { $0[$1.0] = $1.1 }
        }
        for i in prompts.indices { #expect(got[i] == expected[i], "request \(i)") }
        // An agent counts a request served once the queue confirmed its last append, just after the client saw it.
        #expect(await eventually { a.agent.servedCount + b.agent.servedCount >= 40 }, "served \(a.agent.servedCount + b.agent.servedCount)")   // more only if a lease expired under load
        await router.stop(); await a.stop(); await b.stop()
    }

    @Test func twoRoutersShareOneQueueAndItsInstances() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let a = try TestInstance(queue: q, name: "a"), b = try TestInstance(queue: q, name: "b")
        let r1 = try await TestRouter(queue: q, name: "r1", policy: .freeness)
        let r2 = try await TestRouter(queue: q, name: "r2", policy: .leastRequests)
        let prompts = testPrompts(40, tokenizer: r1.client)
        let expected = try await reference(prompts, maxTokens: 32)
        let got = await withTaskGroup(of: (Int, Collected).self) { g in
            for (i, p) in prompts.enumerated() {
                let router = i % 2 == 0 ? r1 : r2
                g.addTask { (i, await collectOrError { try router.client.generate(EngineRequest(promptTokenIds: p, params: greedy(32))) }) }
            }
            return await g.reduce(into: [Int: Collected]()) { $0[$1.0] = $1.1 }
        }
        for i in prompts.indices { #expect(got[i] == expected[i], "request \(i)") }
        let routed = r1.client.routedCounts.values.reduce(0, +) + r2.client.routedCounts.values.reduce(0, +)
        // Each request is routed once, plus once more for every lease that expired on a loaded machine (the request
        // is then requeued and resumed); the exact outputs above are the invariant either way.
        #expect(routed >= 40, "every request was routed by one of the two routers")
        // An agent counts a request served once the queue confirmed its last append, just after the client saw it.
        #expect(await eventually { a.agent.servedCount + b.agent.servedCount >= 40 }, "served \(a.agent.servedCount + b.agent.servedCount)")
        await r1.stop(); await r2.stop(); await a.stop(); await b.stop()
    }

    @Test func routerRefusesWhatItCannotServeWithServeErrors() async throws {
        let router = try await TestRouter(queue: MemoryQueue())
        let long = "{\"prompt\":[1,2,3],\"max_tokens\":100000}"
        let (status, body) = try await router.post("/v1/completions", long)
        #expect(status == 400 && body.contains("maximum context length"))
        let (s2, b2) = try await router.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2,\"temperature\":-1}")
        #expect(s2 == 400 && b2.contains("temperature"))
        let (s3, _) = try await router.post("/v1/completions", "{\"prompt\":[99999],\"max_tokens\":2}")
        #expect(s3 == 400)
        await router.stop()
    }
}
