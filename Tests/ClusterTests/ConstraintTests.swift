@testable import Cluster
import Constraints
import Engine
import Foundation
import Testing

/// Constrained requests through the router: the constraint travels in the queued parameters and the instance's
/// engine applies it, so the router serves exactly what one engine serves; uncompilable ones are refused at the
/// router with the same 400.
@Suite(.serialized) struct RouterConstraintTests {
    static let schema = #"{"type":"object","properties":{"word":{"type":"string","maxLength":8},"n":{"type":"integer","minimum":0,"maximum":99}},"required":["word","n"],"additionalProperties":false}"#

    @Test(arguments: QueueKind.allCases)
    func constrainedOutputMatchesOneEngine(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        let instance = try TestInstance(queue: q, name: "json")
        let router = try await TestRouter(queue: q, policy: .freeness)
        let engine = try storiesEngine()
        engine.start()
        defer { engine.shutdown() }
        var params = greedy(80)
        params.constraint = ConstraintSpec(.jsonSchema(Self.schema), param: "guided_json")
        for p in testPrompts(4, tokenizer: router.client) {
            let want = await collectLogprobs(try engine.generate(EngineRequest(promptTokenIds: p, params: params)))
            let got = await collectLogprobs(try router.client.generate(EngineRequest(promptTokenIds: p, params: params)))
            #expect(got.tokens == want.tokens && got.finish == .stop)
            let text = engine.decode(got.tokens, skipSpecial: true)
            let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            #expect(obj?["word"] is String && obj?["n"] is Int, "\(text)")
        }
        let (status, body) = try await router.post("/v1/completions",
            #"{"prompt":"Once upon","max_tokens":60,"temperature":0,"guided_choice":["yes","no"]}"#)
        #expect(status == 200 && (body.contains(#""text":"yes""#) || body.contains(#""text":"no""#)), "\(body)")
        let (bad, err) = try await router.post("/v1/completions",
            #"{"prompt":"Once upon","max_tokens":5,"guided_json":{"type":"object","properties":{"a":{"not":{}}}}}"#)
        #expect(bad == 400 && err.contains(#""param":"guided_json.properties.a.not""#), "\(err)")
        await router.stop(); await instance.stop()
    }
}
