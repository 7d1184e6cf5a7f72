@testable import Cluster
import Engine
import Foundation
import Testing

/// `swiftlet router --record-trace FILE`: one JSON line per finished request, in the format the simulator reads.
@Suite(.serialized, .timeLimit(.minutes(10))) struct TraceRecordTests {
    @Test func routerWritesOneLinePerFinishedRequest() async throws {
        let q = try await PostgresQueue.connect(try await TestDatabase.fresh(), logger: quietLogger, limits: TestTiming.queueLimits)
        defer { q.close() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // An existing file is appended to.
        try Data("{\"earlier\": true}\n".utf8).write(to: URL(fileURLWithPath: path))
        let instance = try TestInstance(queue: q, name: "a")
        let made = ContinuousClock.now
        let router = try await TestRouter(queue: q, recordTrace: path)
        let prompts = testPrompts(3, tokenizer: router.client)
        // What one engine does with the same requests: the expected token counts and finish reasons.
        let text = try await reference([prompts[2]], maxTokens: 48).first?.text ?? ""
        let words: [Substring] = text.split(separator: Character(" "))
        let candidate: Substring? = words.dropFirst(3).first(where: { w in w.count >= 3 && w.allSatisfy { $0.isLetter } })
        let stop = try #require(candidate, "\(text)")
        var stopParams = greedy(48)
        stopParams.stop = [String(stop)]
        let expected = try await reference(Array(prompts[0..<2]), maxTokens: 6) + [referenceRun(prompts[2], stopParams)]
        #expect(expected.map(\.finish) == [.length, .length, .stop])
        var sent: [Double] = []
        for (i, p) in prompts.enumerated() {
            sent.append(seconds(ContinuousClock.now - made))
            let extra = i == 2 ? ",\"max_tokens\":48,\"stop\":[\"\(stop)\"]" : ",\"max_tokens\":6"
            let (status, body) = try await router.post("/v1/completions", "{\"model\":\"stories260K\",\"prompt\":\(p),\"temperature\":0\(extra)}")
            #expect(status == 200, "\(body)")
        }
        let done = seconds(ContinuousClock.now - made)
        #expect(await eventually { lines(path).count == 4 }, "\(lines(path))")
        await router.stop(); await instance.stop()
        let all = lines(path)
        try #require(all.count == 4, "\(all)")
        #expect(all[0] == "{\"earlier\": true}")
        var last = 0.0
        for (i, line) in all.dropFirst().enumerated() {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(Set(json.keys) == ["arrival", "prompt_tokens", "output_tokens", "prefix_hash", "finish"], "\(line)")
            let arrival = try #require(json["arrival"] as? Double, "\(line)")
            // After it was sent (seconds since the router was made, which is just after `made`), before the next.
            #expect(arrival >= last && arrival >= 0 && arrival <= (i + 1 < sent.count ? sent[i + 1] : done), "\(line) sent \(sent)")
            last = arrival
            #expect(json["prompt_tokens"] as? Int == prompts[i].count, "\(line)")
            #expect(json["output_tokens"] as? Int == expected[i].tokens.count, "\(line) expected \(expected[i])")
            #expect((json["prefix_hash"] as? NSNumber)?.int64Value == QueuedRequest.prefixHash(prompts[i]), "\(line)")
            #expect(json["finish"] as? String == expected[i].finish?.rawValue, "\(line)")
        }
        // The exact text (the simulator parses it with any JSON reader, but the field order is documented too).
        let r = RequestTraceRecord(arrival: 1.5, promptTokens: 3, outputTokens: 4, prefixHash: -7, finish: .abort)
        #expect(r.jsonLine == "{\"arrival\": 1.5, \"prompt_tokens\": 3, \"output_tokens\": 4, \"prefix_hash\": -7, \"finish\": \"abort\"}\n")
    }

    func referenceRun(_ prompt: [Int32], _ params: SamplingParams) async throws -> Collected {
        let engine = try storiesEngine()
        engine.start()
        defer { engine.shutdown() }
        return await collectOrError { try engine.generate(EngineRequest(promptTokenIds: prompt, params: params)) }
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
