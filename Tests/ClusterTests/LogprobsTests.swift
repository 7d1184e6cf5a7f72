@testable import Cluster
import Engine
import Foundation
import Testing

/// What a client gets from one stream: tokens, their logprobs and the prompt's.
struct WithLogprobs: Sendable {
    var tokens: [Int32] = []
    var logprobs: [TokenLogprob] = []
    var prompt: [TokenLogprob]?
    var finish: EngineFinishReason?
}

func collectLogprobs(_ stream: AsyncStream<RequestOutput>) async -> WithLogprobs {
    var c = WithLogprobs()
    for await o in stream {
        c.tokens += o.newTokenIds
        c.logprobs += o.logprobs
        if let p = o.promptLogprobs { #expect(c.prompt == nil, "prompt logprobs sent twice"); c.prompt = p }
        if let f = o.finishReason { c.finish = f }
    }
    return c
}

func sameLogprobs(_ a: [TokenLogprob], _ b: [TokenLogprob], tolerance: Float = 1e-4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        x.tokenId == y.tokenId && abs(x.logprob - y.logprob) <= tolerance && x.top.count == y.top.count
            && zip(x.top, y.top).allSatisfy { abs($0.logprob - $1.logprob) <= tolerance }
    }
}

/// Logprobs travel through the queue with their tokens: the router serves the same API as `serve`.
@Suite(.serialized) struct RouterLogprobsTests {
    @Test(arguments: QueueKind.allCases)
    func logprobsAndPromptLogprobsMatchOneEngine(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        let instance = try TestInstance(queue: q, name: "lp")
        let router = try await TestRouter(queue: q, policy: .freeness)
        let prompts = testPrompts(6, tokenizer: router.client)
        var params = greedy(24)
        params.logprobs = 3
        params.promptLogprobs = true
        let engine = try storiesEngine()
        engine.start()
        defer { engine.shutdown() }
        for p in prompts {
            let want = await collectLogprobs(try engine.generate(EngineRequest(promptTokenIds: p, params: params)))
            let got = await collectLogprobs(try router.client.generate(EngineRequest(promptTokenIds: p, params: params)))
            #expect(got.tokens == want.tokens && got.finish == want.finish)
            #expect(got.logprobs.count == got.tokens.count && want.logprobs.count == want.tokens.count)
            #expect(sameLogprobs(got.logprobs, want.logprobs), "completion logprobs differ")
            #expect(got.logprobs.allSatisfy { $0.top.count == 3 })
            let gp = try #require(got.prompt, "no prompt logprobs through the router")
            #expect(sameLogprobs(gp, try #require(want.prompt)), "prompt logprobs differ")
        }
        // Without logprobs nothing extra travels.
        let plain = await collectLogprobs(try router.client.generate(EngineRequest(promptTokenIds: prompts[0], params: greedy(8))))
        #expect(plain.logprobs.isEmpty && plain.prompt == nil && plain.tokens.count == 8)
        // And over HTTP, the OpenAI shape.
        let (status, body) = try await router.post("/v1/completions", "{\"prompt\":\"Once upon\",\"max_tokens\":4,\"temperature\":0,\"logprobs\":2}")
        #expect(status == 200 && body.contains("top_logprobs") && body.contains("token_logprobs"), "\(status) \(body)")
        await router.stop(); await instance.stop()
    }
}
