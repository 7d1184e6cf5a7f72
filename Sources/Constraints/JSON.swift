/// A JSON value that keeps the order of object keys (a schema's `properties` order is the output's order).
indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)            // the literal text, as written
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || Double(x) == Double(y)
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSON? {
        guard case .object(let o) = self else { return nil }
        return o.first { $0.0 == key }?.1
    }

    var string: String? { if case .string(let s) = self { return s }; return nil }
    var double: Double? { if case .number(let n) = self { return Double(n) }; return nil }
    var int: Int? {
        guard case .number(let n) = self else { return nil }
        if let i = Int(n) { return i }
        if let d = Double(n), d.rounded() == d, abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// Compact JSON text (what a `const`/`enum` value must be written as).
    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return Self.quote(s)
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    static func parse(_ text: String) throws(ConstraintError) -> JSON {
        var p = JSONParser(bytes: Array(text.utf8))
        let v = try p.value(depth: 0)
        p.ws()
        guard p.i == p.bytes.count else { throw ConstraintError("invalid JSON: trailing characters at offset \(p.i)") }
        return v
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var i = 0

    func err(_ m: String) -> ConstraintError { ConstraintError("invalid JSON: \(m) at offset \(i)") }

    mutating func ws() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

    mutating func value(depth: Int) throws(ConstraintError) -> JSON {
        guard depth < 128 else { throw err("nesting deeper than 128") }
        ws()
        guard i < bytes.count else { throw err("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o: [(String, JSON)] = []
            ws()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                ws()
                guard i < bytes.count && bytes[i] == UInt8(ascii: "\"") else { throw err("expected a key") }
                let k = try string()
                ws()
                guard i < bytes.count && bytes[i] == UInt8(ascii: ":") else { throw err("expected ':'") }
                i += 1
                o.append((k, try value(depth: depth + 1)))
                ws()
                guard i < bytes.count else { throw err("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw err("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [JSON] = []
            ws()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                a.append(try value(depth: depth + 1))
                ws()
                guard i < bytes.count else { throw err("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw err("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try word("true"); return .bool(true)
        case UInt8(ascii: "f"): try word("false"); return .bool(false)
        case UInt8(ascii: "n"): try word("null"); return .null
        default:
            let st = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            let t = String(decoding: bytes[st..<i], as: UTF8.self)
            guard !t.isEmpty, Double(t) != nil else { throw err("unexpected character") }
            return .number(t)
        }
    }

    mutating func word(_ w: String) throws(ConstraintError) {
        let u = Array(w.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { throw err("unexpected literal") }
        i += u.count
    }

    mutating func string() throws(ConstraintError) -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count, var v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                    throw err("bad \\u escape")
                }
                i += 4
                if v >= 0xD800 && v < 0xDC00, i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                   let lo = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16) {
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00); i += 6
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8))
            default: out.append(e)
            }
        }
        throw err("unterminated string")
    }
}
