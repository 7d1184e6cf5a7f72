/// Executes a parsed template. Scopes: the global context, then one per for-loop body (as Jinja, `set`
/// inside a loop does not leak out; `namespace()` objects carry state across iterations).
struct JinjaRenderer {
    private var scopes: [[String: JinjaValue]]
    private var namespaces: [[String: JinjaValue]] = []
    private(set) var output = ""

    init(context: [String: JinjaValue]) { scopes = [context] }

    mutating func run(_ nodes: [JinjaNode]) throws(ChatTemplateError) {
        for node in nodes { try run(node) }
    }

    private mutating func run(_ node: JinjaNode) throws(ChatTemplateError) {
        switch node {
        case .text(let s): output += s
        case .output(let e): output += try eval(e).rendered
        case .ifBlock(let branches, let otherwise):
            for (condition, body) in branches where try eval(condition).isTruthy {
                try run(body)
                return
            }
            try run(otherwise)
        case .forBlock(let targets, let iterable, let filter, let body, let otherwise):
            try runFor(targets, try eval(iterable), filter, body, otherwise)
        case .set(let name, let attribute, let e):
            let value = try eval(e)
            if let attribute {
                guard case .namespace(let id)? = lookup(name) else { throw ChatTemplateError("cannot set attribute '\(attribute)' of '\(name)' (not a namespace)") }
                namespaces[id][attribute] = value
            } else {
                scopes[scopes.count - 1][name] = value
            }
        }
    }

    private mutating func runFor(_ targets: [String], _ iterable: JinjaValue, _ filter: JinjaExpr?,
                                 _ body: [JinjaNode], _ otherwise: [JinjaNode]) throws(ChatTemplateError) {
        var items = try Self.iterate(iterable)
        if let filter {
            var kept: [JinjaValue] = []
            for item in items {
                scopes.append(try Self.bind(targets, item))
                let keep = try eval(filter).isTruthy
                scopes.removeLast()
                if keep { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { try run(otherwise); return }
        for (i, item) in items.enumerated() {
            var scope = try Self.bind(targets, item)
            scope["loop"] = Self.loopObject(index: i, count: items.count, items: items)
            scopes.append(scope)
            defer { scopes.removeLast() }
            try run(body)
        }
    }

    static func iterate(_ value: JinjaValue) throws(ChatTemplateError) -> [JinjaValue] {
        switch value {
        case .array(let a): return a
        case .object(_, let keys): return keys.map { .string($0) }
        case .string(let s): return s.map { .string(String($0)) }
        case .undefined, .none: return []
        default: throw ChatTemplateError("cannot iterate over \(value.typeName)")
        }
    }

    private static func bind(_ targets: [String], _ item: JinjaValue) throws(ChatTemplateError) -> [String: JinjaValue] {
        if targets.count == 1 { return [targets[0]: item] }
        guard case .array(let parts) = item, parts.count == targets.count else {
            throw ChatTemplateError("cannot unpack \(item.typeName) into \(targets.count) loop variables")
        }
        var scope: [String: JinjaValue] = [:]
        for (t, v) in zip(targets, parts) { scope[t] = v }
        return scope
    }

    private static func loopObject(index: Int, count: Int, items: [JinjaValue]) -> JinjaValue {
        .object([
            ("index", .int(index + 1)), ("index0", .int(index)), ("revindex", .int(count - index)),
            ("revindex0", .int(count - index - 1)), ("first", .bool(index == 0)), ("last", .bool(index == count - 1)),
            ("length", .int(count)), ("previtem", index > 0 ? items[index - 1] : .undefined),
            ("nextitem", index + 1 < count ? items[index + 1] : .undefined),
        ])
    }

    func lookup(_ name: String) -> JinjaValue? {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return nil
    }

    func namespaceValue(_ id: Int, _ key: String) -> JinjaValue { namespaces[id][key] ?? .undefined }

    mutating func makeNamespace(_ values: [(String, JinjaValue)]) -> JinjaValue {
        var dict: [String: JinjaValue] = [:]
        for (k, v) in values { dict[k] = v }
        namespaces.append(dict)
        return .namespace(namespaces.count - 1)
    }
}
