import Foundation

/// The exact text of one value inside a JSON document, found by a path of keys and indexes, so that schemas keep
/// their key order (a schema's `properties` order is the order the output is written in; `JSONValue` objects are
/// dictionaries). The document has been parsed successfully before, so the scanner can be lenient.
enum RawJSON {
    enum Step { case key(String), index(Int) }

    static func text(in bytes: [UInt8], at path: [Step]) -> String? {
        var i = 0
        guard let r = find(bytes, &i, path[...]) else { return nil }
        return String(decoding: bytes[r], as: UTF8.self)
    }

    private static func ws(_ b: [UInt8], _ i: inout Int) {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private static func find(_ b: [UInt8], _ i: inout Int, _ path: ArraySlice<Step>) -> Range<Int>? {
        ws(b, &i)
        guard let step = path.first else {
            let start = i
            guard skip(b, &i) else { return nil }
            return start..<i
        }
        guard i < b.count else { return nil }
        switch step {
        case .key(let k):
            guard b[i] == UInt8(ascii: "{") else { return nil }
            i += 1
            while true {
                ws(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
                let ks = i
                guard skip(b, &i) else { return nil }
                let key = decodeString(Array(b[ks..<i]))
                ws(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                if key == k { return find(b, &i, path.dropFirst()) }
                ws(b, &i)
                guard skip(b, &i) else { return nil }
                ws(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
        case .index(let n):
            guard b[i] == UInt8(ascii: "[") else { return nil }
            i += 1
            for _ in 0..<n {
                ws(b, &i)
                guard skip(b, &i) else { return nil }
                ws(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
            return find(b, &i, path.dropFirst())
        }
    }

    /// Moves past one value.
    private static func skip(_ b: [UInt8], _ i: inout Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "\""):
            i += 1
            while i < b.count {
                if b[i] == UInt8(ascii: "\\") { i += 2; continue }
                if b[i] == UInt8(ascii: "\"") { i += 1; return true }
                i += 1
            }
            return false
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""): guard skip(b, &i) else { return false }; continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { i += 1; return true }
                default: break
                }
                i += 1
            }
            return false
        default:
            while i < b.count, !",}] \n\r\t".utf8.contains(b[i]) { i += 1 }
            return true
        }
    }

    private static func decodeString(_ quoted: [UInt8]) -> String {
        guard !quoted.contains(UInt8(ascii: "\\")) else {
            return (try? JSONDecoder().decode(String.self, from: Data(quoted))) ?? ""
        }
        return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
    }
}
