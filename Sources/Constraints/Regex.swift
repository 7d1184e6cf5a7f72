/// Regular expressions (the common subset of Python's `re` and ECMAScript) compiled to a grammar: literals and
/// escapes, `.`, classes with ranges and `^`, `\d \w \s` and their negations, groups `( )` `(?: )` `(?P<n> )`
/// `(?<n> )`, `|`, quantifiers `* + ? {m} {m,} {m,n}` (lazy and possessive suffixes ignored), `^`/`$` at the ends.
/// Matching is anchored: the whole output matches. Backreferences and lookaround are refused.
struct RegexCompiler {
    private let s: [Unicode.Scalar]
    private var i = 0
    /// Every character class is intersected with this (JSON strings: no quote, backslash or control characters).
    private let allowed: ScalarSet?

    init(_ pattern: String, allowed: ScalarSet? = nil) {
        s = Array(pattern.unicodeScalars); self.allowed = allowed
    }

    static func compile(_ pattern: String) throws(ConstraintError) -> CompiledGrammar {
        var b = GrammarBuilder()
        let root = b.rule("root")
        b.define(root, try expr(pattern, allowed: nil))
        return try b.build(start: root)
    }

    static func expr(_ pattern: String, allowed: ScalarSet?) throws(ConstraintError) -> GExpr {
        var c = RegexCompiler(pattern, allowed: allowed)
        if c.i < c.s.count && c.s[c.i] == "^" { c.i += 1 }
        let e = try c.alternation()
        guard c.i == c.s.count else { throw c.err("unexpected '\(c.s[c.i])'") }
        return e
    }

    private func err(_ m: String) -> ConstraintError { ConstraintError("regex: \(m) at offset \(i)") }

    private mutating func alternation() throws(ConstraintError) -> GExpr {
        var alts = [try concatenation()]
        while i < s.count && s[i] == "|" { i += 1; alts.append(try concatenation()) }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    private mutating func concatenation() throws(ConstraintError) -> GExpr {
        var items: [GExpr] = []
        while i < s.count && s[i] != "|" && s[i] != ")" {
            if s[i] == "$" {
                i += 1
                guard i == s.count || s[i] == ")" || s[i] == "|" else { throw err("'$' is only supported at the end") }
                continue
            }
            var e = try atom()
            e = try quantifier(e)
            items.append(e)
        }
        return items.count == 1 ? items[0] : .seq(items)
    }

    private mutating func quantifier(_ e: GExpr) throws(ConstraintError) -> GExpr {
        var e = e
        while i < s.count {
            let c = s[i]
            if c == "*" { i += 1; e = .star(e) }
            else if c == "+" { i += 1; e = .rep(e, min: 1, max: nil) }
            else if c == "?" { i += 1; e = .opt(e) }
            else if c == "{", let (lo, hi) = try counted() { e = .rep(e, min: lo, max: hi) }
            else { break }
            if i < s.count && (s[i] == "?" || s[i] == "+") { i += 1 }   // lazy / possessive: same language
        }
        return e
    }

    /// `{m}`, `{m,}`, `{m,n}`; nil (and nothing consumed) when the brace is a literal.
    private mutating func counted() throws(ConstraintError) -> (Int, Int?)? {
        var j = i + 1
        func num(_ j: inout Int) -> Int? {
            let st = j
            while j < s.count && s[j] >= "0" && s[j] <= "9" { j += 1 }
            return j > st ? Int(String(String.UnicodeScalarView(s[st..<j]))) : nil
        }
        guard let lo = num(&j) else { return nil }
        var hi: Int? = lo
        if j < s.count && s[j] == "," { j += 1; hi = num(&j) }
        guard j < s.count && s[j] == "}" else { return nil }
        i = j + 1
        if let hi, hi < lo { throw err("repetition {\(lo),\(hi)}: the maximum is below the minimum") }
        if (hi ?? lo) > 10_000 { throw err("repetition count above 10000") }
        return (lo, hi)
    }

    private func filtered(_ set: ScalarSet) -> GExpr {
        (allowed.map { set.intersection($0) } ?? set).expr
    }

    private mutating func atom() throws(ConstraintError) -> GExpr {
        let c = s[i]
        switch c {
        case "(":
            i += 1
            if i < s.count && s[i] == "?" {
                i += 1
                guard i < s.count else { throw err("unterminated group") }
                if s[i] == ":" { i += 1 }
                else if s[i] == "P" || (s[i] == "<" && i + 1 < s.count && s[i + 1] != "=" && s[i + 1] != "!") {
                    while i < s.count && s[i] != ">" { i += 1 }
                    i += 1
                } else { throw err("lookaround and inline flags are not supported") }
            }
            let e = try alternation()
            guard i < s.count && s[i] == ")" else { throw err("missing ')'") }
            i += 1
            return e
        case "[": return filtered(try charClass())
        case ".": i += 1; return filtered(ScalarSet(0x0A, 0x0A).inverted)
        case "^": throw err("'^' is only supported at the start")
        case "*", "+", "?": throw err("nothing to repeat")
        case "\\":
            i += 1
            if let cls = try classEscape() { return filtered(cls) }
            let v = try escapedChar()
            return filtered(ScalarSet(v, v))
        default:
            i += 1
            return filtered(ScalarSet(c.value, c.value))
        }
    }

    static let digit = ScalarSet(0x30, 0x39)
    static var word: ScalarSet { var w = ScalarSet(chars: "_"); w.add(0x30, 0x39); w.add(0x41, 0x5A); w.add(0x61, 0x7A); return w }
    static let space = ScalarSet(chars: " \t\n\r\u{0B}\u{0C}")

    /// `\d \D \w \W \s \S` (after the backslash); nil for other escapes.
    private mutating func classEscape() throws(ConstraintError) -> ScalarSet? {
        guard i < s.count else { throw err("trailing backslash") }
        let set: ScalarSet
        switch s[i] {
        case "d": set = Self.digit
        case "D": set = Self.digit.inverted
        case "w": set = Self.word
        case "W": set = Self.word.inverted
        case "s": set = Self.space
        case "S": set = Self.space.inverted
        default: return nil
        }
        i += 1
        return set
    }

    private mutating func escapedChar() throws(ConstraintError) -> UInt32 {
        guard i < s.count else { throw err("trailing backslash") }
        let e = s[i]
        i += 1
        switch e {
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "f": return 0x0C
        case "v": return 0x0B
        case "0": return 0
        case "x": return try hex(2)
        case "u": return try hex(4)
        case "b", "B", "A", "Z", "z": throw err("the assertion '\\\(e)' is not supported")
        default:
            if e >= "1" && e <= "9" { throw err("backreferences are not supported") }
            if (e >= "a" && e <= "z") || (e >= "A" && e <= "Z") { throw err("unknown escape '\\\(e)'") }
            return e.value
        }
    }

    private mutating func hex(_ n: Int) throws(ConstraintError) -> UInt32 {
        guard i + n <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<(i + n)])), radix: 16) else {
            throw err("bad hexadecimal escape")
        }
        i += n
        return v
    }

    private mutating func charClass() throws(ConstraintError) -> ScalarSet {
        i += 1
        var negate = false
        if i < s.count && s[i] == "^" { negate = true; i += 1 }
        var set = ScalarSet()
        var first = true
        while i < s.count && (s[i] != "]" || first) {
            first = false
            var lo: UInt32
            if s[i] == "\\" {
                i += 1
                if let cls = try classEscape() { set.formUnion(cls); continue }
                lo = try escapedChar()
            } else { lo = s[i].value; i += 1 }
            if i + 1 < s.count && s[i] == "-" && s[i + 1] != "]" {
                i += 1
                var hi: UInt32
                if s[i] == "\\" { i += 1; hi = try escapedChar() } else { hi = s[i].value; i += 1 }
                guard hi >= lo else { throw err("character range out of order") }
                set.add(lo, hi)
            } else { set.add(lo, lo) }
        }
        guard i < s.count else { throw err("unterminated character class") }
        i += 1
        return negate ? set.inverted : set
    }
}
