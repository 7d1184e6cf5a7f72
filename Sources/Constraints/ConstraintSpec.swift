import Synchronization

/// A function a tool call may name, with the JSON schema of its arguments (JSON text).
public struct ToolFunction: Sendable, Codable, Hashable {
    public var name: String
    public var parameters: String
    public init(name: String, parameters: String) { self.name = name; self.parameters = parameters }
}

/// What a request's output must match. Travels with the request (it is `Codable`, so it goes through the cluster
/// queue in the sampling parameters); compiled once per distinct spec and cached.
public struct ConstraintSpec: Sendable, Codable, Hashable {
    public enum Kind: Sendable, Codable, Hashable {
        /// A JSON schema (JSON text).
        case jsonSchema(String)
        /// Any JSON object (OpenAI's `json_object`).
        case jsonObject
        case regex(String)
        case choice([String])
        /// A GBNF grammar (llama.cpp's format).
        case grammar(String)
        /// One (or, when `parallel`, several) `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>` blocks, the
        /// arguments following the named function's parameters schema.
        case toolCalls([ToolFunction], parallel: Bool)
    }

    public var kind: Kind
    /// The request field it came from (compile errors name `param` + the place inside it).
    public var param: String

    public init(_ kind: Kind, param: String) { self.kind = kind; self.param = param }

    /// The compiled grammar, from the process-wide cache when this spec was compiled before.
    public func compile() throws(ConstraintError) -> CompiledGrammar {
        if let g = GrammarCache.shared.get(kind) { return g }
        let g = try Self.compileUncached(kind)
        GrammarCache.shared.put(kind, g)
        return g
    }

    public static func compileUncached(_ kind: Kind) throws(ConstraintError) -> CompiledGrammar {
        switch kind {
        case .jsonSchema(let text): return try SchemaCompiler.compile(schemaText: text)
        case .jsonObject: return try SchemaCompiler.compile(schemaText: #"{"type": "object"}"#)
        case .regex(let p): return try RegexCompiler.compile(p)
        case .grammar(let g): return try GBNFParser.parse(g)
        case .choice(let options):
            guard !options.isEmpty else { throw ConstraintError("the list of choices is empty") }
            var b = GrammarBuilder()
            let root = b.rule("root")
            b.define(root, .alt(options.map { GExpr.lit($0) }))
            return try b.build(start: root)
        case .toolCalls(let tools, let parallel): return try toolCallGrammar(tools, parallel: parallel)
        }
    }

    public static let toolCallOpen = "<tool_call>\n"
    public static let toolCallClose = "\n</tool_call>"

    static func toolCallGrammar(_ tools: [ToolFunction], parallel: Bool) throws(ConstraintError) -> CompiledGrammar {
        guard !tools.isEmpty else { throw ConstraintError("no tools to call") }
        let c = SchemaCompiler(root: .null)
        var calls: [GExpr] = []
        for (i, t) in tools.enumerated() {
            let schema: JSON
            do { schema = try JSON.parse(t.parameters) } catch { throw ConstraintError(error.message, path: "[\(i)].function.parameters") }
            let args: GExpr
            do { args = try c.compileForeign(schema) } catch { throw ConstraintError(error.message, path: "[\(i)].function.parameters" + (error.path.isEmpty ? "" : "." + error.path)) }
            let ws = c.ws
            calls.append(.seq([.byte("{"), ws, .lit("\"name\""), ws, .byte(":"), ws, .lit(JSON.quote(t.name)), ws, .byte(","), ws,
                               .lit("\"arguments\""), ws, .byte(":"), ws, args, ws, .byte("}")]))
        }
        let call = GExpr.seq([.lit(toolCallOpen), .alt(calls), .lit(toolCallClose)])
        let root = c.b.rule("root")
        c.b.define(root, parallel ? .seq([call, .star(.seq([.byte("\n"), call]))]) : call)
        return try c.b.build(start: root)
    }
}

/// Compiled grammars by spec, least recently used evicted past `capacity`.
final class GrammarCache: Sendable {
    static let shared = GrammarCache(capacity: 256)
    private struct State { var map: [ConstraintSpec.Kind: (CompiledGrammar, UInt64)] = [:]; var clock: UInt64 = 0 }
    private let state = Mutex(State())
    let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    func get(_ k: ConstraintSpec.Kind) -> CompiledGrammar? {
        state.withLock { s in
            guard let (g, _) = s.map[k] else { return nil }
            s.clock += 1
            s.map[k] = (g, s.clock)
            return g
        }
    }

    func put(_ k: ConstraintSpec.Kind, _ g: CompiledGrammar) {
        state.withLock { s in
            s.clock += 1
            s.map[k] = (g, s.clock)
            if s.map.count > capacity, let oldest = s.map.min(by: { $0.value.1 < $1.value.1 })?.key { s.map[oldest] = nil }
        }
    }
}
