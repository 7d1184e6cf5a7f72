import Foundation

/// A function the model may call (`tools[i].function`); `parameters` is its JSON schema as JSON text.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var parameters: String
    public init(name: String, description: String? = nil, parameters: String = #"{"type":"object","properties":{}}"#) {
        self.name = name; self.description = description; self.parameters = parameters
    }

    static func read(_ v: JSONValue, param: String) throws(APIError) -> ToolDefinition {
        guard case .object(let o) = v else { throw .invalidType(param: param, expected: "an object", got: v) }
        let r = FieldReader(object: o, prefix: param + ".")
        guard let type = try r.string("type") else {
            throw .invalidRequest("Missing required parameter: '\(param).type'.", param: "\(param).type", code: "missing_required_parameter")
        }
        guard type == "function" else { throw .outOfRange(param: "\(param).type", allowed: "'function'", got: "'\(type)'") }
        guard let f = try r.object("function") else {
            throw .invalidRequest("Missing required parameter: '\(param).function'.", param: "\(param).function", code: "missing_required_parameter")
        }
        guard let name = try f.string("name") else {
            throw .invalidRequest("Missing required parameter: '\(param).function.name'.", param: "\(param).function.name", code: "missing_required_parameter")
        }
        let ok = !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-"
        }
        guard ok else {
            throw .outOfRange(param: "\(param).function.name", allowed: "a name of 1 to 64 letters, digits, '_' or '-'", got: "'\(name)'")
        }
        var def = ToolDefinition(name: name, description: try f.string("description"))
        if let p = f.value("parameters") {
            guard case .object = p else { throw .invalidType(param: "\(param).function.parameters", expected: "an object", got: p) }
            def.parameters = p.jsonText
        }
        return def
    }

    var json: JSONValue {
        var f: [String: JSONValue] = ["name": .string(name)]
        if let description { f["description"] = .string(description) }
        f["parameters"] = (try? JSONDecoder().decode(JSONValue.self, from: Data(parameters.utf8))) ?? .object([:])
        return .object(["type": .string("function"), "function": .object(f)])
    }
}

/// `tool_choice`.
public enum ToolChoice: Sendable, Equatable {
    case none, auto, required
    case function(String)

    static func read(_ r: FieldReader, tools: [ToolDefinition]) throws(APIError) -> ToolChoice {
        guard let v = r.value("tool_choice") else { return tools.isEmpty ? .none : .auto }
        let choice: ToolChoice
        switch v {
        case .string("none"): choice = .none
        case .string("auto"): choice = .auto
        case .string("required"): choice = .required
        case .object(let o):
            let fr = FieldReader(object: o, prefix: "tool_choice.")
            guard try fr.string("type") == "function", let f = try fr.object("function"), let name = try f.string("name") else {
                throw .invalidRequest("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}.",
                                      param: "tool_choice", code: "invalid_value")
            }
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalidRequest("'tool_choice' names the function '\(name)', which is not in 'tools'.", param: "tool_choice.function.name", code: "invalid_value")
            }
            choice = .function(name)
        default:
            throw .invalidRequest("'tool_choice' must be 'none', 'auto', 'required' or an object naming a function.",
                                  param: "tool_choice", code: "invalid_value")
        }
        if choice != .none && tools.isEmpty {
            throw .invalidRequest("'tool_choice' is set but 'tools' is empty.", param: "tool_choice", code: "invalid_value")
        }
        return choice
    }

    var json: JSONValue {
        switch self {
        case .none: return .string("none")
        case .auto: return .string("auto")
        case .required: return .string("required")
        case .function(let n): return .object(["type": .string("function"), "function": .object(["name": .string(n)])])
        }
    }
}

/// A call the assistant made: `{"id", "type": "function", "function": {"name", "arguments"}}`; `arguments` is JSON text.
public struct ToolCall: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var arguments: String
    public init(id: String, name: String, arguments: String) { self.id = id; self.name = name; self.arguments = arguments }

    enum CodingKeys: String, CodingKey { case id, type, function }
    enum FunctionKeys: String, CodingKey { case name, arguments }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        let f = try c.nestedContainer(keyedBy: FunctionKeys.self, forKey: .function)
        name = try f.decode(String.self, forKey: .name)
        arguments = try f.decodeIfPresent(String.self, forKey: .arguments) ?? "{}"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode("function", forKey: .type)
        var f = c.nestedContainer(keyedBy: FunctionKeys.self, forKey: .function)
        try f.encode(name, forKey: .name)
        try f.encode(arguments, forKey: .arguments)
    }

    static func read(_ v: JSONValue, param: String) throws(APIError) -> ToolCall {
        guard case .object(let o) = v else { throw .invalidType(param: param, expected: "an object", got: v) }
        let r = FieldReader(object: o, prefix: param + ".")
        guard let f = try r.object("function"), let name = try f.string("name") else {
            throw .invalidRequest("Missing required parameter: '\(param).function.name'.", param: "\(param).function.name", code: "missing_required_parameter")
        }
        return ToolCall(id: try r.string("id") ?? "", name: name, arguments: try f.string("arguments") ?? "{}")
    }
}
