public import Foundation

/// A parsed JSON value. Requests are first parsed into this, then read field by field so that each
/// wrong type or value can name its parameter.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// How an error message names the value's type ("a string", "an array", ...).
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses a request body. Malformed JSON → 400 `invalid_json`; a non-object → 400.
    public static func parseObject(_ data: Data) throws(APIError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch let DecodingError.dataCorrupted(ctx) {
            let detail = (ctx.underlyingError.map { "\($0)" }) ?? ctx.debugDescription
            throw .malformedJSON(data.isEmpty ? "the body is empty" : detail)
        } catch {
            throw .malformedJSON("\(error)")
        }
        guard case .object(let object) = value else {
            throw .invalidRequest("The request body must be a JSON object, but got \(value.typeDescription).",
                                  code: "invalid_type")
        }
        return object
    }

    /// Renders the value in JSON (for error messages and for encoding requests).
    public var jsonText: String {
        var w = JSONWriter(); w.value(self); return w.output
    }
}

/// Reads typed fields of one JSON object; every error names `prefix + key`.
/// `null` counts as absent, as in OpenAI's API.
struct FieldReader {
    let object: [String: JSONValue]
    var prefix: String = ""

    func name(_ key: String) -> String { prefix + key }

    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw .invalidType(param: name(key), expected: "a string", got: v) }
        return s
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw .invalidType(param: name(key), expected: "a boolean", got: v) }
        return b
    }

    func int(_ key: String) throws(APIError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = Self.integer(v) else { throw .invalidType(param: name(key), expected: "an integer", got: v) }
        return i
    }

    func number(_ key: String) throws(APIError) -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw .invalidType(param: name(key), expected: "a number", got: v)
        }
    }

    /// A string or an array of strings → array.
    func stringOrStrings(_ key: String) throws(APIError) -> [String]? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw .invalidType(param: "\(name(key))[\(i)]", expected: "a string", got: item)
                }
                out.append(s)
            }
            return out
        default: throw .invalidType(param: name(key), expected: "a string or an array of strings", got: v)
        }
    }

    func ints(_ key: String) throws(APIError) -> [Int]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else {
            throw .invalidType(param: name(key), expected: "an array of integers", got: v)
        }
        return try Self.intArray(items, param: name(key))
    }

    func object(_ key: String) throws(APIError) -> FieldReader? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw .invalidType(param: name(key), expected: "an object", got: v) }
        return FieldReader(object: o, prefix: name(key) + ".")
    }

    static func integer(_ v: JSONValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }

    static func intArray(_ items: [JSONValue], param: String) throws(APIError) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let n = integer(item) else {
                throw .invalidType(param: "\(param)[\(i)]", expected: "an integer", got: item)
            }
            out.append(n)
        }
        return out
    }
}

// MARK: - range checks

func checkRange(_ v: Double?, _ param: String, _ range: ClosedRange<Double>) throws(APIError) {
    guard let v else { return }
    guard v.isFinite, range.contains(v) else {
        throw .outOfRange(param: param, allowed: "a number in [\(fmt(range.lowerBound)), \(fmt(range.upperBound))]",
                          got: fmt(v))
    }
}

func checkRange(_ v: Int?, _ param: String, _ range: ClosedRange<Int>) throws(APIError) {
    guard let v else { return }
    guard range.contains(v) else {
        let allowed = range.upperBound == Int.max ? "an integer >= \(range.lowerBound)"
            : "an integer in [\(range.lowerBound), \(range.upperBound)]"
        throw .outOfRange(param: param, allowed: allowed, got: String(v))
    }
}

/// 1.0 → "1", 0.5 → "0.5".
func fmt(_ d: Double) -> String {
    if d.isFinite, d.rounded() == d, abs(d) < 1e15 { return String(Int(d)) }
    return String(d)
}
