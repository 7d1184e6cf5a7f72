import Foundation
import Testing
@testable import OpenAIAPI

private func data(_ s: String) -> Data { Data(s.utf8) }

private func completionError(_ json: String) -> APIError? {
    do { _ = try CompletionRequest.decode(data(json)); return nil } catch { return error }
}

private func chatError(_ json: String) -> APIError? {
    do { _ = try ChatCompletionRequest.decode(data(json)); return nil } catch { return error }
}

@Suite struct CompletionDecodingTests {
    @Test func decodesEveryField() throws {
        let json = """
        {"model":"m","prompt":"hi","max_tokens":7,"temperature":0.5,"top_p":0.9,"n":2,"stream":true,
         "stream_options":{"include_usage":true},"stop":"\\n","presence_penalty":0.1,"frequency_penalty":-0.2,
         "logit_bias":{"5":-100,"17":3.5},"logprobs":3,"echo":true,"seed":42,"user":"u","suffix":"","best_of":2,
         "top_k":40,"min_p":0.05,"repetition_penalty":1.1,"min_tokens":2,"ignore_eos":true,"priority":-3,
         "stop_token_ids":[1,2],"skip_special_tokens":false}
        """
        let r = try CompletionRequest.decode(data(json))
        #expect(r.model == "m")
        #expect(r.prompt == .text("hi"))
        #expect(r.sampling.maxTokens == 7)
        #expect(r.sampling.temperature == 0.5)
        #expect(r.sampling.topP == 0.9)
        #expect(r.sampling.n == 2)
        #expect(r.stream && r.streamOptions?.includeUsage == true)
        #expect(r.sampling.stop == ["\n"])
        #expect(r.sampling.presencePenalty == 0.1)
        #expect(r.sampling.frequencyPenalty == -0.2)
        #expect(r.sampling.logitBias == [5: -100, 17: 3.5])
        #expect(r.logprobs == 3)
        #expect(r.echo)
        #expect(r.sampling.seed == 42)
        #expect(r.user == "u")
        #expect(r.sampling.topK == 40)
        #expect(r.sampling.minP == 0.05)
        #expect(r.sampling.repetitionPenalty == 1.1)
        #expect(r.sampling.minTokens == 2)
        #expect(r.sampling.ignoreEOS == true)
        #expect(r.sampling.priority == -3)
        #expect(r.sampling.stopTokenIds == [1, 2])
        #expect(r.sampling.skipSpecialTokens == false)
    }

    @Test func defaultsWhenAbsentOrNull() throws {
        let r = try CompletionRequest.decode(data(#"{"prompt":"x","temperature":null,"stop":null}"#))
        #expect(r.model == nil)
        #expect(r.sampling.maxTokens == nil)
        #expect(r.sampling.temperature == nil)
        #expect(r.sampling.n == 1)
        #expect(r.sampling.stop.isEmpty)
        #expect(!r.stream && r.streamOptions == nil && !r.echo && r.logprobs == nil)
    }

    @Test func promptShapes() throws {
        #expect(try CompletionRequest.decode(data(#"{"prompt":["a","b"]}"#)).prompt == .texts(["a", "b"]))
        #expect(try CompletionRequest.decode(data(#"{"prompt":[1,2,3]}"#)).prompt == .tokens([1, 2, 3]))
        #expect(try CompletionRequest.decode(data(#"{"prompt":[[1],[2,3]]}"#)).prompt == .tokenBatches([[1], [2, 3]]))
        #expect(try CompletionRequest.decode(data(#"{"prompt":["a","b"]}"#)).prompt.count == 2)
    }

    @Test func promptErrorsNameTheElement() {
        #expect(completionError(#"{"prompt":[]}"#)?.param == "prompt")
        #expect(completionError(#"{"prompt":["a",1]}"#)?.param == "prompt[1]")
        #expect(completionError(#"{"prompt":[1,"a"]}"#)?.param == "prompt[1]")
        #expect(completionError(#"{"prompt":[1,-4]}"#)?.param == "prompt[1]")
        #expect(completionError(#"{"prompt":[[1],[]]}"#)?.param == "prompt[1]")
        #expect(completionError(#"{"prompt":[[1],["x"]]}"#)?.param == "prompt[1][0]")
        #expect(completionError(#"{"prompt":5}"#)?.param == "prompt")
        #expect(completionError(#"{"prompt":[true]}"#)?.param == "prompt[0]")
        let missing = completionError(#"{"model":"m"}"#)
        #expect(missing?.param == "prompt" && missing?.code == "missing_required_parameter")
    }

    @Test func malformedJSON() {
        for body in ["{", "", "not json", #"{"prompt": }"#, #"{"prompt":"a"} trailing"#] {
            let e = completionError(body)
            #expect(e?.status == 400)
            #expect(e?.type == "invalid_request_error")
            #expect(e?.code == "invalid_json")
            #expect(e?.message.contains("JSON") == true)
        }
        let notObject = completionError("[1,2]")
        #expect(notObject?.status == 400 && notObject?.message.contains("an array") == true)
    }

    @Test(arguments: [
        (#"{"prompt":"a","temperature":"hot"}"#, "temperature", "a string"),
        (#"{"prompt":"a","max_tokens":1.5}"#, "max_tokens", "a number"),
        (#"{"prompt":"a","n":"2"}"#, "n", "a string"),
        (#"{"prompt":"a","stream":1}"#, "stream", "an integer"),
        (#"{"prompt":"a","stop":[1]}"#, "stop[0]", "an integer"),
        (#"{"prompt":"a","stop":{}}"#, "stop", "an object"),
        (#"{"prompt":"a","logit_bias":[]}"#, "logit_bias", "an array"),
        (#"{"prompt":"a","logit_bias":{"3":"x"}}"#, "logit_bias.3", "a string"),
        (#"{"prompt":"a","echo":"yes"}"#, "echo", "a string"),
        (#"{"prompt":"a","model":3}"#, "model", "an integer"),
        (#"{"prompt":"a","stream":true,"stream_options":{"include_usage":"y"}}"#, "stream_options.include_usage", "a string"),
        (#"{"prompt":"a","stop_token_ids":[1,"2"]}"#, "stop_token_ids[1]", "a string"),
        (#"{"prompt":"a","top_k":true}"#, "top_k", "a boolean"),
    ])
    func wrongTypesNameTheParam(body: String, param: String, got: String) {
        let e = completionError(body)
        #expect(e?.status == 400)
        #expect(e?.param == param)
        #expect(e?.code == "invalid_type")
        #expect(e?.message.contains("but got \(got)") == true)
    }

    @Test(arguments: [
        (#"{"prompt":"a","temperature":-0.1}"#, "temperature", "[0, 2]"),
        (#"{"prompt":"a","temperature":2.5}"#, "temperature", "[0, 2]"),
        (#"{"prompt":"a","top_p":0}"#, "top_p", "(0, 1]"),
        (#"{"prompt":"a","top_p":1.01}"#, "top_p", "(0, 1]"),
        (#"{"prompt":"a","n":0}"#, "n", "[1, 16]"),
        (#"{"prompt":"a","n":17}"#, "n", "[1, 16]"),
        (#"{"prompt":"a","max_tokens":0}"#, "max_tokens", ">= 1"),
        (#"{"prompt":"a","logprobs":21}"#, "logprobs", "[0, 20]"),
        (#"{"prompt":"a","logprobs":-1}"#, "logprobs", "[0, 20]"),
        (#"{"prompt":"a","presence_penalty":2.1}"#, "presence_penalty", "[-2, 2]"),
        (#"{"prompt":"a","frequency_penalty":-3}"#, "frequency_penalty", "[-2, 2]"),
        (#"{"prompt":"a","logit_bias":{"1":101}}"#, "logit_bias.1", "[-100, 100]"),
        (#"{"prompt":"a","top_k":-2}"#, "top_k", "-1"),
        (#"{"prompt":"a","min_p":1.5}"#, "min_p", "[0, 1]"),
        (#"{"prompt":"a","repetition_penalty":0}"#, "repetition_penalty", "(0, 2]"),
        (#"{"prompt":"a","min_tokens":-1}"#, "min_tokens", ">= 0"),
        (#"{"prompt":"a","min_tokens":5,"max_tokens":4}"#, "min_tokens", "max_tokens"),
        (#"{"prompt":"a","stop_token_ids":[-1]}"#, "stop_token_ids[0]", "[0, 2147483647]"),
    ])
    func outOfRangeNamesParamAndRange(body: String, param: String, range: String) {
        let e = completionError(body)
        #expect(e?.status == 400)
        #expect(e?.param == param)
        #expect(e?.message.contains(range) == true, "\(e?.message ?? "nil")")
    }

    @Test func unsupportedAndConditionalFields() {
        #expect(completionError(#"{"prompt":"a","suffix":"end"}"#)?.param == "suffix")
        #expect(completionError(#"{"prompt":"a","best_of":3,"n":2}"#)?.param == "best_of")
        #expect(completionError(#"{"prompt":"a","best_of":2,"n":2}"#) == nil)
        #expect(completionError(#"{"prompt":"a","stream_options":{"include_usage":true}}"#)?.param == "stream_options")
        #expect(completionError(#"{"prompt":"a","logit_bias":{"x":1}}"#)?.param == "logit_bias")
    }

    @Test func integralNumbersAreIntegers() throws {
        #expect(try CompletionRequest.decode(data(#"{"prompt":"a","max_tokens":5.0}"#)).sampling.maxTokens == 5)
    }

    @Test func encodeThenDecodeRoundTrips() throws {
        var s = SamplingOptions()
        s.maxTokens = 9; s.temperature = 0.3; s.n = 2; s.stop = ["x"]; s.logitBias = [3: 1.5]; s.seed = 7; s.topK = 5
        var r = CompletionRequest(model: "m", prompt: .tokenBatches([[1, 2], [3]]), sampling: s)
        r.stream = true; r.streamOptions = StreamOptions(includeUsage: true); r.logprobs = 2; r.echo = true
        let encoded = try JSONEncoder().encode(r)
        #expect(try CompletionRequest.decode(encoded) == r)
        #expect(try JSONDecoder().decode(CompletionRequest.self, from: encoded) == r)
    }
}

@Suite struct ChatDecodingTests {
    @Test func decodesMessagesAndFields() throws {
        let json = """
        {"model":"m","messages":[{"role":"developer","content":"be brief"},
          {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
          {"role":"assistant","content":null},{"role":"user","content":"q","name":"bob"}],
         "max_completion_tokens":5,"max_tokens":9,"logprobs":true,"top_logprobs":3,"stream":true,
         "stream_options":{"include_usage":false},"n":3,"seed":1,"stop":["a","b"],"temperature":0,
         "add_generation_prompt":false,"response_format":{"type":"text"},"tools":[]}
        """
        let r = try ChatCompletionRequest.decode(data(json))
        #expect(r.messages == [ChatMessage(role: "system", content: "be brief"), ChatMessage(role: "user", content: "a\nb"),
                               ChatMessage(role: "assistant", content: ""), ChatMessage(role: "user", content: "q")])
        #expect(r.sampling.maxTokens == 5)
        #expect(r.logprobs && r.topLogprobs == 3)
        #expect(r.stream && r.streamOptions?.includeUsage == false)
        #expect(r.sampling.n == 3 && r.sampling.seed == 1 && r.sampling.stop == ["a", "b"] && r.sampling.temperature == 0)
        #expect(!r.addGenerationPrompt)
    }

    @Test func maxTokensFallsBack() throws {
        let r = try ChatCompletionRequest.decode(data(#"{"messages":[{"role":"user","content":"x"}],"max_tokens":9}"#))
        #expect(r.sampling.maxTokens == 9)
        let r2 = try ChatCompletionRequest.decode(data(#"{"messages":[{"role":"user","content":"x"}]}"#))
        #expect(r2.sampling.maxTokens == nil)
    }

    @Test(arguments: [
        (#"{"model":"m"}"#, "messages"),
        (#"{"messages":[]}"#, "messages"),
        (#"{"messages":"hi"}"#, "messages"),
        (#"{"messages":[3]}"#, "messages[0]"),
        (#"{"messages":[{"content":"x"}]}"#, "messages[0].role"),
        (#"{"messages":[{"role":"robot","content":"x"}]}"#, "messages[0].role"),
        (#"{"messages":[{"role":"user"}]}"#, "messages[0].content"),
        (#"{"messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
        (#"{"messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"image_url"}]}]}"#, "messages[1].content[0].type"),
        (#"{"messages":[{"role":"user","content":[{"type":"text"}]}]}"#, "messages[0].content[0].text"),
        (#"{"messages":[{"role":"user","content":"x"}],"top_logprobs":2}"#, "top_logprobs"),
        (#"{"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}"#, "top_logprobs"),
        (#"{"messages":[{"role":"user","content":"x"}],"logprobs":1}"#, "logprobs"),
        (#"{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}"#, "max_completion_tokens"),
        (#"{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":4,"max_tokens":"4"}"#, "max_tokens"),
        (#"{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":4,"max_tokens":0}"#, "max_tokens"),
        (#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}"#, "tools[0].function"),
        (#"{"messages":[{"role":"user","content":"x"}],"tools":{}}"#, "tools"),
        (#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a b"}}]}"#, "tools[0].function.name"),
        (#"{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}"#, "tool_choice"),
        (#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}"#, "tool_choice.function.name"),
        (#"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}"#, "response_format.type"),
        (#"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":3}}}"#, "response_format.json_schema.schema"),
        (#"{"messages":[{"role":"user","content":"x"}],"guided_regex":"a","guided_choice":["b"]}"#, "guided_choice"),
        (#"{"messages":[{"role":"user","content":"x"}],"guided_json":5}"#, "guided_json"),
        (#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#, "temperature"),
    ])
    func errorsNameTheParam(body: String, param: String) {
        let e = chatError(body)
        #expect(e?.status == 400)
        #expect(e?.type == "invalid_request_error")
        #expect(e?.param == param, "\(e?.message ?? "no error")")
    }

    @Test func structuredOutputAndToolFields() throws {
        let r = try ChatCompletionRequest.decode(data(#"""
        {"messages":[{"role":"user","content":"x"},
           {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
           {"role":"tool","tool_call_id":"call_1","content":"42"}],
         "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}],
         "tool_choice":"required","parallel_tool_calls":false}
        """#))
        #expect(r.tools == [ToolDefinition(name: "f", description: "d", parameters: #"{"type":"object"}"#)])
        #expect(r.toolChoice == .required && !r.parallelToolCalls)
        #expect(r.messages[1].toolCalls == [ToolCall(id: "call_1", name: "f", arguments: #"{"a":1}"#)])
        #expect(r.messages[2] == ChatMessage(role: "tool", content: "42", toolCallId: "call_1"))
        let encoded = try JSONEncoder().encode(r)
        #expect(try ChatCompletionRequest.decode(encoded) == r, "\(String(decoding: encoded, as: UTF8.self))")
        let s = try ChatCompletionRequest.decode(data(#"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}}}"#))
        #expect(s.constraint == .jsonSchema(#"{"type":"object"}"#, param: "response_format.json_schema.schema"))
        #expect(try ChatCompletionRequest.decode(JSONEncoder().encode(s)) == s)
        // The schema keeps the body's key order (the output's property order).
        let o = try CompletionRequest.decode(data(#"{"prompt":"p","response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"string","pattern":"[\\\"}]"}}}}},"max_tokens":3}"#))
        #expect(o.constraint == .jsonSchema(#"{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"string","pattern":"[\\\"}]"}}}"#, param: "response_format.json_schema.schema"))
        let tl = try ChatCompletionRequest.decode(data(#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"b":{},"a":{}}}}}]}"#))
        #expect(tl.tools[0].parameters == #"{"type":"object","properties":{"b":{},"a":{}}}"#)
        for (field, expected) in [(#""guided_regex":"a+""#, OutputConstraint.regex("a+", param: "guided_regex")),
                                  (#""guided_choice":["a","b"]"#, .choice(["a", "b"], param: "guided_choice")),
                                  (#""grammar":"root ::= \"a\"""#, .grammar(#"root ::= "a""#, param: "grammar")),
                                  (#""json_schema":{"type":"integer"}"#, .jsonSchema(#"{"type":"integer"}"#, param: "json_schema")),
                                  (#""response_format":{"type":"json_object"}"#, .jsonObject(param: "response_format"))] {
            let body = #"{"prompt":"p","# + field + "}"
            let c = try CompletionRequest.decode(data(body))
            #expect(c.constraint == expected)
            #expect(try CompletionRequest.decode(JSONEncoder().encode(c)) == c)
        }
    }

    @Test func encodeThenDecodeRoundTrips() throws {
        var r = ChatCompletionRequest(model: "m", messages: [ChatMessage(role: "user", content: "hi \"there\"")])
        r.logprobs = true; r.topLogprobs = 2; r.sampling.maxTokens = 3; r.sampling.minP = 0.1
        #expect(try ChatCompletionRequest.decode(JSONEncoder().encode(r)) == r)
    }
}

@Suite struct TokenizeDecodingTests {
    @Test func promptAndMessages() throws {
        let p = try TokenizeRequest.decode(data(#"{"prompt":"hello","add_special_tokens":false}"#))
        #expect(p.input == .prompt("hello") && p.addSpecialTokens == false)
        let m = try TokenizeRequest.decode(data(#"{"messages":[{"role":"user","content":"x"}]}"#))
        #expect(m.input == .messages([ChatMessage(role: "user", content: "x")]) && m.addSpecialTokens == nil)
        #expect(throws: APIError.self) { try TokenizeRequest.decode(data("{}")) }
    }

    @Test func detokenize() throws {
        #expect(try DetokenizeRequest.decode(data(#"{"tokens":[1,2]}"#)).tokens == [1, 2])
        do { _ = try DetokenizeRequest.decode(data(#"{"tokens":[1,"a"]}"#)); Issue.record("no error") } catch {
            #expect(error.param == "tokens[1]")
        }
        do { _ = try DetokenizeRequest.decode(data(#"{}"#)); Issue.record("no error") } catch {
            #expect(error.param == "tokens")
        }
    }
}
