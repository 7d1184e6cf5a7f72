/// A small JSON text builder for the hot per-token chunk path (no Codable, no Foundation).
/// Output is compact JSON; strings are escaped per RFC 8259.
public struct JSONWriter: Sendable {
    public private(set) var output: String

    public init(capacity: Int = 256) {
        output = ""
        output.reserveCapacity(capacity)
    }

    public mutating func raw(_ s: String) { output.append(s) }

    public mutating func string(_ s: String) {
        output.append("\"")
        // Fast path: nothing to escape.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            output.append(s)
        } else {
            for scalar in s.unicodeScalars { appendEscaped(scalar) }
        }
        output.append("\"")
    }

    private mutating func appendEscaped(_ c: Unicode.Scalar) {
        switch c {
        case "\"": output.append("\\\"")
        case "\\": output.append("\\\\")
        case "\n": output.append("\\n")
        case "\r": output.append("\\r")
        case "\t": output.append("\\t")
        case "\u{08}": output.append("\\b")
        case "\u{0C}": output.append("\\f")
        default:
            if c.value < 0x20 {
                let hex = String(c.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            } else {
                output.unicodeScalars.append(c)
            }
        }
    }

    public mutating func optionalString(_ s: String?) {
        if let s { string(s) } else { output.append("null") }
    }

    public mutating func int(_ i: Int) { output.append(String(i)) }

    /// A finite JSON number; NaN and ±infinity (not representable in JSON) become -9999.0 like vLLM's logprobs.
    public mutating func number(_ d: Double) {
        guard d.isFinite else { output.append("-9999.0"); return }
        output.append(d.description)
    }

    /// Floats print with their own shortest representation (`Float(0.1)` → `0.1`, not `0.10000000149011612`).
    public mutating func number(_ f: Float) {
        guard f.isFinite else { output.append("-9999.0"); return }
        output.append(f.description)
    }

    public mutating func bool(_ b: Bool) { output.append(b ? "true" : "false") }

    /// Object key followed by ':'; `first` is false for every key after the first.
    public mutating func key(_ k: String, first: Bool = false) {
        if !first { output.append(",") }
        string(k)
        output.append(":")
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: output.append("null")
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .double(let d): number(d)
        case .string(let s): string(s)
        case .array(let a):
            output.append("[")
            for (i, e) in a.enumerated() { if i > 0 { output.append(",") }; value(e) }
            output.append("]")
        case .object(let o):
            output.append("{")
            for (i, k) in o.keys.sorted().enumerated() { key(k, first: i == 0); value(o[k]!) }
            output.append("}")
        }
    }
}
