import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Server
import Testing

/// End-to-end over HTTP against the real engine with stories260K.
@Suite(.serialized) struct LiveServerTests {
    @Test func greedyCompletionMatchesTheGolden() async throws {
        let golden = try object(String(contentsOf: Paths.golden, encoding: .utf8))
        let goldenText = try #require(golden["text"] as? String)
        let goldenIds = try #require(golden["generated_ids"] as? [Int])
        try await withLiveServer { live in
            let r = try await live.post("/v1/completions",
                                        #"{"model":"stories","prompt":[1],"max_tokens":\#(goldenIds.count),"temperature":0}"#)
            #expect(r.status == 200)
            let o = try r.json()
            #expect(o["object"] as? String == "text_completion")
            #expect((o["id"] as? String)?.hasPrefix("cmpl-") == true)
            #expect(o["model"] as? String == "stories")
            let choice = try #require((o["choices"] as? [[String: Any]])?.first)
            let text = try #require(choice["text"] as? String)
            #expect(text.drop(while: { $0 == " " }) == Substring(goldenText))
            let usage = try #require(o["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 1)
            #expect(usage["completion_tokens"] as? Int == goldenIds.count)
            #expect(usage["total_tokens"] as? Int == goldenIds.count + 1)
            #expect(choice["finish_reason"] as? String == "length")
        }
    }

    @Test func streamedCompletionEqualsTheWholeOne() async throws {
        try await withLiveServer { live in
            let body = #"{"prompt":"Once upon a time","max_tokens":40,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}"#
            let whole = try await live.post("/v1/completions", body.replacingOccurrences(of: #","stream":true,"stream_options":{"include_usage":true}"#, with: ""))
            let wholeText = try #require((try whole.json()["choices"] as? [[String: Any]])?.first?["text"] as? String)
            let s = try await live.post("/v1/completions", body)
            #expect(s.status == 200)
            #expect(s.headers["Content-Type"].first == "text/event-stream")
            let events = s.events
            #expect(events.last == "[DONE]")
            let chunks = try events.dropLast().map(object)
            var text = ""
            for c in chunks.dropLast() {
                #expect(c["object"] as? String == "text_completion")
                #expect(c["usage"] is NSNull)
                text += (c["choices"] as? [[String: Any]])?.first?["text"] as? String ?? ""
            }
            #expect(text == wholeText)
            let usageChunk = try #require(chunks.last)
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(usageChunk["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 40)
            let lastChoice = try #require((chunks[chunks.count - 2]["choices"] as? [[String: Any]])?.first)
            #expect(lastChoice["finish_reason"] as? String == "length")
        }
    }

    @Test func completionMatchesTheEngineDirectly() async throws {
        try await withLiveServer { live in
            var p = SamplingParams()
            p.temperature = 0.8; p.seed = 7; p.maxTokens = 24
            let ids = live.engine.encode("The cat", addSpecial: true, parseSpecial: false)
            var direct = ""
            for await o in try live.engine.generate(EngineRequest(promptTokenIds: ids, params: p)) { direct += o.textDelta }
            let r = try await live.post("/v1/completions", #"{"prompt":"The cat","max_tokens":24,"temperature":0.8,"seed":7}"#)
            let text = try #require((try r.json()["choices"] as? [[String: Any]])?.first?["text"] as? String)
            #expect(text == direct)
            #expect(!text.isEmpty)
        }
    }

    @Test func echoLogprobsAndPromptBatches() async throws {
        try await withLiveServer { live in
            let r = try await live.post("/v1/completions",
                                        #"{"prompt":["Once upon","A dog"],"max_tokens":5,"temperature":0,"echo":true,"logprobs":2}"#)
            #expect(r.status == 200, "\(r.body)")
            let choices = try #require(try r.json()["choices"] as? [[String: Any]])
            try #require(choices.map { $0["index"] as? Int } == [0, 1])
            #expect((choices[0]["text"] as? String)?.hasPrefix("Once upon") == true)
            #expect((choices[1]["text"] as? String)?.hasPrefix("A dog") == true)
            let lp = try #require(choices[0]["logprobs"] as? [String: Any])
            let promptLen = live.engine.encode("Once upon", addSpecial: true, parseSpecial: false).count
            let tokens = try #require(lp["tokens"] as? [String])
            let tokenLogprobs = try #require(lp["token_logprobs"] as? [Any])
            let tops = try #require(lp["top_logprobs"] as? [Any])
            #expect(tokens.count == promptLen + 5)
            #expect(tokenLogprobs.count == tokens.count && tops.count == tokens.count)
            #expect(tokenLogprobs.first is NSNull)
            // Generated tokens always carry a logprob (prompt tokens only when the engine reports them).
            for v in tokenLogprobs.suffix(5) { #expect(((v as? Double) ?? 1) <= 0) }
            let lastTop = try #require(tops.last as? [String: Double])
            #expect(lastTop.count >= 2 && lastTop.count <= 3)
            #expect(lastTop[tokens.last!] != nil)
            let offsets = try #require(lp["text_offset"] as? [Int])
            #expect(offsets == offsets.sorted() && offsets.count == tokens.count)
        }
    }

    @Test func chatNonStreamAndStream() async throws {
        try await withLiveServer { live in
            let body = #"{"model":"stories","messages":[{"role":"system","content":"Tell a story."},{"role":"user","content":[{"type":"text","text":"Once upon a time"}]}],"max_tokens":12,"temperature":0,"logprobs":true,"top_logprobs":2}"#
            let r = try await live.post("/v1/chat/completions", body)
            #expect(r.status == 200, "\(r.body)")
            let o = try r.json()
            #expect(o["object"] as? String == "chat.completion")
            #expect((o["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            let choice = try #require((o["choices"] as? [[String: Any]])?.first)
            let message = try #require(choice["message"] as? [String: Any])
            #expect(message["role"] as? String == "assistant")
            let content = try #require(message["content"] as? String)
            let lp = try #require((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
            #expect(lp.count == 12)
            #expect((lp.first?["top_logprobs"] as? [Any])?.count == 2)
            #expect((lp.first?["bytes"] as? [Int]) != nil)
            let usage = try #require(o["usage"] as? [String: Any])
            let rendered = try live.engine.renderChat([ChatMessageInput(role: "system", content: "Tell a story."),
                                                       ChatMessageInput(role: "user", content: "Once upon a time")],
                                                      addGenerationPrompt: true)
            #expect(usage["prompt_tokens"] as? Int == live.engine.encode(rendered, addSpecial: false, parseSpecial: true).count)

            let s = try await live.post("/v1/chat/completions", body.replacingOccurrences(of: "\"temperature\":0", with: "\"temperature\":0,\"stream\":true"))
            let chunks = try s.events.dropLast().map(object)
            #expect(s.events.last == "[DONE]")
            let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
            #expect(deltas.first?["role"] as? String == "assistant")
            #expect(deltas.dropFirst().allSatisfy { $0["role"] == nil })
            #expect(deltas.compactMap { $0["content"] as? String }.joined() == content)
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        }
    }

    @Test func nGreaterThanOneStreamsEveryChoiceWithOwnSeed() async throws {
        try await withLiveServer { live in
            let body = #"{"prompt":"Once upon a time","max_tokens":16,"temperature":1,"seed":3,"n":3,"stream":true}"#
            let s = try await live.post("/v1/completions", body)
            var texts = [String](repeating: "", count: 3)
            var finished = Set<Int>()
            for c in try s.events.dropLast().map(object) {
                let ch = try #require((c["choices"] as? [[String: Any]])?.first)
                let i = try #require(ch["index"] as? Int)
                texts[i] += ch["text"] as? String ?? ""
                if ch["finish_reason"] is String { finished.insert(i) }
            }
            #expect(finished == [0, 1, 2])
            #expect(Set(texts).count > 1, "seeds seed+i must give different samples: \(texts)")
            // Same seed again → the same three texts (non-streamed).
            let r = try await live.post("/v1/completions", body.replacingOccurrences(of: ",\"stream\":true", with: ""))
            let again = try #require(try r.json()["choices"] as? [[String: Any]]).map { $0["text"] as? String ?? "" }
            #expect(again == texts)
        }
    }

    @Test func modelsHealthTokenizeDetokenizeOpenAPI() async throws {
        try await withLiveServer { live in
            let health = try await live.get("/health")
            #expect(health.status == 200)
            let models = try await live.get("/v1/models").json()
            let card = try #require((models["data"] as? [[String: Any]])?.first)
            #expect(card["id"] as? String == "stories" && card["object"] as? String == "model")
            #expect(card["max_model_len"] as? Int == live.engine.modelInfo.maxModelLen)
            #expect(try await live.get("/v1/models/stories").json()["id"] as? String == "stories")
            let missing = try await live.get("/v1/models/gpt-4")
            #expect(missing.status == 404 && missing.errorField("code") == "model_not_found")

            let tok = try await live.post("/tokenize", #"{"prompt":"Once upon a time"}"#).json()
            let ids = try #require(tok["tokens"] as? [Int])
            #expect(ids == live.engine.encode("Once upon a time", addSpecial: true, parseSpecial: false).map { Int($0) })
            #expect(tok["count"] as? Int == ids.count && tok["max_model_len"] as? Int == live.engine.modelInfo.maxModelLen)
            let noBos = try await live.post("/tokenize", #"{"prompt":"Once upon a time","add_special_tokens":false}"#).json()
            #expect((noBos["tokens"] as? [Int])?.count == ids.count - 1)
            let chatTok = try await live.post("/tokenize", #"{"messages":[{"role":"user","content":"hi"}]}"#).json()
            #expect((chatTok["count"] as? Int ?? 0) > 0)
            let detok = try await live.post("/detokenize", #"{"tokens":\#(ids)}"#).json()
            #expect((detok["prompt"] as? String)?.contains("Once upon a time") == true)
            let badTok = try await live.post("/detokenize", #"{"tokens":[1,99999]}"#)
            #expect(badTok.status == 400 && badTok.errorField("param") == "tokens[1]")

            let doc = try await live.get("/openapi.json").json()
            #expect((doc["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(doc["paths"] as? [String: Any])
            for p in ["/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize", "/detokenize", "/health", "/metrics"] {
                #expect(paths[p] != nil, "\(p) missing from openapi.json")
            }
        }
    }

    @Test func metricsAfterRequests() async throws {
        try await withLiveServer { live in
            _ = try await live.post("/v1/completions", #"{"prompt":"Once","max_tokens":6,"temperature":0}"#)
            let m = try await live.get("/metrics")
            #expect(m.status == 200)
            #expect(m.headers["Content-Type"].first?.hasPrefix("text/plain") == true)
            for name in ["swiftlet:num_requests_running", "swiftlet:num_requests_waiting", "swiftlet:kv_cache_usage_perc",
                         "swiftlet:prompt_tokens_total", "swiftlet:generation_tokens_total", "swiftlet:num_preemptions_total",
                         "swiftlet:prefix_cache_queries_total", "swiftlet:prefix_cache_hits_total",
                         "swiftlet:time_to_first_token_seconds_bucket", "swiftlet:inter_token_latency_seconds_bucket",
                         "swiftlet:e2e_request_latency_seconds_count", "swiftlet:request_queue_time_seconds_sum"] {
                #expect(m.body.contains(name), "\(name) missing")
            }
            let lines = m.body.split(separator: "\n")
            #expect(lines.contains("swiftlet:generation_tokens_total 6"))
            #expect(lines.contains(#"swiftlet:request_success_total{finished_reason="length"} 1"#))
            #expect(lines.contains("swiftlet:e2e_request_latency_seconds_count 1"))
            // The engine's one metric of its own is published (not silenced), and every name has one owner.
            #expect(lines.contains { $0.hasPrefix("swiftlet:iteration_tokens_total_count ") })
            // The engine's step time (wall seconds in its steps) has advanced with the request's six steps and more.
            let step = lines.first { $0.hasPrefix("swiftlet:engine_step_seconds_total ") }.flatMap { Double($0.split(separator: " ")[1]) }
            #expect((step ?? 0) > 0, "swiftlet:engine_step_seconds_total missing or zero")
            let types = lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
            #expect(Set(types).count == types.count, "a metric family is published twice: \(types)")
        }
    }
}
