/// A grammar expression over bytes: what the GBNF, regex and JSON-schema front ends build.
public indirect enum GExpr: Sendable {
    case bytes(ByteSet)
    case seq([GExpr])
    case alt([GExpr])
    /// A rule of the builder, by index (rules may be recursive).
    case ref(Int)
    /// `max == nil`: unbounded.
    case rep(GExpr, min: Int, max: Int?)

    static let empty = GExpr.seq([])

    static func lit(_ s: String) -> GExpr { .seq(s.utf8.map { .bytes(ByteSet($0)) }) }
    static func byte(_ c: Character) -> GExpr { lit(String(c)) }
    static func opt(_ e: GExpr) -> GExpr { .rep(e, min: 0, max: 1) }
    static func star(_ e: GExpr) -> GExpr { .rep(e, min: 0, max: nil) }
}

/// Named rules under construction. Rule 0 is the start rule once `build` runs.
struct GrammarBuilder {
    var names: [String] = []
    var bodies: [GExpr?] = []
    private var byName: [String: Int] = [:]

    /// The rule called `name`, declared if new.
    mutating func rule(_ name: String) -> Int {
        if let i = byName[name] { return i }
        names.append(name); bodies.append(nil)
        byName[name] = names.count - 1
        return names.count - 1
    }

    func lookup(_ name: String) -> Int? { byName[name] }
    func isDefined(_ i: Int) -> Bool { bodies[i] != nil }

    mutating func define(_ i: Int, _ e: GExpr) { bodies[i] = e }

    /// A fresh rule holding `e`.
    mutating func add(_ e: GExpr, hint: String) -> Int {
        let i = rule("\(hint)#\(names.count)")
        bodies[i] = e
        return i
    }

    /// Lowers to the flat form the matcher runs; `start` names the start rule.
    func build(start: Int) throws(ConstraintError) -> CompiledGrammar {
        for (i, b) in bodies.enumerated() where b == nil {
            throw ConstraintError("the rule '\(names[i])' is used but never defined")
        }
        var lower = Lowering(builder: self)
        return try lower.run(start: start)
    }
}

/// The flat grammar: every rule is a list of alternatives; an alternative is a run of elements (a byte set or a
/// rule reference) ended by `end`. A parse position is an index into `kinds`/`args`.
public final class CompiledGrammar: Sendable {
    enum Kind: UInt8, Sendable { case bytes = 0, ref = 1, end = 2 }
    let kinds: [Kind]          // [nElements]
    let args: [Int32]          // [nElements] byte-set index or rule index
    let sets: [ByteSet]
    let ruleAlts: [[Int32]]    // [nRules] start positions of each alternative
    let ruleNames: [String]
    let start: Int32

    init(kinds: [Kind], args: [Int32], sets: [ByteSet], ruleAlts: [[Int32]], ruleNames: [String], start: Int32) {
        self.kinds = kinds; self.args = args; self.sets = sets; self.ruleAlts = ruleAlts
        self.ruleNames = ruleNames; self.start = start
    }

    public var ruleCount: Int { ruleAlts.count }
    public var elementCount: Int { kinds.count }
}

private struct Lowering {
    enum Atom: Hashable { case bytes(Int32), ref(Int32) }
    let builder: GrammarBuilder
    var rules: [[[Atom]]] = []        // rule → alternatives → atoms
    var names: [String] = []
    var sets: [ByteSet] = []
    var setIndex: [ByteSet: Int32] = [:]
    var repeatRules: [String: Int32] = [:]

    init(builder: GrammarBuilder) { self.builder = builder }

    mutating func run(start: Int) throws(ConstraintError) -> CompiledGrammar {
        rules = Array(repeating: [], count: builder.bodies.count)
        names = builder.names
        for (i, body) in builder.bodies.enumerated() { rules[i] = alternatives(body!) }
        try checkLeftRecursion()
        var kinds: [CompiledGrammar.Kind] = [], args: [Int32] = [], ruleAlts: [[Int32]] = []
        for alts in rules {
            var starts: [Int32] = []
            for alt in alts {
                starts.append(Int32(kinds.count))
                for a in alt {
                    switch a {
                    case .bytes(let s): kinds.append(.bytes); args.append(s)
                    case .ref(let r): kinds.append(.ref); args.append(r)
                    }
                }
                kinds.append(.end); args.append(0)
            }
            ruleAlts.append(starts)
        }
        return CompiledGrammar(kinds: kinds, args: args, sets: sets, ruleAlts: ruleAlts, ruleNames: names,
                               start: Int32(start))
    }

    mutating func newRule(_ alts: [[Atom]], _ hint: String) -> Int32 {
        rules.append(alts); names.append(hint)
        return Int32(rules.count - 1)
    }

    mutating func alternatives(_ e: GExpr) -> [[Atom]] {
        if case .alt(let xs) = e { return xs.flatMap { alternatives($0) } }
        return [sequence(e)]
    }

    mutating func sequence(_ e: GExpr) -> [Atom] {
        switch e {
        case .bytes(let s):
            if let i = setIndex[s] { return [.bytes(i)] }
            sets.append(s); setIndex[s] = Int32(sets.count - 1)
            return [.bytes(Int32(sets.count - 1))]
        case .seq(let xs): return xs.flatMap { sequence($0) }
        case .ref(let r): return [.ref(Int32(r))]
        case .alt(let xs):
            if xs.count == 1 { return sequence(xs[0]) }
            return [.ref(newRule(alternatives(e), "alt"))]
        case .rep(let x, let lo, let hi):
            let a = atom(x)
            var out = Array(repeating: a, count: lo)
            if let hi {
                if hi > lo { out.append(optionalChain(a, hi - lo)) }
            } else {
                out.append(starRule(a))
            }
            return out
        }
    }

    /// One atom for `e` (a helper rule unless it lowers to a single atom already).
    mutating func atom(_ e: GExpr) -> Atom {
        let alts = alternatives(e)
        if alts.count == 1, alts[0].count == 1 { return alts[0][0] }
        return .ref(newRule(alts, "group"))
    }

    mutating func starRule(_ a: Atom) -> Atom {
        let key = "star \(a)"
        if let r = repeatRules[key] { return .ref(r) }
        let r = newRule([], "star")
        rules[Int(r)] = [[a, .ref(r)], []]        // S ::= a S | ε  (tail position: no stack growth)
        repeatRules[key] = r
        return .ref(r)
    }

    /// `a{0,n}` as O_n ::= a O_{n-1} | ε.
    mutating func optionalChain(_ a: Atom, _ n: Int) -> Atom {
        let key = "opt \(a) \(n)"
        if let r = repeatRules[key] { return .ref(r) }
        let inner: [Atom] = n > 1 ? [a, optionalChain(a, n - 1)] : [a]
        let r = newRule([inner, []], "opt")
        repeatRules[key] = r
        return .ref(r)
    }

    /// Left recursion would make the matcher expand a rule into itself without consuming input: refused.
    func checkLeftRecursion() throws(ConstraintError) {
        var nullable = Array(repeating: false, count: rules.count)
        var changed = true
        while changed {
            changed = false
            for (i, alts) in rules.enumerated() where !nullable[i] {
                if alts.contains(where: { alt in alt.allSatisfy { if case .ref(let r) = $0 { return nullable[Int(r)] } else { return false } } }) {
                    nullable[i] = true; changed = true
                }
            }
        }
        // left[i]: rules that can start rule i
        var left = Array(repeating: [Int](), count: rules.count)
        for (i, alts) in rules.enumerated() {
            for alt in alts {
                for a in alt {
                    guard case .ref(let r) = a else { break }
                    left[i].append(Int(r))
                    if !nullable[Int(r)] { break }
                }
            }
        }
        for i in 0..<rules.count {
            var seen = Set<Int>(), stack = left[i]
            while let r = stack.popLast() {
                if r == i { throw ConstraintError("the rule '\(names[i])' is left-recursive (it can start with itself); rewrite it with repetition") }
                if seen.insert(r).inserted { stack.append(contentsOf: left[r]) }
            }
        }
    }
}

/// Why a constraint could not be compiled: `path` is where inside the schema or grammar (appended to the API
/// parameter's name in 400 responses), `message` what is wrong.
public struct ConstraintError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var path: String
    public init(_ message: String, path: String = "") { self.message = message; self.path = path }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
