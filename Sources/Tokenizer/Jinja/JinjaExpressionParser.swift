/// Recursive-descent parser with Jinja's precedence: conditional < or < and < not < comparison/tests
/// < `~` < `+ -` < `* / // %` < unary minus < postfix (`.x`, `[i]`, `(args)`, `| filter`).
struct JinjaExpressionParser {
    private let tokens: [JinjaToken]
    private(set) var position = 0

    init(_ tokens: [JinjaToken]) { self.tokens = tokens }

    var atEnd: Bool { position >= tokens.count }
    var peek: JinjaToken? { position < tokens.count ? tokens[position] : nil }

    mutating func take(_ token: JinjaToken) -> Bool {
        if peek == token { position += 1; return true }
        return false
    }

    mutating func expect(_ token: JinjaToken) throws(ChatTemplateError) {
        guard take(token) else { throw ChatTemplateError("expected \(Self.describe(token)), found \(peek.map(Self.describe) ?? "end of tag")") }
    }

    mutating func name() throws(ChatTemplateError) -> String {
        guard case .name(let n)? = peek else { throw ChatTemplateError("expected a name, found \(peek.map(Self.describe) ?? "end of tag")") }
        position += 1
        return n
    }

    static func describe(_ t: JinjaToken) -> String {
        switch t {
        case .name(let n): "'\(n)'"
        case .string(let s): "string '\(s)'"
        case .int(let i): "\(i)"
        case .op(let o): "'\(o)'"
        }
    }

    /// A full expression, including `a if b else c`.
    mutating func expression() throws(ChatTemplateError) -> JinjaExpr {
        let value = try or()
        guard take(.name("if")) else { return value }
        let condition = try or()
        let otherwise: JinjaExpr? = take(.name("else")) ? try expression() : nil
        return .conditional(value, condition, otherwise)
    }

    /// An expression without a trailing `if` (for-loop iterables, where `if` starts a loop filter).
    mutating func orExpression() throws(ChatTemplateError) -> JinjaExpr { try or() }

    private mutating func or() throws(ChatTemplateError) -> JinjaExpr {
        var left = try and()
        while take(.name("or")) { left = .binary("or", left, try and()) }
        return left
    }

    private mutating func and() throws(ChatTemplateError) -> JinjaExpr {
        var left = try not()
        while take(.name("and")) { left = .binary("and", left, try not()) }
        return left
    }

    private mutating func not() throws(ChatTemplateError) -> JinjaExpr {
        if take(.name("not")) { return .not(try not()) }
        return try comparison()
    }

    private mutating func comparison() throws(ChatTemplateError) -> JinjaExpr {
        var left = try concat()
        while true {
            if case .op(let o)? = peek, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                position += 1
                left = .binary(o, left, try concat())
            } else if take(.name("in")) {
                left = .binary("in", left, try concat())
            } else if peek == .name("not"), position + 1 < tokens.count, tokens[position + 1] == .name("in") {
                position += 2
                left = .not(.binary("in", left, try concat()))
            } else if take(.name("is")) {
                let negated = take(.name("not"))
                let test = try name()
                var args: [JinjaExpr] = []
                if take(.op("(")) { args = try arguments().positional }
                left = .test(left, test, negated: negated, args)
            } else {
                return left
            }
        }
    }

    private mutating func concat() throws(ChatTemplateError) -> JinjaExpr {
        var left = try additive()
        while take(.op("~")) { left = .binary("~", left, try additive()) }
        return left
    }

    private mutating func additive() throws(ChatTemplateError) -> JinjaExpr {
        var left = try multiplicative()
        while case .op(let o)? = peek, o == "+" || o == "-" {
            position += 1
            left = .binary(o, left, try multiplicative())
        }
        return left
    }

    private mutating func multiplicative() throws(ChatTemplateError) -> JinjaExpr {
        var left = try unary()
        while case .op(let o)? = peek, ["*", "/", "//", "%"].contains(o) {
            position += 1
            left = .binary(o, left, try unary())
        }
        return left
    }

    private mutating func unary() throws(ChatTemplateError) -> JinjaExpr {
        if take(.op("-")) { return .negate(try unary()) }
        if take(.op("+")) { return try unary() }
        return try postfix(try primary())
    }

    private mutating func postfix(_ base: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var value = base
        while true {
            if take(.op(".")) {
                value = .attribute(value, try name())
            } else if take(.op("[")) {
                value = try subscriptOrSlice(value)
            } else if take(.op("(")) {
                let args = try arguments()
                value = .call(value, args.positional, args.keyword)
            } else if take(.op("|")) {
                let filter = try name()
                let args: (positional: [JinjaExpr], keyword: [(String, JinjaExpr)]) = take(.op("(")) ? try arguments() : ([], [])
                value = .filter(value, filter, args.positional, args.keyword)
            } else {
                return value
            }
        }
    }

    private mutating func subscriptOrSlice(_ value: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var parts: [JinjaExpr?] = [nil]
        var sawColon = false
        while !take(.op("]")) {
            if take(.op(":")) { sawColon = true; parts.append(nil); continue }
            guard parts[parts.count - 1] == nil else { throw ChatTemplateError("unsupported syntax in subscript") }
            parts[parts.count - 1] = try expression()
        }
        if !sawColon {
            guard let index = parts[0] else { throw ChatTemplateError("empty subscript") }
            return .index(value, index)
        }
        guard parts.count <= 3 else { throw ChatTemplateError("unsupported syntax: slice with more than 3 parts") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(value, parts[0], parts[1], parts[2])
    }

    /// After "(": positional and keyword arguments up to ")".
    mutating func arguments() throws(ChatTemplateError) -> (positional: [JinjaExpr], keyword: [(String, JinjaExpr)]) {
        var positional: [JinjaExpr] = []
        var keyword: [(String, JinjaExpr)] = []
        while !take(.op(")")) {
            if case .name(let n)? = peek, position + 1 < tokens.count, tokens[position + 1] == .op("=") {
                position += 2
                keyword.append((n, try expression()))
            } else {
                positional.append(try expression())
            }
            if !take(.op(",")) { try expect(.op(")")); break }
        }
        return (positional, keyword)
    }

    private mutating func primary() throws(ChatTemplateError) -> JinjaExpr {
        guard let token = peek else { throw ChatTemplateError("unexpected end of expression") }
        position += 1
        switch token {
        case .string(var s):
            while case .string(let more)? = peek { s += more; position += 1 }  // adjacent literals concatenate
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            let inner = try expression()
            if take(.op(",")) { throw ChatTemplateError("unsupported syntax: tuple") }
            try expect(.op(")"))
            return inner
        case .op("["):
            var items: [JinjaExpr] = []
            while !take(.op("]")) {
                items.append(try expression())
                if !take(.op(",")) { try expect(.op("]")); break }
            }
            return .list(items)
        case .op("{"):
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !take(.op("}")) {
                let key = try expression()
                try expect(.op(":"))
                pairs.append((key, try expression()))
                if !take(.op(",")) { try expect(.op("}")); break }
            }
            return .dict(pairs)
        default:
            throw ChatTemplateError("unsupported syntax: unexpected \(Self.describe(token))")
        }
    }
}
