import Constraints
import Engine
import Foundation
import Testing
import Tokenizer

extension EngineSuite {
    /// Constrained decoding through the whole engine on stories260K (a model that knows nothing of JSON, so
    /// every well-formed output is the constraint's doing).
    @Suite("Constrained decoding", .serialized)
    struct ConstrainedDecodingTests {
        static let schema = #"""
        {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 3},
            "pet": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pet"}]}},
         "required": ["name", "age", "tags", "pet"], "additionalProperties": false,
         "$defs": {"pet": {"type": "object", "properties": {"kind": {"const": "cat"}, "legs": {"type": "integer", "minimum": 3, "maximum": 4}},
                           "required": ["kind", "legs"], "additionalProperties": false}}}
        """#

        /// Long enough to fill whole KV blocks (prefix caching shares full blocks only).
        static let prompt: [Int32] = [1] + (0..<40).map { Int32(3 + ($0 * 37) % 500) }

        static func params(_ kind: ConstraintSpec.Kind, temperature: Float = 0, seed: UInt64? = nil, max: Int = 200) -> SamplingParams {
            var p = SamplingParams()
            p.temperature = temperature
            p.seed = seed
            p.maxTokens = max
            p.constraint = ConstraintSpec(kind, param: "response_format")
            return p
        }

        /// The schema's rules, checked by hand on the parsed output.
        static func check(_ text: String) -> String? {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return "not a JSON object: \(text)" }
            guard Set(obj.keys) == ["name", "age", "tags", "pet"] else { return "keys \(obj.keys)" }
            guard let name = obj["name"] as? String, name.count <= 12 else { return "name" }
            guard let age = obj["age"] as? Int, (0...120).contains(age) else { return "age" }
            guard let tags = obj["tags"] as? [String], tags.count <= 3, tags.allSatisfy({ ["red", "green", "blue"].contains($0) }) else { return "tags" }
            if !(obj["pet"] is NSNull) {
                guard let pet = obj["pet"] as? [String: Any], pet["kind"] as? String == "cat",
                      let legs = pet["legs"] as? Int, legs == 3 || legs == 4, pet.count == 2 else { return "pet" }
            }
            return nil
        }

        @Test func jsonSchemaOutputsValidate() async throws {
            let engine = try makeEngine(numBlocks: 256)
            var runs: [SamplingParams] = [Self.params(.jsonSchema(Self.schema))]
            for seed in 1...6 { runs.append(Self.params(.jsonSchema(Self.schema), temperature: 1, seed: UInt64(seed))) }
            for p in runs {
                let c = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt, params: p)))
                #expect(c.finish == .stop, "\(c.text)")
                #expect(Self.check(c.text) == nil, "\(Self.check(c.text) ?? "")")
            }
            engine.shutdown()
        }

        @Test func regexChoiceAndGrammar() async throws {
            let engine = try makeEngine(numBlocks: 256)
            let pattern = #"[a-z]{2,6}( [a-z]{2,6}){1,3}\."#
            let re = try NSRegularExpression(pattern: "^" + pattern + "$")
            for seed in 0..<5 {
                let c = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt,
                    params: Self.params(.regex(pattern), temperature: seed == 0 ? 0 : 1, seed: UInt64(seed)))))
                #expect(re.firstMatch(in: c.text, range: NSRange(c.text.startIndex..., in: c.text)) != nil, "\(c.text)")
                #expect(c.finish == .stop)
                let options = ["Lily", "Tim and Sue", "the big dog"]
                let d = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt,
                    params: Self.params(.choice(options), temperature: 1, seed: UInt64(seed)))))
                #expect(options.contains(d.text), "\(d.text)")
                let g = #"root ::= "(" num ( [-+*] num ){1,3} ")"  num ::= [1-9] [0-9]?"#
                let e = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt,
                    params: Self.params(.grammar(g.replacingOccurrences(of: "  num", with: "\nnum")), temperature: 1, seed: UInt64(seed)))))
                #expect(e.text.range(of: #"^\([1-9][0-9]?([-+*][1-9][0-9]?){1,3}\)$"#, options: .regularExpression) != nil, "\(e.text)")
            }
            engine.shutdown()
        }

        /// The same greedy constrained output alone, preempted and recomputed in a crowded pool, and from the
        /// prefix cache.
        @Test func preemptionAndPrefixCacheKeepOutput() async throws {
            let big = try makeEngine(numBlocks: 256)
            let alone = await collect(try big.generate(EngineRequest(promptTokenIds: Self.prompt, params: Self.params(.jsonSchema(Self.schema)))))
            let again = await collect(try big.generate(EngineRequest(promptTokenIds: Self.prompt, params: Self.params(.jsonSchema(Self.schema)))))
            #expect(big.currentStats.prefixCacheHits > 0)
            #expect(again.ids == alone.ids)
            big.shutdown()
            #expect(Self.check(alone.text) == nil)

            let small = try makeEngine(numBlocks: 64, blockSize: 4, maxBatched: 64)
            let results = await withTaskGroup(of: Collected.self) { g in
                for _ in 0..<6 {
                    g.addTask { await collect(try! small.generate(EngineRequest(promptTokenIds: Self.prompt, params: Self.params(.jsonSchema(Self.schema))))) }
                }
                var out: [Collected] = []
                for await c in g { out.append(c) }
                return out
            }
            #expect(small.currentStats.numPreemptions > 0)
            for r in results { #expect(r.ids == alone.ids) }
            small.shutdown()
        }

        /// A request resumed elsewhere with its delivered tokens as prompt tail rebuilds the constraint state from
        /// them and continues exactly.
        @Test func resumedRequestRebuildsState() async throws {
            let engine = try makeEngine(numBlocks: 256)
            let full = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt, params: Self.params(.jsonSchema(Self.schema)))))
            let k = full.ids.count / 2
            var p = Self.params(.jsonSchema(Self.schema))
            p.maxTokens -= k
            let rest = await collect(try engine.generate(EngineRequest(promptTokenIds: Self.prompt + full.ids[..<k], params: p,
                                                                       resumedOutputTokens: k)))
            #expect(Array(full.ids[k...]) == rest.ids)
            engine.shutdown()
        }

        @Test func uncompilableConstraintIsRefused() throws {
            let engine = try makeEngine(numBlocks: 32)
            var p = Self.params(.jsonSchema(#"{"type": "object", "properties": {"x": {"type": "strin"}}}"#))
            p.constraint?.param = "response_format.json_schema.schema"
            do {
                _ = try engine.generate(EngineRequest(promptTokenIds: Self.prompt, params: p))
                Issue.record("accepted")
            } catch {
                guard case .invalid(let param, let message) = error else { Issue.record("\(error)"); return }
                #expect(param == "response_format.json_schema.schema.properties.x.type")
                #expect(message.contains("unknown type 'strin'"))
            }
            engine.shutdown()
        }
    }
}

/// The constraint's share of the decode step at 32 concurrent JSON-schema requests on SmolLM2 (opt-in:
/// SWIFTLET_BENCH_CONSTRAINTS=1; prints the figures).
@Suite("Constraint overhead", .serialized, .enabled(if: ProcessInfo.processInfo.environment["SWIFTLET_BENCH_CONSTRAINTS"] != nil))
struct ConstraintOverheadBenchmark {
    static let schema = #"""
    {"type": "object", "properties": {
      "id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "maxLength": 40},
      "email": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
      "score": {"type": "number"}, "active": {"type": "boolean"},
      "role": {"enum": ["admin", "editor", "viewer", "guest"]},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
      "address": {"type": "object", "properties": {"street": {"type": "string", "maxLength": 40}, "city": {"type": "string", "maxLength": 30}},
                  "required": ["street", "city"], "additionalProperties": false},
      "note": {"type": "string", "maxLength": 60}},
     "required": ["id", "name", "email", "age", "score", "active", "role", "tags", "address", "note"], "additionalProperties": false}
    """#

    @Test func smolLM2ThirtyTwoConcurrent() async throws {
        let engine = try makeEngine(Paths.smol, tokenizer: nil, numBlocks: 1024, maxBatched: 2048, maxSeqs: 64)
        let prompt = engine.tokenizer.encode("<|im_start|>user\nDescribe a user of a web site as JSON.<|im_end|>\n<|im_start|>assistant\n",
                                             addSpecial: false, parseSpecial: true)
        for constrained in [false, true] {
            let before = engine.currentStats
            let clock = ContinuousClock()
            let t0 = clock.now
            let results = await withTaskGroup(of: Collected.self) { g in
                for i in 0..<32 {
                    var p = SamplingParams()
                    p.temperature = 1; p.seed = UInt64(i); p.maxTokens = 96
                    if constrained { p.constraint = ConstraintSpec(.jsonSchema(Self.schema), param: "response_format") } else { p.ignoreEOS = true }
                    let req = EngineRequest(promptTokenIds: prompt, params: p)
                    g.addTask { await collect(try! engine.generate(req)) }
                }
                var out: [Collected] = []
                for await c in g { out.append(c) }
                return out
            }
            let wall = clock.now - t0
            let s = engine.currentStats
            let steps = s.stepSeconds - before.stepSeconds, cons = s.constraintSeconds - before.constraintSeconds
            let tokens = results.reduce(0) { $0 + $1.ids.count }
            print("SmolLM2, 32 concurrent, constrained=\(constrained): \(tokens) tokens in \(wall); step time \(steps) s; mask+advance \(cons) s = \(String(format: "%.2f", 100 * cons / max(steps, 1e-9)))% of step time")
        }
        engine.shutdown()
    }
}
