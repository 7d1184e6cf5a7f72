/// llama.cpp's GBNF grammar format: `name ::= alternatives` rules (start rule `root`), "literals", [classes] with
/// ranges and `^`, `.`, ( groups ), `*` `+` `?` `{m}` `{m,}` `{m,n}`, `#` comments; escapes `\n \r \t \\ \" \[ \]
/// \xHH \uHHHH \UHHHHHHHH` name code points. A rule ends at a newline unless inside parentheses or after `|`.
struct GBNFParser {
    private let s: [Unicode.Scalar]
    private var i = 0
    private var b = GrammarBuilder()
    private var line = 1

    init(_ text: String) { s = Array(text.unicodeScalars) }

    static func parse(_ text: String) throws(ConstraintError) -> CompiledGrammar {
        var p = GBNFParser(text)
        return try p.run()
    }

    private mutating func run() throws(ConstraintError) -> CompiledGrammar {
        skip(newlines: true)
        while i < s.count {
            let name = try word()
            skip(newlines: false)
            guard take("::=") else { throw err("expected '::=' after the rule name '\(name)'") }
            skip(newlines: true)
            let r = b.rule(name)
            if b.isDefined(r) { throw err("the rule '\(name)' is defined twice") }
            b.define(r, try alternates(nested: false))
            skip(newlines: false)
            if i < s.count {
                guard s[i] == "\n" || s[i] == "\r" else { throw err("unexpected '\(s[i])' after the rule '\(name)'") }
            }
            skip(newlines: true)
        }
        guard let root = b.lookup("root") else { throw ConstraintError("the grammar has no 'root' rule") }
        return try b.build(start: root)
    }

    private func err(_ m: String) -> ConstraintError { ConstraintError("GBNF line \(line): \(m)") }

    private mutating func take(_ t: String) -> Bool {
        let ts = Array(t.unicodeScalars)
        guard i + ts.count <= s.count, Array(s[i..<(i + ts.count)]) == ts else { return false }
        i += ts.count
        return true
    }

    private mutating func skip(newlines: Bool) {
        while i < s.count {
            let c = s[i]
            if c == "#" { while i < s.count && s[i] != "\n" { i += 1 }; continue }
            if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r")) {
                if c == "\n" { line += 1 }
                i += 1; continue
            }
            break
        }
    }

    private static func isWord(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    private mutating func word() throws(ConstraintError) -> String {
        let start = i
        while i < s.count && Self.isWord(s[i]) { i += 1 }
        guard i > start else { throw err("expected a rule name, got '\(i < s.count ? String(s[i]) : "end of input")'") }
        return String(String.UnicodeScalarView(s[start..<i]))
    }

    private mutating func alternates(nested: Bool) throws(ConstraintError) -> GExpr {
        var alts = [try sequence(nested: nested)]
        while i < s.count && s[i] == "|" {
            i += 1
            skip(newlines: true)
            alts.append(try sequence(nested: nested))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    private mutating func sequence(nested: Bool) throws(ConstraintError) -> GExpr {
        var items: [GExpr] = []
        while i < s.count {
            let c = s[i]
            var e: GExpr
            if c == "\"" {
                i += 1
                var lit: [GExpr] = []
                while i < s.count && s[i] != "\"" { lit.append(.lit(String(try char()))) }
                guard i < s.count else { throw err("unterminated literal") }
                i += 1
                e = .seq(lit)
            } else if c == "[" {
                e = try charClass().expr
            } else if c == "." {
                i += 1
                e = ScalarSet.all.expr
            } else if c == "(" {
                i += 1
                skip(newlines: true)
                e = try alternates(nested: true)
                guard i < s.count && s[i] == ")" else { throw err("expected ')'") }
                i += 1
            } else if Self.isWord(c) {
                let save = i
                let name = try word()
                // A new rule starts here (`name ::=`): the current one has ended.
                var j = i
                while j < s.count && (s[j] == " " || s[j] == "\t") { j += 1 }
                if j + 2 < s.count && s[j] == ":" && s[j + 1] == ":" && s[j + 2] == "=" { i = save; break }
                e = .ref(b.rule(name))
            } else {
                break
            }
            skip(newlines: nested)
            e = try postfix(e, nested: nested)
            items.append(e)
        }
        return items.count == 1 ? items[0] : .seq(items)
    }

    private mutating func postfix(_ e: GExpr, nested: Bool) throws(ConstraintError) -> GExpr {
        var e = e
        while i < s.count {
            switch s[i] {
            case "*": i += 1; e = .star(e)
            case "+": i += 1; e = .rep(e, min: 1, max: nil)
            case "?": i += 1; e = .opt(e)
            case "{":
                i += 1
                skip(newlines: false)
                let lo = try integer()
                skip(newlines: false)
                var hi: Int? = lo
                if i < s.count && s[i] == "," {
                    i += 1
                    skip(newlines: false)
                    hi = (i < s.count && s[i] != "}") ? try integer() : nil
                    skip(newlines: false)
                }
                guard i < s.count && s[i] == "}" else { throw err("expected '}' to close a repetition") }
                i += 1
                if let hi, hi < lo { throw err("repetition {\(lo),\(hi)}: the maximum is below the minimum") }
                if (hi ?? lo) > 10_000 { throw err("repetition count above 10000") }
                e = .rep(e, min: lo, max: hi)
            default: return e
            }
            skip(newlines: nested)
        }
        return e
    }

    private mutating func integer() throws(ConstraintError) -> Int {
        let start = i
        while i < s.count && s[i] >= "0" && s[i] <= "9" { i += 1 }
        guard i > start, let v = Int(String(String.UnicodeScalarView(s[start..<i]))) else { throw err("expected a number") }
        return v
    }

    /// One (possibly escaped) character of a literal or class.
    private mutating func char() throws(ConstraintError) -> Unicode.Scalar {
        guard i < s.count else { throw err("unexpected end of grammar") }
        var c = s[i]
        i += 1
        if c == "\\" {
            guard i < s.count else { throw err("unexpected end after '\\'") }
            let e = s[i]
            i += 1
            switch e {
            case "n": c = "\n"
            case "r": c = "\r"
            case "t": c = "\t"
            case "x": c = try hex(2)
            case "u": c = try hex(4)
            case "U": c = try hex(8)
            case "\\", "\"", "[", "]", "-", "^", "/", ".", "(", ")", "|", "*", "+", "?", "{", "}": c = e
            default: throw err("unknown escape '\\\(e)'")
            }
        }
        return c
    }

    private mutating func hex(_ n: Int) throws(ConstraintError) -> Unicode.Scalar {
        guard i + n <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<(i + n)])), radix: 16),
              let c = Unicode.Scalar(v) else { throw err("bad hexadecimal escape") }
        i += n
        return c
    }

    private mutating func charClass() throws(ConstraintError) -> ScalarSet {
        i += 1   // [
        var negate = false
        if i < s.count && s[i] == "^" { negate = true; i += 1 }
        var set = ScalarSet()
        while i < s.count && s[i] != "]" {
            let lo = try char().value
            if i + 1 < s.count && s[i] == "-" && s[i + 1] != "]" {
                i += 1
                let hi = try char().value
                guard hi >= lo else { throw err("character range out of order") }
                set.add(lo, hi)
            } else {
                set.add(lo, lo)
            }
        }
        guard i < s.count else { throw err("unterminated character class") }
        i += 1
        return negate ? set.inverted : set
    }
}
