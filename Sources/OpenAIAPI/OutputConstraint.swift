import Foundation

/// What a request asks its output to match, read from OpenAI's `response_format`, vLLM's `guided_json` /
/// `guided_regex` / `guided_choice` / `guided_grammar` or llama.cpp's `json_schema` / `grammar` (at most one).
/// `param` names the field, so a schema or grammar that cannot be compiled gets a 400 naming its place.
public enum OutputConstraint: Sendable, Equatable {
    /// JSON text of the schema.
    case jsonSchema(String, param: String)
    case jsonObject(param: String)
    case regex(String, param: String)
    case choice([String], param: String)
    case grammar(String, param: String)

    public var param: String {
        switch self {
        case .jsonSchema(_, let p), .jsonObject(let p), .regex(_, let p), .choice(_, let p), .grammar(_, let p): return p
        }
    }

    /// The schema as written in the request body (the parsed form sorts keys; the output follows this order).
    func keepingKeyOrder(from body: [UInt8]) -> OutputConstraint {
        guard case .jsonSchema(let sorted, let p) = self else { return self }
        let path: [RawJSON.Step] = p == "response_format.json_schema.schema"
            ? [.key("response_format"), .key("json_schema"), .key("schema")] : [.key(p)]
        guard let text = RawJSON.text(in: body, at: path), text.first == "{" else { return self }
        _ = sorted
        return .jsonSchema(text, param: p)
    }

    static func read(_ r: FieldReader) throws(APIError) -> OutputConstraint? {
        var found: [OutputConstraint] = []
        if let f = try r.object("response_format") {
            switch try f.string("type") {
            case nil: throw .invalidRequest("Missing required parameter: 'response_format.type'.", param: "response_format.type", code: "missing_required_parameter")
            case "text": break
            case "json_object": found.append(.jsonObject(param: "response_format"))
            case "json_schema":
                guard let js = try f.object("json_schema") else {
                    throw .invalidRequest("Missing required parameter: 'response_format.json_schema'.", param: "response_format.json_schema", code: "missing_required_parameter")
                }
                if let schema = js.value("schema") {
                    guard case .object = schema else { throw .invalidType(param: "response_format.json_schema.schema", expected: "an object", got: schema) }
                    found.append(.jsonSchema(schema.jsonText, param: "response_format.json_schema.schema"))
                } else {
                    found.append(.jsonObject(param: "response_format.json_schema"))
                }
            case let t?:
                throw .outOfRange(param: "response_format.type", allowed: "one of 'text', 'json_object', 'json_schema'", got: "'\(t)'")
            }
        }
        for key in ["guided_json", "json_schema"] {
            guard let v = r.value(key) else { continue }
            switch v {
            case .object: found.append(.jsonSchema(v.jsonText, param: key))
            case .string(let s): found.append(.jsonSchema(s, param: key))
            default: throw .invalidType(param: key, expected: "a JSON schema (an object or its JSON text)", got: v)
            }
        }
        if let s = try r.string("guided_regex") { found.append(.regex(s, param: "guided_regex")) }
        if let c = try r.stringOrStrings("guided_choice") {
            guard !c.isEmpty else { throw .invalidRequest("'guided_choice' must not be empty.", param: "guided_choice", code: "invalid_value") }
            found.append(.choice(c, param: "guided_choice"))
        }
        for key in ["guided_grammar", "grammar"] {
            if let g = try r.string(key), !g.isEmpty { found.append(.grammar(g, param: key)) }
        }
        guard found.count <= 1 else {
            throw .invalidRequest("Only one output constraint may be given; got \(found.map { "'\($0.param)'" }.joined(separator: ", ")).",
                                  param: found[1].param, code: "invalid_value")
        }
        return found.first
    }

    var json: (String, JSONValue) {
        switch self {
        case .jsonSchema(let s, let p):
            let v = (try? JSONDecoder().decode(JSONValue.self, from: Data(s.utf8))) ?? .string(s)
            if p.hasPrefix("response_format") {
                return ("response_format", .object(["type": .string("json_schema"), "json_schema": .object(["name": .string("schema"), "schema": v])]))
            }
            return (p, v)
        case .jsonObject: return ("response_format", .object(["type": .string("json_object")]))
        case .regex(let s, let p): return (p, .string(s))
        case .choice(let c, let p): return (p, .array(c.map { .string($0) }))
        case .grammar(let g, let p): return (p, .string(g))
        }
    }
}
