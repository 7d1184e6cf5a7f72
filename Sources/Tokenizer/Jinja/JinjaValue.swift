/// A runtime value of the Jinja subset.
enum JinjaValue: Equatable, Sendable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JinjaValue])
    case object([String: JinjaValue], keys: [String])  // keys keep insertion order for iteration
    case namespace(Int)                                // index into the renderer's namespace store

    static func object(_ pairs: [(String, JinjaValue)]) -> JinjaValue {
        var dict: [String: JinjaValue] = [:]
        var keys: [String] = []
        for (k, v) in pairs {
            if dict[k] == nil { keys.append(k) }
            dict[k] = v
        }
        return .object(dict, keys: keys)
    }

    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let d, _): !d.isEmpty
        case .namespace: true
        }
    }

    var typeName: String {
        switch self {
        case .undefined: "undefined"
        case .none: "none"
        case .bool: "boolean"
        case .int: "integer"
        case .string: "string"
        case .array: "list"
        case .object: "dict"
        case .namespace: "namespace"
        }
    }

    /// How `{{ value }}` prints (Python's str()).
    var rendered: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .string(let s): s
        case .array(let a): "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .object(let d, let keys): "{" + keys.map { "'\($0)': \(d[$0]!.repr)" }.joined(separator: ", ") + "}"
        case .namespace: "<Namespace>"
        }
    }

    /// Python's repr(), used inside containers.
    var repr: String {
        if case .string(let s) = self { return "'" + s.replacingAll("\\", "\\\\").replacingAll("'", "\\'") + "'" }
        return rendered
    }

    /// JSON text (`tojson`), keys in insertion order.
    var json: String {
        switch self {
        case .undefined, .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .string(let s): return Self.jsonString(s)
        case .array(let a): return "[" + a.map(\.json).joined(separator: ", ") + "]"
        case .object(let d, let keys): return "{" + keys.map { Self.jsonString($0) + ": " + d[$0]!.json }.joined(separator: ", ") + "}"
        case .namespace: return "{}"
        }
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return replacing(target, with: replacement)
    }
}
