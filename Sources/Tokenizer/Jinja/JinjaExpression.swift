/// Expressions of the Jinja subset.
indirect enum JinjaExpr: Sendable {
    case literal(JinjaValue)
    case name(String)
    case list([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    case attribute(JinjaExpr, String)
    case index(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
    case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)])
    case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)])
    case test(JinjaExpr, String, negated: Bool, [JinjaExpr])
    case not(JinjaExpr)
    case negate(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)
    case conditional(JinjaExpr, JinjaExpr, JinjaExpr?)
}

enum JinjaToken: Equatable, Sendable {
    case name(String)
    case string(String)
    case int(Int)
    case op(String)
}

/// Tokenizes the inside of a tag.
enum JinjaTokenizer {
    private static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                    "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="]

    static func tokens(_ source: String) throws(ChatTemplateError) -> [JinjaToken] {
        var out: [JinjaToken] = []
        let chars = Array(source)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c.isLetter || c == "_" {
                let s = i
                while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { i += 1 }
                out.append(.name(String(chars[s..<i])))
            } else if c.isASCII && c.isNumber {
                let s = i
                while i < chars.count && chars[i].isASCII && chars[i].isNumber { i += 1 }
                if i < chars.count && chars[i] == "." && i + 1 < chars.count && chars[i + 1].isNumber {
                    throw ChatTemplateError("unsupported syntax: float literal in '\(source)'")
                }
                out.append(.int(Int(String(chars[s..<i]))!))
            } else if c == "'" || c == "\"" {
                out.append(.string(try stringLiteral(chars, &i)))
            } else if let op = operators.first(where: { matches($0, chars, i) }) {
                out.append(.op(op))
                i += op.count
            } else {
                throw ChatTemplateError("unsupported syntax: character '\(c)' in '\(source)'")
            }
        }
        return out
    }

    private static func matches(_ op: String, _ chars: [Character], _ i: Int) -> Bool {
        let o = Array(op)
        return i + o.count <= chars.count && Array(chars[i..<(i + o.count)]) == o
    }

    private static func stringLiteral(_ chars: [Character], _ i: inout Int) throws(ChatTemplateError) -> String {
        let quote = chars[i]
        var out = ""
        i += 1
        while i < chars.count && chars[i] != quote {
            if chars[i] == "\\" && i + 1 < chars.count {
                i += 1
                switch chars[i] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\\": out.append("\\")
                case "'": out.append("'")
                case "\"": out.append("\"")
                default: out.append("\\"); out.append(chars[i])
                }
            } else {
                out.append(chars[i])
            }
            i += 1
        }
        guard i < chars.count else { throw ChatTemplateError("unterminated string literal") }
        i += 1
        return out
    }
}
