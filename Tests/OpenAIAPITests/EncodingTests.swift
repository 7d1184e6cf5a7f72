import Foundation
import Testing
@testable import OpenAIAPI

private func object(_ s: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
}

@Suite struct ChunkEncodingTests {
    static let nasty = "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} nul \u{00} é 日本 🦙 </script>"

    @Test(arguments: ["", "plain", ChunkEncodingTests.nasty])
    func chatChunkRoundTripsThroughJSONSerialization(text: String) throws {
        let enc = ChunkEncoder(kind: .chat, id: "chatcmpl-1", created: 123, model: "m\"x", systemFingerprint: "fp",
                               includeUsage: true)
        let s = enc.chat(index: 2, role: "assistant", content: text, logprobs: nil, finishReason: nil)
        let o = try object(s)
        #expect(o["id"] as? String == "chatcmpl-1")
        #expect(o["object"] as? String == "chat.completion.chunk")
        #expect(o["created"] as? Int == 123)
        #expect(o["model"] as? String == "m\"x")
        #expect(o["system_fingerprint"] as? String == "fp")
        #expect(o["usage"] is NSNull)
        let choice = try #require((o["choices"] as? [[String: Any]])?.first)
        #expect(choice["index"] as? Int == 2)
        #expect(choice["finish_reason"] is NSNull)
        let delta = try #require(choice["delta"] as? [String: Any])
        #expect(delta["role"] as? String == "assistant")
        #expect(delta["content"] as? String == text)
        let typed = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(s.utf8))
        #expect(typed.choices.first?.delta == ChatDelta(role: "assistant", content: text))
    }

    @Test func chatChunkWithLogprobsAndFinish() throws {
        let enc = ChunkEncoder(kind: .chat, id: "c", created: 1, model: "m", systemFingerprint: nil, includeUsage: false)
        let lp = [ChatTokenLogprob(token: "a\"", logprob: -0.25, bytes: [97, 34],
                                   topLogprobs: [ChatTopLogprob(token: "b", logprob: -1.5, bytes: nil)])]
        let s = enc.chat(index: 0, role: nil, content: nil, logprobs: lp, finishReason: "length")
        let o = try object(s)
        #expect(o["usage"] == nil)
        #expect(o["system_fingerprint"] is NSNull)
        let typed = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(s.utf8))
        let choice = try #require(typed.choices.first)
        #expect(choice.delta == ChatDelta(role: nil, content: nil))
        #expect(choice.logprobs == ChatLogprobs(content: lp))
        #expect(choice.finishReason == "length")
    }

    @Test func completionChunkRoundTrips() throws {
        let enc = ChunkEncoder(kind: .completion, id: "cmpl-9", created: 5, model: "m", systemFingerprint: "fp",
                               includeUsage: false)
        let lp = CompletionLogprobs(tokens: ["x", "\n"], tokenLogprobs: [nil, -0.5], topLogprobs: [nil, ["\n": -0.5, "y": -2]],
                                    textOffset: [0, 1])
        let s = enc.completion(index: 1, text: ChunkEncodingTests.nasty, logprobs: lp, finishReason: "stop")
        let typed = try JSONDecoder().decode(CompletionChunk.self, from: Data(s.utf8))
        #expect(typed.object == "text_completion" && typed.id == "cmpl-9")
        #expect(typed.choices == [CompletionChunkChoice(index: 1, text: ChunkEncodingTests.nasty, logprobs: lp, finishReason: "stop")])
        #expect(typed.usage == nil)
    }

    @Test func usageChunk() throws {
        let enc = ChunkEncoder(kind: .chat, id: "c", created: 1, model: "m", systemFingerprint: nil, includeUsage: true)
        let typed = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(enc.usage(Usage(promptTokens: 3, completionTokens: 4)).utf8))
        #expect(typed.choices.isEmpty)
        #expect(typed.usage == Usage(promptTokens: 3, completionTokens: 4))
        #expect(typed.usage?.totalTokens == 7)
    }

    @Test func nonFiniteLogprobsStayValidJSON() throws {
        let enc = ChunkEncoder(kind: .chat, id: "c", created: 1, model: "m", systemFingerprint: nil, includeUsage: false)
        let lp = [ChatTokenLogprob(token: "a", logprob: -.infinity, bytes: nil, topLogprobs: [])]
        let typed = try JSONDecoder().decode(ChatCompletionChunk.self,
                                             from: Data(enc.chat(index: 0, role: nil, content: "a", logprobs: lp, finishReason: nil).utf8))
        #expect(typed.choices.first?.logprobs?.content.first?.logprob == -9999)
    }

    @Test func floatsPrintShortest() {
        var w = JSONWriter()
        w.number(Float(0.1)); w.raw(","); w.number(-1.0e-5); w.raw(","); w.number(Double.nan)
        let values = (try? JSONSerialization.jsonObject(with: Data("[\(w.output)]".utf8))) as? [Double]
        #expect(values == [0.1, -1.0e-5, -9999])
        #expect(w.output.hasPrefix("0.1,"))
    }

    @Test func sseFraming() {
        #expect(SSE.event("{}") == "data: {}\n\n")
        #expect(SSE.done == "data: [DONE]\n\n")
    }
}

@Suite struct ResponseEncodingTests {
    @Test func errorBodyShape() throws {
        let e = APIError.outOfRange(param: "temperature", allowed: "a number in [0, 2]", got: "3")
        let o = try #require(JSONSerialization.jsonObject(with: e.jsonData()) as? [String: Any])
        let body = try #require(o["error"] as? [String: Any])
        #expect(body["type"] as? String == "invalid_request_error")
        #expect(body["param"] as? String == "temperature")
        #expect(body["code"] as? String == "invalid_value")
        #expect((body["message"] as? String)?.contains("[0, 2]") == true)
        // Same shape via Codable, and absent param/code are explicit nulls.
        let serverError = APIError.internalError()
        #expect(try JSONDecoder().decode(ErrorResponse.self, from: serverError.jsonData()) == serverError.body)
        let coded = try #require(JSONSerialization.jsonObject(with: APIJSON.encode(APIError.rateLimited("busy").body)) as? [String: Any])
        #expect((coded["error"] as? [String: Any])?["param"] is NSNull)
        #expect(serverError.status == 500 && !serverError.message.contains("Error"))
    }

    @Test func statusMapping() {
        #expect(APIError.authentication().status == 401)
        #expect(APIError.modelNotFound("x").status == 404)
        #expect(APIError.routeNotFound(method: "GET", path: "/x").status == 404)
        #expect(APIError.methodNotAllowed(method: "GET", path: "/x", allowed: ["POST"]).status == 405)
        #expect(APIError.payloadTooLarge(limit: 10).status == 413)
        #expect(APIError.rateLimited("x").status == 429)
        #expect(APIError.serviceUnavailable("x").status == 503)
    }

    @Test func contextLengthMessageHasTheNumbers() {
        let e = APIError.contextLengthExceeded(maxModelLen: 512, promptTokens: 500, completionTokens: 20, messages: true)
        #expect(e.message.contains("maximum context length is 512 tokens"))
        #expect(e.message.contains("you requested 520 tokens (500 in the messages, 20 in the completion)"))
        #expect(e.param == "messages")
    }

    @Test func completionResponseHasExplicitNulls() throws {
        let r = CompletionResponse(id: "cmpl-1", created: 1, model: "m", systemFingerprint: nil,
                                   choices: [CompletionChoice(index: 0, text: "a/b", logprobs: nil, finishReason: "length")],
                                   usage: Usage(promptTokens: 1, completionTokens: 2))
        let d = APIJSON.encode(r)
        let o = try #require(JSONSerialization.jsonObject(with: d) as? [String: Any])
        let choice = try #require((o["choices"] as? [[String: Any]])?.first)
        #expect(choice["logprobs"] is NSNull)
        #expect(String(decoding: d, as: UTF8.self).contains("a/b"))
        #expect(try JSONDecoder().decode(CompletionResponse.self, from: d) == r)
        let usage = try #require(o["usage"] as? [String: Any])
        #expect(usage["total_tokens"] as? Int == 3)
    }

    @Test func chatResponseAndModelsRoundTrip() throws {
        let lp = ChatLogprobs(content: [ChatTokenLogprob(token: "x", logprob: -0.5, bytes: [120], topLogprobs: [])])
        let r = ChatCompletionResponse(id: "chatcmpl-1", created: 2, model: "m", systemFingerprint: "fp",
                                       choices: [ChatChoice(index: 0, message: ChatMessage(role: "assistant", content: "x"),
                                                            logprobs: lp, finishReason: "stop")],
                                       usage: Usage(promptTokens: 1, completionTokens: 1))
        #expect(try JSONDecoder().decode(ChatCompletionResponse.self, from: APIJSON.encode(r)) == r)
        let models = ModelList(data: [ModelCard(id: "m", created: 3, maxModelLen: 512)])
        let o = try #require(JSONSerialization.jsonObject(with: APIJSON.encode(models)) as? [String: Any])
        #expect(o["object"] as? String == "list")
        let card = try #require((o["data"] as? [[String: Any]])?.first)
        #expect(card["owned_by"] as? String == "swiftlet" && card["object"] as? String == "model")
        let tok = try #require(JSONSerialization.jsonObject(with: APIJSON.encode(TokenizeResponse(count: 2, maxModelLen: 9, tokens: [1, 2]))) as? [String: Any])
        #expect(tok["max_model_len"] as? Int == 9 && tok["count"] as? Int == 2)
    }
}
