/// JSON Schema → grammar. Supported: `type` (one or a list), `properties`, `required`, `additionalProperties`
/// (false, true or a schema when no `properties`), `items`, `prefixItems`, `minItems`/`maxItems`, `enum`, `const`,
/// `anyOf`/`oneOf`, `allOf` (object schemas merged), `$ref` to `#`, `#/$defs/…` or any local JSON pointer
/// (recursion allowed), string `minLength`/`maxLength`/`pattern`/`format` (date, time, date-time, uuid), integer
/// `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` (exact), number bounds (exact when they are
/// integers ≥ 0; otherwise the output is kept to integers inside the bounds). Annotations are ignored; keywords
/// that constrain values in ways this compiler cannot (`not`, `if`, `patternProperties`, `uniqueItems`, …) are
/// refused so the output can always be trusted to validate.
///
/// Output shape: properties in the schema's order, optional ones may be left out; whitespace between tokens is
/// limited to `maxWhitespace` characters of space, tab or newline; numbers have at most 19 integer digits, 16
/// fraction digits and 2 exponent digits (so a model cannot run on forever inside one, nor overflow a double).
final class SchemaCompiler {
    static let maxWhitespace = 6
    var b = GrammarBuilder()
    /// The document `$ref`s resolve in; `rootTag` keeps references of different documents apart.
    private var root: JSON
    private var rootTag = 0
    private var refRules: [String: Int] = [:]
    private var common: [String: Int] = [:]

    init(root: JSON) { self.root = root }

    /// Compiles a schema that is its own document (a tool's parameters): its `$ref`s resolve inside it.
    func compileForeign(_ schema: JSON) throws(ConstraintError) -> GExpr {
        rootTag += 1
        root = schema
        return try compile(schema, path: "")
    }

    static func compile(schemaText: String) throws(ConstraintError) -> CompiledGrammar {
        let schema = try JSON.parse(schemaText)
        let c = SchemaCompiler(root: schema)
        let start = c.b.rule("root")
        c.b.define(start, try c.compile(schema, path: ""))
        return try c.b.build(start: start)
    }

    // MARK: shared rules

    private func shared(_ name: String, _ make: () -> GExpr) -> GExpr {
        if let r = common[name] { return .ref(r) }
        let r = b.rule(name)
        common[name] = r
        b.define(r, make())
        return .ref(r)
    }

    var ws: GExpr { shared("ws") { .rep(.bytes(Self.wsBytes), min: 0, max: Self.maxWhitespace) } }
    static let wsBytes: ByteSet = { var s = ByteSet(); for c in " \t\n".utf8 { s.insert(c) }; return s }()

    static let hexDigit: GExpr = { var s = ByteSet(range: 0x30, 0x39); for c in 0x41...0x46 { s.insert(UInt8(c)); s.insert(UInt8(c + 32)) }; return .bytes(s) }()
    static let digit = GExpr.bytes(ByteSet(range: 0x30, 0x39))
    static let digit19 = GExpr.bytes(ByteSet(range: 0x31, 0x39))
    /// Characters a JSON string may hold unescaped.
    static let plainChars: ScalarSet = { var s = ScalarSet.all.intersection(ScalarSet(0x20, ScalarSet.maxScalar)); s = s.intersection(ScalarSet(chars: "\"\\").inverted); return s }()

    var char: GExpr {
        shared("char") {
            var esc = ByteSet(); for c in "\"\\/bfnrt".utf8 { esc.insert(c) }
            return .alt([Self.plainChars.expr,
                         .seq([.byte("\\"), .alt([.bytes(esc), .seq([.byte("u"), .rep(Self.hexDigit, min: 4, max: 4)])])])])
        }
    }
    var string: GExpr { shared("string") { .seq([.byte("\""), .star(char), .byte("\"")]) } }
    static let naturalDigits = GExpr.alt([.byte("0"), .seq([digit19, .rep(digit, min: 0, max: 18)])])
    var integer: GExpr { shared("integer") { .seq([.opt(.byte("-")), Self.naturalDigits]) } }
    static let fraction = GExpr.seq([.byte("."), .rep(digit, min: 1, max: 16)])
    var number: GExpr {
        shared("number") {
            var sign = ByteSet(); sign.insert(UInt8(ascii: "-")); sign.insert(UInt8(ascii: "+"))
            var e = ByteSet(); e.insert(UInt8(ascii: "e")); e.insert(UInt8(ascii: "E"))
            return .seq([integer, .opt(Self.fraction), .opt(.seq([.bytes(e), .opt(.bytes(sign)), .rep(Self.digit, min: 1, max: 2)]))])
        }
    }
    var boolean: GExpr { shared("boolean") { .alt([.lit("true"), .lit("false")]) } }
    var null: GExpr { shared("null") { .lit("null") } }

    /// Any JSON value (recursive).
    var value: GExpr {
        if let r = common["value"] { return .ref(r) }
        let r = b.rule("value")
        common["value"] = r
        b.define(r, .alt([anyObject, anyArray, string, number, boolean, null]))
        return .ref(r)
    }
    var anyObject: GExpr {
        shared("object") {
            let member = GExpr.seq([string, ws, .byte(":"), ws, value, ws])
            return .seq([.byte("{"), ws, .opt(.seq([member, .star(.seq([.byte(","), ws, member]))])), .byte("}")])
        }
    }
    var anyArray: GExpr {
        shared("array") {
            let item = GExpr.seq([value, ws])
            return .seq([.byte("["), ws, .opt(.seq([item, .star(.seq([.byte(","), ws, item]))])), .byte("]")])
        }
    }

    // MARK: schemas

    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$id", "$comment",
        "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "strict", "name", "discriminator",
        "contentMediaType", "contentEncoding", "$anchor"]
    static let refused: Set<String> = ["not", "if", "then", "else", "patternProperties", "dependentSchemas",
        "dependentRequired", "dependencies", "contains", "minContains", "maxContains", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "multipleOf", "minProperties", "maxProperties"]

    func compile(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        switch s {
        case .bool(true): return value
        case .bool(false): throw ConstraintError("the schema `false` admits no value", path: path)
        case .object(let o):
            if o.isEmpty { return value }
            for (k, v) in o {
                if Self.refused.contains(k) { throw ConstraintError("the keyword '\(k)' is not supported", path: join(path, k)) }
                if k == "uniqueItems", v == .bool(true) { throw ConstraintError("the keyword 'uniqueItems' is not supported", path: join(path, k)) }
            }
        default: throw ConstraintError("a schema must be an object or a boolean", path: path)
        }
        if let ref = s["$ref"]?.string { return try reference(ref, path: join(path, "$ref")) }
        if let c = s["const"] { return .lit(c.text) }
        if let e = s["enum"] {
            guard case .array(let values) = e, !values.isEmpty else { throw ConstraintError("'enum' must be a non-empty array", path: join(path, "enum")) }
            return .alt(values.map { .lit($0.text) })
        }
        for key in ["anyOf", "oneOf"] {
            guard let list = s[key] else { continue }
            guard case .array(let branches) = list, !branches.isEmpty else { throw ConstraintError("'\(key)' must be a non-empty array", path: join(path, key)) }
            let rest = removing(s, [key])
            var alts: [GExpr] = []
            for (i, br) in branches.enumerated() {
                alts.append(try compile(merge(rest, br), path: "\(join(path, key))[\(i)]"))
            }
            return .alt(alts)
        }
        if let all = s["allOf"] {
            guard case .array(let parts) = all, !parts.isEmpty else { throw ConstraintError("'allOf' must be a non-empty array", path: join(path, "allOf")) }
            var merged = removing(s, ["allOf"])
            for (i, p) in parts.enumerated() {
                var part = p
                if let r = p["$ref"]?.string { part = try resolve(r, path: "\(join(path, "allOf"))[\(i)].$ref") }
                merged = try mergeAll(merged, part, path: "\(join(path, "allOf"))[\(i)]")
            }
            return try compile(merged, path: path)
        }
        return try typed(s, path: path)
    }

    private func typed(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        var types: [String]
        switch s["type"] {
        case .string(let t): types = [t]
        case .array(let ts):
            types = []
            for t in ts { guard let n = t.string else { throw ConstraintError("'type' must hold strings", path: join(path, "type")) }; types.append(n) }
        case nil:
            if s["properties"] != nil || s["additionalProperties"] != nil || s["required"] != nil { types = ["object"] }
            else if s["items"] != nil || s["prefixItems"] != nil || s["minItems"] != nil || s["maxItems"] != nil { types = ["array"] }
            else if s["pattern"] != nil || s["minLength"] != nil || s["maxLength"] != nil || s["format"] != nil { types = ["string"] }
            else if s["minimum"] != nil || s["maximum"] != nil || s["exclusiveMinimum"] != nil || s["exclusiveMaximum"] != nil { types = ["number"] }
            else { return value }
        default: throw ConstraintError("'type' must be a string or an array of strings", path: join(path, "type"))
        }
        var alts: [GExpr] = []
        for t in types {
            switch t {
            case "string": alts.append(try stringSchema(s, path: path))
            case "integer": alts.append(try integerSchema(s, path: path))
            case "number": alts.append(try numberSchema(s, path: path))
            case "boolean": alts.append(boolean)
            case "null": alts.append(null)
            case "object": alts.append(try objectSchema(s, path: path))
            case "array": alts.append(try arraySchema(s, path: path))
            default: throw ConstraintError("unknown type '\(t)'", path: join(path, "type"))
            }
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    // MARK: strings

    static let formats: [String: String] = [
        "date": #"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"#,
        "time": #"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"#,
        "date-time": #"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"#,
        "uuid": #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
    ]

    private func stringSchema(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        if let p = s["pattern"] {
            guard let pattern = p.string else { throw ConstraintError("'pattern' must be a string", path: join(path, "pattern")) }
            do {
                return .seq([.byte("\""), try RegexCompiler.expr(pattern, allowed: Self.plainChars), .byte("\"")])
            } catch { throw ConstraintError(error.message, path: join(path, "pattern")) }
        }
        if let f = s["format"]?.string, let pattern = Self.formats[f] {
            return .seq([.byte("\""), try RegexCompiler.expr(pattern, allowed: nil), .byte("\"")])
        }
        let lo = try nonNegative(s, "minLength", path) ?? 0
        let hi = try nonNegative(s, "maxLength", path)
        if let hi, hi < lo { throw ConstraintError("maxLength is below minLength", path: join(path, "maxLength")) }
        if lo == 0 && hi == nil { return string }
        if (hi ?? lo) > 10_000 { throw ConstraintError("string lengths above 10000 are not supported", path: join(path, hi != nil ? "maxLength" : "minLength")) }
        return .seq([.byte("\""), .rep(char, min: lo, max: hi), .byte("\"")])
    }

    private func nonNegative(_ s: JSON, _ key: String, _ path: String) throws(ConstraintError) -> Int? {
        guard let v = s[key] else { return nil }
        guard let n = v.int, n >= 0 else { throw ConstraintError("'\(key)' must be a non-negative integer", path: join(path, key)) }
        return n
    }

    // MARK: numbers

    /// Integer bounds from `minimum`/`maximum` and their exclusive forms (draft 6+ numbers; draft 4 booleans).
    private func integerBounds(_ s: JSON, path: String) throws(ConstraintError) -> (Int?, Int?) {
        func num(_ k: String) throws(ConstraintError) -> Double? {
            guard let v = s[k] else { return nil }
            if case .bool = v { return nil }
            guard let d = v.double, d.isFinite else { throw ConstraintError("'\(k)' must be a number", path: join(path, k)) }
            return d
        }
        let limit = 1e17
        var lo: Int? = nil, hi: Int? = nil
        if let m = try num("minimum"), abs(m) < limit { lo = Int(m.rounded(.up)) }
        if let m = try num("exclusiveMinimum"), abs(m) < limit {
            let v = Int(m.rounded(.down)) + 1; lo = max(lo ?? v, v)
        }
        if s["exclusiveMinimum"] == .bool(true), let m = try num("minimum"), m.rounded() == m, let l = lo { lo = l + 1 }
        if let m = try num("maximum"), abs(m) < limit { hi = Int(m.rounded(.down)) }
        if let m = try num("exclusiveMaximum"), abs(m) < limit {
            let v = Int(m.rounded(.up)) - 1; hi = min(hi ?? v, v)
        }
        if s["exclusiveMaximum"] == .bool(true), let m = try num("maximum"), m.rounded() == m, let h = hi { hi = h - 1 }
        if let lo, let hi, lo > hi { throw ConstraintError("no integer lies within the bounds", path: path) }
        return (lo, hi)
    }

    private func integerSchema(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        let (lo, hi) = try integerBounds(s, path: path)
        if lo == nil && hi == nil { return integer }
        return IntegerRange.expr(lo: lo, hi: hi)
    }

    private func numberSchema(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        let keys = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
        guard keys.contains(where: { s[$0] != nil }) else { return number }
        let (lo, hi) = try integerBounds(s, path: path)
        // Exact for integer bounds >= 0: an integer part in [lo, hi) may carry a fraction, hi itself may not.
        let exactLo = s["minimum"].map { $0.int != nil } ?? (s["exclusiveMinimum"] == nil)
        let exactHi = s["maximum"].map { $0.int != nil } ?? (s["exclusiveMaximum"] == nil)
        if let lo, lo >= 0, exactLo, exactHi, s["exclusiveMinimum"] == nil, s["exclusiveMaximum"] == nil {
            guard let hi else { return .seq([IntegerRange.expr(lo: lo, hi: nil), .opt(Self.fraction)]) }
            if hi > lo {
                return .alt([.seq([IntegerRange.expr(lo: lo, hi: hi - 1), .opt(Self.fraction)]), IntegerRange.expr(lo: hi, hi: hi)])
            }
        }
        return IntegerRange.expr(lo: lo, hi: hi)
    }

    // MARK: objects

    private func objectSchema(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        var props: [(String, JSON)] = []
        if let p = s["properties"] {
            guard case .object(let o) = p else { throw ConstraintError("'properties' must be an object", path: join(path, "properties")) }
            props = o
        }
        var required = Set<String>()
        if let r = s["required"] {
            guard case .array(let names) = r else { throw ConstraintError("'required' must be an array of strings", path: join(path, "required")) }
            for n in names { guard let k = n.string else { throw ConstraintError("'required' must be an array of strings", path: join(path, "required")) }; required.insert(k) }
        }
        let additional = s["additionalProperties"]
        if additional == .bool(false) || !props.isEmpty {
            for name in required where !props.contains(where: { $0.0 == name }) {
                if additional == .bool(false) { throw ConstraintError("the required property '\(name)' is not in 'properties' and additionalProperties is false", path: join(path, "required")) }
                props.append((name, .bool(true)))
            }
            return try declaredObject(props, required: required, path: path)
        }
        // No declared properties: any members whose values follow additionalProperties (any value when absent).
        let valueExpr = try additional.map { (a: JSON) throws(ConstraintError) -> GExpr in try compile(a, path: join(path, "additionalProperties")) } ?? value
        let member = GExpr.seq([string, ws, .byte(":"), ws, valueExpr, ws])
        return .seq([.byte("{"), ws, .opt(.seq([member, .star(.seq([.byte(","), ws, member]))])), .byte("}")])
    }

    /// Members in declared order; optional ones may be skipped. first[i]/after[i]: members i... when none / some
    /// member has been written before (so a comma is due).
    private func declaredObject(_ props: [(String, JSON)], required: Set<String>, path: String) throws(ConstraintError) -> GExpr {
        let n = props.count
        var first = [GExpr](repeating: .empty, count: n + 1), after = [GExpr](repeating: .empty, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let (name, sub) = props[i]
            let v = try compile(sub, path: join(join(path, "properties"), name))
            let kv = GExpr.seq([.lit(JSON.quote(name)), ws, .byte(":"), ws, v, ws])
            let kvRule = b.add(kv, hint: "kv")
            let withFirst = GExpr.seq([.ref(kvRule), after[i + 1]])
            let withAfter = GExpr.seq([.byte(","), ws, .ref(kvRule), after[i + 1]])
            if required.contains(name) {
                first[i] = .ref(b.add(withFirst, hint: "first"))
                after[i] = .ref(b.add(withAfter, hint: "after"))
            } else {
                first[i] = .ref(b.add(.alt([withFirst, first[i + 1]]), hint: "first"))
                after[i] = .ref(b.add(.alt([withAfter, after[i + 1]]), hint: "after"))
            }
        }
        return .seq([.byte("{"), ws, first[0], .byte("}")])
    }

    // MARK: arrays

    private func arraySchema(_ s: JSON, path: String) throws(ConstraintError) -> GExpr {
        let lo = try nonNegative(s, "minItems", path) ?? 0
        let hi = try nonNegative(s, "maxItems", path)
        if let hi, hi < lo { throw ConstraintError("maxItems is below minItems", path: join(path, "maxItems")) }
        if (hi ?? lo) > 10_000 { throw ConstraintError("item counts above 10000 are not supported", path: join(path, "maxItems")) }
        if let pre = s["prefixItems"] {
            guard case .array(let items) = pre else { throw ConstraintError("'prefixItems' must be an array", path: join(path, "prefixItems")) }
            guard lo <= items.count, (hi ?? items.count) >= items.count || s["items"] == .bool(false) else {
                throw ConstraintError("prefixItems with these item counts is not supported", path: join(path, "prefixItems"))
            }
            var parts: [GExpr] = [.byte("["), ws]
            for (i, it) in items.enumerated() {
                if i > 0 { parts += [.byte(","), ws] }
                parts += [try compile(it, path: "\(join(path, "prefixItems"))[\(i)]"), ws]
            }
            parts.append(.byte("]"))
            return .seq(parts)
        }
        let item: GExpr
        if let it = s["items"] {
            if it == .bool(false) {
                guard lo == 0 else { throw ConstraintError("minItems > 0 with items false admits no value", path: join(path, "minItems")) }
                return .seq([.byte("["), ws, .byte("]")])
            }
            item = .ref(b.add(try compile(it, path: join(path, "items")), hint: "item"))
        } else { item = value }
        if hi == 0 { return .seq([.byte("["), ws, .byte("]")]) }
        let rest = GExpr.rep(.seq([.byte(","), ws, item, ws]), min: max(lo - 1, 0), max: hi.map { $0 - 1 })
        let body = GExpr.seq([item, ws, rest])
        return .seq([.byte("["), ws, lo == 0 ? .opt(body) : body, .byte("]")])
    }

    // MARK: references

    private func reference(_ ref: String, path: String) throws(ConstraintError) -> GExpr {
        let key = "\(rootTag) \(ref)"
        if let r = refRules[key] { return .ref(r) }
        let r = b.rule("ref " + key)
        refRules[key] = r
        let target = try resolve(ref, path: path)
        b.define(r, try compile(target, path: path))
        return .ref(r)
    }

    private func resolve(_ ref: String, path: String) throws(ConstraintError) -> JSON {
        guard ref.hasPrefix("#") else { throw ConstraintError("only local references ('#/…') are supported, got '\(ref)'", path: path) }
        var node = root
        for raw in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            var key = "", chars = Array(raw), k = 0
            while k < chars.count {   // JSON pointer escapes: ~1 is '/', ~0 is '~'
                if chars[k] == "~", k + 1 < chars.count { key.append(chars[k + 1] == "1" ? "/" : "~"); k += 2 }
                else { key.append(chars[k]); k += 1 }
            }
            switch node {
            case .object: guard let n = node[key] else { throw ConstraintError("the reference '\(ref)' does not resolve", path: path) }; node = n
            case .array(let a): guard let i = Int(key), i >= 0, i < a.count else { throw ConstraintError("the reference '\(ref)' does not resolve", path: path) }; node = a[i]
            default: throw ConstraintError("the reference '\(ref)' does not resolve", path: path)
            }
        }
        return node
    }

    // MARK: helpers

    private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    private func removing(_ s: JSON, _ keys: Set<String>) -> JSON {
        guard case .object(let o) = s else { return s }
        return .object(o.filter { !keys.contains($0.0) && !Self.annotations.contains($0.0) })
    }

    /// The branch's keys over the parent's (shallow).
    private func merge(_ base: JSON, _ branch: JSON) -> JSON {
        guard case .object(var o) = base, case .object(let br) = branch else { return branch }
        if o.isEmpty { return branch }
        for (k, v) in br { if let i = o.firstIndex(where: { $0.0 == k }) { o[i].1 = v } else { o.append((k, v)) } }
        return .object(o)
    }

    /// allOf: properties and required united, other keys must agree.
    private func mergeAll(_ a: JSON, _ b: JSON, path: String) throws(ConstraintError) -> JSON {
        guard case .object(var o) = a, case .object(let p) = b else { throw ConstraintError("allOf parts must be objects", path: path) }
        for (k, v) in p where !Self.annotations.contains(k) {
            guard let i = o.firstIndex(where: { $0.0 == k }) else { o.append((k, v)); continue }
            switch (k, o[i].1, v) {
            case ("properties", .object(let x), .object(let y)): o[i].1 = .object(x + y.filter { kv in !x.contains { $0.0 == kv.0 } })
            case ("required", .array(let x), .array(let y)): o[i].1 = .array(x + y.filter { !x.contains($0) })
            default:
                guard o[i].1 == v else { throw ConstraintError("allOf parts disagree on '\(k)'", path: path) }
            }
        }
        return .object(o)
    }
}

/// Decimal integers within bounds, without leading zeros or "-0".
enum IntegerRange {
    static let digit = GExpr.bytes(ByteSet(range: 0x30, 0x39))

    static func expr(lo: Int?, hi: Int?) -> GExpr {
        var alts: [GExpr] = []
        // negatives: -hiNeg ... -loNeg
        if lo == nil || lo! < 0 {
            let top = hi.map { min($0, -1) } ?? -1   // the largest negative allowed
            if top <= -1 {
                let mags = natural(lo: -top, hi: lo.map { -$0 })
                alts.append(.seq([.byte("-"), mags]))
            }
        }
        if hi == nil || hi! >= 0 {
            alts.append(natural(lo: max(lo ?? 0, 0), hi: hi))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    /// Naturals in [lo, hi] (hi nil: unbounded, at most 19 digits).
    static func natural(lo: Int, hi: Int?) -> GExpr {
        let loDigits = String(lo).count
        let hiDigits = hi.map { String($0).count } ?? 19
        var alts: [GExpr] = []
        for d in loDigits...hiDigits {
            let a = d == loDigits ? lo : pow10(d - 1)
            let top = d == 19 ? Int.max : pow10(d) - 1
            let b = (hi != nil && d == hiDigits) ? hi! : top
            if a > b { continue }
            alts.append(sameLength(Array(String(a).utf8), Array(String(b).utf8)))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    static func pow10(_ n: Int) -> Int { var v = 1; for _ in 0..<n { v *= 10 }; return v }

    /// Strings of equal length between lo and hi, digit by digit.
    static func sameLength(_ lo: [UInt8], _ hi: [UInt8]) -> GExpr {
        guard let l0 = lo.first, let h0 = hi.first else { return .empty }
        if l0 == h0 { return .seq([.bytes(ByteSet(l0)), sameLength(Array(lo.dropFirst()), Array(hi.dropFirst()))]) }
        let n = lo.count - 1
        let loRestZero = lo.dropFirst().allSatisfy { $0 == 0x30 }
        let hiRestNine = hi.dropFirst().allSatisfy { $0 == 0x39 }
        var alts: [GExpr] = []
        var midLo = l0 + 1, midHi = h0 - 1
        if loRestZero { midLo = l0 } else {
            alts.append(.seq([.bytes(ByteSet(l0)), sameLength(Array(lo.dropFirst()), Array(repeating: 0x39, count: n))]))
        }
        if hiRestNine { midHi = h0 }
        if midLo <= midHi { alts.append(.seq([.bytes(ByteSet(range: midLo, midHi)), .rep(digit, min: n, max: n)])) }
        if !hiRestNine {
            alts.append(.seq([.bytes(ByteSet(h0)), sameLength(Array(repeating: 0x30, count: n), Array(hi.dropFirst()))]))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }
}
