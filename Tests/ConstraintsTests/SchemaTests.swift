@testable import Constraints
import Foundation
import Testing

@Suite("JSON schema")
struct SchemaTests {
    @Test func objectsInDeclaredOrderWithOptionalMembers() throws {
        let g = try grammar(.jsonSchema(#"""
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
         "required": ["b"], "additionalProperties": false}
        """#))
        for s in [#"{"b": "x"}"#, #"{"a": 1, "b": "x"}"#, #"{"b":"x","c":true}"#, #"{ "a": -5, "b": "", "c": false }"#] {
            #expect(accepts(g, s), "\(s)")
        }
        for s in [#"{"a": 1}"#, #"{"b": "x", "a": 1}"#, #"{"b": 1}"#, #"{"b": "x",}"#, #"{"b": "x", "d": 1}"#, #"{,"b": "x"}"#] {
            #expect(!accepts(g, s), "\(s)")
        }
    }

    @Test func refsAnyOfEnumConstArrays() throws {
        let g = try grammar(.jsonSchema(#"""
        {"$defs": {"node": {"type": "object", "properties": {"v": {"enum": [1, "two", null]},
                   "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
                   "required": ["v"], "additionalProperties": false}},
         "anyOf": [{"$ref": "#/$defs/node"}, {"const": {"k": [true]}}, {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}]}
        """#))
        for s in [#"{"v": 1}"#, #"{"v": "two", "kids": [{"v": null}, {"v": 1, "kids": []}]}"#, #"{"k":[true]}"#, "[1, 2.5]", "[1,2,-3e2]"] {
            #expect(accepts(g, s), "\(s)")
        }
        for s in [#"{"v": 2}"#, #"{"v": 1, "kids": [{"v": 1}, {"v": 1}, {"v": 1}]}"#, "[1]", "[1,2,3,4]", #"{"k": [false]}"#] {
            #expect(!accepts(g, s), "\(s)")
        }
    }

    @Test func stringsLengthsPatternsFormats() throws {
        let g = try grammar(.jsonSchema(#"{"type": "array", "prefixItems": [{"type": "string", "minLength": 2, "maxLength": 3}, {"pattern": "^[A-Z]{2}-\\d+$"}, {"format": "date"}, {"type": "string"}], "items": false}"#))
        #expect(accepts(g, #"["ab", "XY-12", "2024-02-29", "\"q\"\n\u00e9"]"#))
        #expect(!accepts(g, #"["a", "XY-12", "2024-02-29", ""]"#))
        #expect(!accepts(g, #"["abcd", "XY-12", "2024-02-29", ""]"#))
        #expect(!accepts(g, #"["ab", "xy-12", "2024-02-29", ""]"#))
        #expect(!accepts(g, #"["ab", "XY-12", "2024-13-01", ""]"#))
        #expect(!accepts(g, "[\"ab\", \"XY-12\", \"2024-02-29\", \"\u{01}\"]"))
    }

    /// Integer bounds are exact: every integer near the bounds is accepted exactly when it is inside them.
    @Test func integerBoundsExact() throws {
        var rng = SplitMix(seed: 3)
        for _ in 0..<40 {
            let lo = rng.int(-1200...1200), hi = lo + rng.int(0...2500)
            let useLo = rng.int(0...3) > 0, useHi = rng.int(0...3) > 0
            var s: [String] = [#""type": "integer""#]
            if useLo { s.append(rng.int(0...1) == 0 ? "\"minimum\": \(lo)" : "\"exclusiveMinimum\": \(lo - 1)") }
            if useHi { s.append("\"maximum\": \(hi)") }
            let g = try grammar(.jsonSchema("{" + s.joined(separator: ", ") + "}"))
            for v in stride(from: lo - 130, through: hi + 130, by: 1) where v % 7 == 0 || abs(v - lo) < 12 || abs(v - hi) < 12 {
                let inside = (!useLo || v >= lo) && (!useHi || v <= hi)
                #expect(accepts(g, String(v)) == inside, "\(s) \(v)")
            }
            #expect(!accepts(g, "01") && !accepts(g, "1.0"))   // (-0 is a valid JSON integer)
        }
    }

    @Test func numberBounds() throws {
        let g = try grammar(.jsonSchema(#"{"type": "number", "minimum": 0, "maximum": 1}"#))
        for s in ["0", "0.25", "1", "0.999"] { #expect(accepts(g, s), "\(s)") }
        for s in ["1.5", "-0.1", "2", "1e3"] { #expect(!accepts(g, s), "\(s)") }
    }

    @Test func errorsNameThePlace() {
        let cases: [(String, String)] = [
            (#"{"properties": {"a": {"type": "strin"}}}"#, "properties.a.type"),
            (#"{"anyOf": [{"type": "string"}, {"not": {}}]}"#, "anyOf[1].not"),
            (##"{"$ref": "#/$defs/missing"}"##, "$ref"),
            (#"{"type": "string", "pattern": "(a"}"#, "pattern"),
            (#"{"type": "array", "items": {"uniqueItems": true}}"#, "items.uniqueItems"),
            (#"{"type": "integer", "minimum": 5, "maximum": 1}"#, ""),
        ]
        for (schema, path) in cases {
            do { _ = try grammar(.jsonSchema(schema)); Issue.record("\(schema) compiled") }
            catch let e as ConstraintError { #expect(e.path == path, "\(schema): \(e)") }
            catch { Issue.record("\(error)") }
        }
        #expect(throws: ConstraintError.self) { try grammar(.jsonSchema("{not json")) }
    }

    /// Random walks through the masks of a byte vocabulary always end in text that JSON parsers accept.
    @Test func randomOutputsParse() throws {
        var rng = SplitMix(seed: 11)
        let tokens: [[UInt8]?] = (0..<256).map { [UInt8($0)] } + [nil]
        let vocab = VocabIndex(tokenBytes: tokens, stopIds: [256])
        let schema = #"{"type": "object", "properties": {"n": {"type": "number"}, "s": {"type": "string", "maxLength": 5}, "l": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}}, "required": ["n", "s", "l"]}"#
        for kind in [ConstraintSpec.Kind.jsonSchema(schema), .jsonObject] {
            let idx = GrammarIndex(grammar: try grammar(kind), vocab: vocab)
            var complete = 0
            for _ in 0..<60 {
                let (text, done) = randomOutput(idx, tokens: tokens, rng: &rng, maxTokens: 300)
                guard done else { continue }
                complete += 1
                #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any], "\(text)")
            }
            #expect(complete > 10)
        }
    }

    @Test func toolCalls() throws {
        let g = try grammar(.toolCalls([ToolFunction(name: "get_weather", parameters: #"{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"#),
                                        ToolFunction(name: "noop", parameters: #"{"type": "object", "properties": {}}"#)], parallel: true))
        #expect(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"))
        #expect(accepts(g, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\":\"noop\",\"arguments\":{}}\n</tool_call>"))
        #expect(!accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"))
        #expect(!accepts(g, "<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>"))
    }

    /// Compile time of a typical schema (10 properties, a nested object, an enum), uncached.
    @Test func compileTime() throws {
        let schema = #"""
        {"type": "object", "properties": {
          "id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "maxLength": 64},
          "email": {"type": "string", "format": "email"}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
          "score": {"type": "number"}, "active": {"type": "boolean"},
          "role": {"enum": ["admin", "editor", "viewer", "guest"]},
          "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
          "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
                      "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "required": ["street", "city", "zip"], "additionalProperties": false},
          "created": {"type": "string", "format": "date-time"}},
         "required": ["id", "name", "email", "age", "score", "active", "role", "tags", "address", "created"],
         "additionalProperties": false}
        """#
        let clock = ContinuousClock()
        var best = Duration.seconds(100)
        for _ in 0..<5 {
            let t = clock.measure { _ = try? ConstraintSpec.compileUncached(.jsonSchema(schema)) }
            best = min(best, t)
        }
        print("compile time (10-property schema, uncached, best of 5): \(best)")
        #expect(best < .milliseconds(50))
    }
}
