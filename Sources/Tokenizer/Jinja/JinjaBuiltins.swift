/// Functions, methods, filters and tests chat templates use. Anything else is an error naming it.
extension JinjaRenderer {
    mutating func call(_ callee: JinjaExpr, _ args: [JinjaExpr], _ kwargs: [(String, JinjaExpr)]) throws(ChatTemplateError) -> JinjaValue {
        var values: [JinjaValue] = []
        for a in args { values.append(try eval(a)) }
        var named: [(String, JinjaValue)] = []
        for (k, e) in kwargs { named.append((k, try eval(e))) }
        switch callee {
        case .name("raise_exception"):
            throw ChatTemplateError(raised: values.first?.rendered ?? "raise_exception")
        case .name("range"):
            let ints = values.compactMap { if case .int(let i) = $0 { i } else { nil } }
            guard ints.count == values.count, (1...2).contains(ints.count) else { throw ChatTemplateError("range() takes 1 or 2 integers") }
            let (lo, hi) = ints.count == 1 ? (0, ints[0]) : (ints[0], ints[1])
            return .array(lo < hi ? (lo..<hi).map { .int($0) } : [])
        case .name("namespace"):
            return makeNamespace(named)
        case .attribute(let base, let method):
            return try Self.method(method, on: try eval(base), values)
        case .name(let n):
            throw ChatTemplateError("unsupported function '\(n)'")
        default:
            throw ChatTemplateError("unsupported syntax: call of a non-name")
        }
    }

    static func method(_ name: String, on base: JinjaValue, _ args: [JinjaValue]) throws(ChatTemplateError) -> JinjaValue {
        switch (base, name) {
        case (.string(let s), "strip"): return .string(trim(s, args.first))
        case (.string(let s), "lstrip"): return .string(String(s.drop { isStripped($0, args.first) }))
        case (.string(let s), "rstrip"): return .string(String(s.reversed().drop { isStripped($0, args.first) }.reversed()))
        case (.string(let s), "upper"): return .string(s.uppercased())
        case (.string(let s), "lower"): return .string(s.lowercased())
        case (.string(let s), "title"): return .string(title(s))
        case (.string(let s), "capitalize"): return .string(s.prefix(1).uppercased() + s.dropFirst().lowercased())
        case (.string(let s), "startswith"): return .bool(s.hasPrefix(try stringArg(args, name)))
        case (.string(let s), "endswith"): return .bool(s.hasSuffix(try stringArg(args, name)))
        case (.string(let s), "replace"):
            guard args.count == 2, case .string(let a) = args[0], case .string(let b) = args[1] else { throw ChatTemplateError("replace() takes two strings") }
            return .string(s.replacingAll(a, b))
        case (.string(let s), "split"):
            if let sep = args.first, case .string(let sep) = sep {
                return .array(s.split(separator: sep, omittingEmptySubsequences: false).map { .string(String($0)) })
            }
            return .array(s.split(whereSeparator: \.isWhitespace).map { .string(String($0)) })
        case (.object(let d, let keys), "items"): return .array(keys.map { .array([.string($0), d[$0]!]) })
        case (.object(_, let keys), "keys"): return .array(keys.map { .string($0) })
        case (.object(let d, let keys), "values"): return .array(keys.map { d[$0]! })
        case (.object(let d, _), "get"):
            guard case .string(let k)? = args.first else { throw ChatTemplateError("get() needs a string key") }
            return d[k] ?? (args.count > 1 ? args[1] : .none)
        default:
            throw ChatTemplateError("unsupported method '\(name)' on \(base.typeName)")
        }
    }

    mutating func filter(_ name: String, _ value: JinjaValue, _ args: [JinjaExpr], _ kwargs: [(String, JinjaExpr)]) throws(ChatTemplateError) -> JinjaValue {
        var values: [JinjaValue] = []
        for a in args { values.append(try eval(a)) }
        switch (name, value) {
        case ("trim", .string(let s)): return .string(Self.trim(s, nil))
        case ("upper", .string(let s)): return .string(s.uppercased())
        case ("lower", .string(let s)): return .string(s.lowercased())
        case ("title", .string(let s)): return .string(Self.title(s))
        case ("capitalize", .string), ("strip", .string): return try Self.method(name, on: value, [])
        case ("length", _), ("count", _): return .int(try Self.length(value))
        case ("first", .array(let a)): return a.first ?? .undefined
        case ("last", .array(let a)): return a.last ?? .undefined
        case ("reverse", .array(let a)): return .array(a.reversed())
        case ("list", _): return .array(try Self.iterate(value))
        case ("join", _):
            let sep = values.first?.rendered ?? ""
            return .string(try Self.iterate(value).map(\.rendered).joined(separator: sep))
        case ("default", _), ("d", _):
            let strict = values.count > 1 && values[1].isTruthy
            let missing = strict ? !value.isTruthy : value == .undefined
            return missing ? (values.first ?? .string("")) : value
        case ("string", _): return .string(value.rendered)
        case ("int", .int): return value
        case ("int", .string(let s)): return .int(Int(s.trimmingWhitespace) ?? 0)
        case ("tojson", _): return .string(value.json)
        default:
            throw ChatTemplateError("unsupported filter '\(name)' on \(value.typeName)")
        }
    }

    mutating func test(_ name: String, _ value: JinjaValue, _ args: [JinjaExpr]) throws(ChatTemplateError) -> Bool {
        switch name {
        case "defined": return value != .undefined
        case "undefined": return value == .undefined
        case "none": return value == .none
        case "string": if case .string = value { return true }; return false
        case "number", "integer": if case .int = value { return true }; return false
        case "boolean": if case .bool = value { return true }; return false
        case "true": return value == .bool(true)
        case "false": return value == .bool(false)
        case "mapping": if case .object = value { return true }; return false
        case "sequence", "iterable":
            switch value { case .array, .string, .object: return true; default: return false }
        case "even", "odd":
            guard case .int(let i) = value else { throw ChatTemplateError("'\(name)' test needs an integer") }
            return (i % 2 == 0) == (name == "even")
        case "equalto", "eq":
            guard let a = args.first else { throw ChatTemplateError("'\(name)' test needs an argument") }
            return Self.equal(value, try eval(a))
        default: throw ChatTemplateError("unsupported test '\(name)'")
        }
    }

    static func length(_ value: JinjaValue) throws(ChatTemplateError) -> Int {
        switch value {
        case .string(let s): return s.count
        case .array(let a): return a.count
        case .object(let d, _): return d.count
        default: throw ChatTemplateError("\(value.typeName) has no length")
        }
    }

    private static func stringArg(_ args: [JinjaValue], _ method: String) throws(ChatTemplateError) -> String {
        guard case .string(let s)? = args.first else { throw ChatTemplateError("\(method)() needs a string") }
        return s
    }

    private static func isStripped(_ c: Character, _ chars: JinjaValue?) -> Bool {
        if case .string(let set)? = chars { return set.contains(c) }
        return c.isWhitespace
    }

    static func trim(_ s: String, _ chars: JinjaValue?) -> String {
        String(s.drop { isStripped($0, chars) }.reversed().drop { isStripped($0, chars) }.reversed())
    }

    static func title(_ s: String) -> String {
        var out = ""
        var startOfWord = true
        for c in s {
            out += startOfWord ? c.uppercased() : c.lowercased()
            startOfWord = !(c.isLetter || c.isNumber)
        }
        return out
    }
}

extension String {
    var trimmingWhitespace: String { JinjaRenderer.trim(self, nil) }
}
