extension JinjaRenderer {
    mutating func eval(_ e: JinjaExpr) throws(ChatTemplateError) -> JinjaValue {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n) ?? .undefined
        case .list(let items):
            var values: [JinjaValue] = []
            for item in items { values.append(try eval(item)) }
            return .array(values)
        case .dict(let pairs):
            var values: [(String, JinjaValue)] = []
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else { throw ChatTemplateError("dict keys must be strings") }
                values.append((key, try eval(v)))
            }
            return .object(values)
        case .attribute(let base, let name): return member(try eval(base), name)
        case .index(let base, let index): return try subscriptValue(try eval(base), try eval(index))
        case .slice(let base, let a, let b, let c): return try slice(try eval(base), a, b, c)
        case .call(let callee, let args, let kwargs): return try call(callee, args, kwargs)
        case .filter(let base, let name, let args, let kwargs): return try filter(name, try eval(base), args, kwargs)
        case .test(let base, let name, let negated, let args):
            let result = try test(name, try eval(base), args)
            return .bool(negated ? !result : result)
        case .not(let inner): return .bool(!(try eval(inner).isTruthy))
        case .negate(let inner):
            guard case .int(let i) = try eval(inner) else { throw ChatTemplateError("unary minus needs an integer") }
            return .int(-i)
        case .binary(let op, let l, let r): return try binary(op, l, r)
        case .conditional(let value, let condition, let otherwise):
            if try eval(condition).isTruthy { return try eval(value) }
            return try otherwise.map { e throws(ChatTemplateError) in try eval(e) } ?? .undefined
        }
    }

    private func member(_ base: JinjaValue, _ name: String) -> JinjaValue {
        switch base {
        case .object(let d, _): return d[name] ?? .undefined
        case .namespace(let id): return namespaceValue(id, name)
        default: return .undefined
        }
    }

    private func subscriptValue(_ base: JinjaValue, _ index: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        switch (base, index) {
        case (.array(let a), .int(let i)):
            let j = i < 0 ? a.count + i : i
            return a.indices.contains(j) ? a[j] : .undefined
        case (.string(let s), .int(let i)):
            let chars = Array(s)
            let j = i < 0 ? chars.count + i : i
            return chars.indices.contains(j) ? .string(String(chars[j])) : .undefined
        case (_, .string(let key)): return member(base, key)
        case (.undefined, _): return .undefined
        default: throw ChatTemplateError("cannot index \(base.typeName) with \(index.typeName)")
        }
    }

    private mutating func slice(_ base: JinjaValue, _ a: JinjaExpr?, _ b: JinjaExpr?, _ c: JinjaExpr?) throws(ChatTemplateError) -> JinjaValue {
        func int(_ e: JinjaExpr?) throws(ChatTemplateError) -> Int? {
            guard let e else { return nil }
            switch try eval(e) {
            case .int(let i): return i
            case .none, .undefined: return nil
            default: throw ChatTemplateError("slice bounds must be integers")
            }
        }
        let start = try int(a), stop = try int(b), step = try int(c) ?? 1
        guard step != 0 else { throw ChatTemplateError("slice step cannot be zero") }
        let items: [JinjaValue]
        switch base {
        case .array(let arr): items = arr
        case .string(let s): items = s.map { .string(String($0)) }
        default: throw ChatTemplateError("cannot slice \(base.typeName)")
        }
        let n = items.count
        func clamp(_ v: Int?, _ dflt: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 { v += n }
            return step > 0 ? min(max(v, 0), n) : min(max(v, -1), n - 1)
        }
        var out: [JinjaValue] = []
        var i = clamp(start, step > 0 ? 0 : n - 1)
        let end = clamp(stop, step > 0 ? n : -1)
        while step > 0 ? i < end : i > end { out.append(items[i]); i += step }
        if case .string = base { return .string(out.map(\.rendered).joined()) }
        return .array(out)
    }

    private mutating func binary(_ op: String, _ l: JinjaExpr, _ r: JinjaExpr) throws(ChatTemplateError) -> JinjaValue {
        if op == "and" { let a = try eval(l); return a.isTruthy ? try eval(r) : a }
        if op == "or" { let a = try eval(l); return a.isTruthy ? a : try eval(r) }
        let a = try eval(l), b = try eval(r)
        switch (op, a, b) {
        case ("==", _, _): return .bool(Self.equal(a, b))
        case ("!=", _, _): return .bool(!Self.equal(a, b))
        case ("~", _, _): return .string(a.rendered + b.rendered)
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .array(let x), .array(let y)): return .array(x + y)
        case ("in", _, _): return .bool(try Self.contains(b, a))
        case (_, .int(let x), .int(let y)): return try Self.arithmetic(op, x, y)
        case ("<", .string(let x), .string(let y)): return .bool(x < y)
        case (">", .string(let x), .string(let y)): return .bool(x > y)
        default: throw ChatTemplateError("unsupported operation: \(a.typeName) \(op) \(b.typeName)")
        }
    }

    static func equal(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .int(let y)), (.int(let y), .bool(let x)): return (x ? 1 : 0) == y
        default: return a == b
        }
    }

    private static func contains(_ container: JinjaValue, _ item: JinjaValue) throws(ChatTemplateError) -> Bool {
        switch (container, item) {
        case (.string(let s), .string(let sub)): return sub.isEmpty || s.contains(sub)
        case (.array(let a), _): return a.contains { equal($0, item) }
        case (.object(let d, _), .string(let key)): return d[key] != nil
        case (.undefined, _): return false
        default: throw ChatTemplateError("'in' needs a string, list or dict, not \(container.typeName)")
        }
    }

    private static func arithmetic(_ op: String, _ x: Int, _ y: Int) throws(ChatTemplateError) -> JinjaValue {
        switch op {
        case "+": return .int(x + y)
        case "-": return .int(x - y)
        case "*": return .int(x * y)
        case "//", "/":
            guard y != 0 else { throw ChatTemplateError("division by zero") }
            guard op == "//" || x % y == 0 else { throw ChatTemplateError("unsupported syntax: non-integer division") }
            return .int(Int((Double(x) / Double(y)).rounded(.down)))
        case "%":
            guard y != 0 else { throw ChatTemplateError("modulo by zero") }
            return .int(((x % y) + y) % y)
        case "<": return .bool(x < y)
        case ">": return .bool(x > y)
        case "<=": return .bool(x <= y)
        case ">=": return .bool(x >= y)
        default: throw ChatTemplateError("unsupported operator '\(op)'")
        }
    }
}
