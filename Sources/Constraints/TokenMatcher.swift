/// The vocabulary as the matcher sees it: every token's bytes, and the matchable tokens sorted by bytes with the
/// length of the prefix each shares with the one before (a token trie in two flat arrays). Built once per model.
public final class VocabIndex: Sendable {
    public let vocabSize: Int
    /// 32-bit words of a token mask.
    public let words: Int
    let bytes: [UInt8]          // concatenated token bytes, by id
    let offsets: [Int32]        // [vocabSize + 1] into bytes
    let sorted: [Int32]         // matchable ids in byte order
    let lcp: [Int32]            // [sorted.count] common prefix length with the previous sorted token
    let maxLength: Int
    /// End-of-generation tokens: allowed exactly when the grammar may end.
    public let stopIds: [Int32]

    /// `tokenBytes[id]`: the text bytes a token adds to the output, or nil for tokens that never match a grammar
    /// (control tokens, unused ids).
    public init(tokenBytes: [[UInt8]?], stopIds: [Int32]) {
        vocabSize = tokenBytes.count
        words = (tokenBytes.count + 31) / 32
        var bytes: [UInt8] = [], offsets: [Int32] = [0]
        var ids: [Int32] = []
        var maxLength = 0
        let stops = Set(stopIds)
        for (i, t) in tokenBytes.enumerated() {
            if let t, !t.isEmpty, !stops.contains(Int32(i)) {   // stop tokens end the text, never match it
                bytes.append(contentsOf: t)
                ids.append(Int32(i))
                maxLength = max(maxLength, t.count)
            }
            offsets.append(Int32(bytes.count))
        }
        let b = bytes, o = offsets
        func slice(_ id: Int32) -> ArraySlice<UInt8> { b[Int(o[Int(id)])..<Int(o[Int(id) + 1])] }
        ids.sort { slice($0).lexicographicallyPrecedes(slice($1)) }
        var lcp = [Int32](repeating: 0, count: ids.count)
        for k in 1..<max(ids.count, 1) {
            let x = slice(ids[k - 1]), y = slice(ids[k])
            var n = 0
            while n < x.count && n < y.count && x[x.startIndex + n] == y[y.startIndex + n] { n += 1 }
            lcp[k] = Int32(n)
        }
        self.bytes = bytes; self.offsets = offsets; sorted = ids; self.lcp = lcp
        self.maxLength = maxLength
        self.stopIds = stopIds.filter { $0 >= 0 && Int($0) < tokenBytes.count }
    }

    func tokenBytes(_ id: Int32) -> ArraySlice<UInt8> {
        guard id >= 0, Int(id) < vocabSize else { return [] }
        return bytes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }
}

/// A grammar run against a vocabulary: parse configurations (sets of parse stacks) interned as small integers,
/// byte transitions between them computed once, and token masks per configuration cached. Everything a request's
/// constraint needs per step is then a table lookup; all requests with the same grammar share one index.
/// Not thread-safe: the engine thread owns it.
public final class GrammarIndex {
    public let grammar: CompiledGrammar
    public let vocab: VocabIndex
    // Parse stacks as interned linked nodes: (grammar position, parent node).
    private var nodePos: [Int32] = []
    private var nodeParent: [Int32] = []
    private var nodeIds: [Int64: Int32] = [:]
    private var expandMemo: [Int32: [Int32]] = [:]
    // Configurations: sorted top nodes (each at a byte-set element); -1 in the list = the grammar may end here.
    private var cfgTops: [[Int32]] = []
    private var cfgAccept: [Bool] = []
    private var cfgIds: [[Int32]: Int32] = [:]
    /// [capacity * 256] transitions: -2 unknown, -1 dead. Raw storage so the trie walk reads it without
    /// exclusivity checks; reallocated (doubling) as configurations are added.
    private var trans: UnsafeMutablePointer<Int32>
    private var transCapacity = 64
    /// Per configuration: its token mask ([words]), nil until first needed.
    private var masks: [UnsafeMutablePointer<UInt32>?] = []
    private var maskNonEmpty: [Bool] = []
    private var liveMasks = 0
    private let maxMasks: Int
    public private(set) var initial: Int32 = -1
    /// Counters for measurements.
    public private(set) var maskComputations = 0
    public private(set) var maskLookups = 0

    static let accept: Int32 = -1
    static let unknown: Int32 = -2

    public init(grammar: CompiledGrammar, vocab: VocabIndex, maskCacheBytes: Int = 64 << 20) {
        self.grammar = grammar
        self.vocab = vocab
        maxMasks = max(16, maskCacheBytes / max(1, vocab.words * 4))
        trans = .allocate(capacity: transCapacity * 256)
        var tops: [Int32] = []
        startRule(into: &tops)
        initial = intern(tops)
    }

    deinit {
        trans.deallocate()
        for m in masks { m?.deallocate() }
    }

    public var configurationCount: Int { cfgTops.count }

    private func startRule(into out: inout [Int32]) {
        for a in grammar.ruleAlts[Int(grammar.start)] { continueAt(a, parent: -1, into: &out, depth: 0) }
    }

    // MARK: configurations

    private func node(_ pos: Int32, _ parent: Int32) -> Int32 {
        let key = Int64(pos) << 32 | Int64(UInt32(bitPattern: parent))
        if let n = nodeIds[key] { return n }
        nodePos.append(pos); nodeParent.append(parent)
        let n = Int32(nodePos.count - 1)
        nodeIds[key] = n
        return n
    }

    private func continueAt(_ pos: Int32, parent: Int32, into out: inout [Int32], depth: Int) {
        if grammar.kinds[Int(pos)] == .end {
            if parent < 0 { out.append(Self.accept) } else { out.append(contentsOf: expand(parent, depth: depth + 1)) }
        } else {
            out.append(contentsOf: expand(node(pos, parent), depth: depth + 1))
        }
    }

    /// The byte-set tops a stack reaches without consuming input.
    private func expand(_ n: Int32, depth: Int) -> [Int32] {
        if let m = expandMemo[n] { return m }
        guard depth < 4096 else { return [] }
        let pos = Int(nodePos[Int(n)]), parent = nodeParent[Int(n)]
        var out: [Int32] = []
        switch grammar.kinds[pos] {
        case .bytes: out = [n]
        case .end: if parent < 0 { out = [Self.accept] } else { out = expand(parent, depth: depth + 1) }
        case .ref:
            let ret = grammar.kinds[pos + 1] == .end ? parent : node(Int32(pos + 1), parent)
            for a in grammar.ruleAlts[Int(grammar.args[pos])] { continueAt(a, parent: ret, into: &out, depth: depth) }
        }
        expandMemo[n] = out
        return out
    }

    private func intern(_ tops: [Int32]) -> Int32 {
        if tops.isEmpty { return -1 }
        let key = Array(Set(tops)).sorted()
        if let c = cfgIds[key] { return c }
        let c = Int32(cfgTops.count)
        cfgIds[key] = c
        cfgAccept.append(key.first == Self.accept)
        cfgTops.append(key.first == Self.accept ? Array(key.dropFirst()) : key)
        if cfgTops.count > transCapacity {
            let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: transCapacity * 2 * 256)
            bigger.update(from: trans, count: transCapacity * 256)
            trans.deallocate()
            trans = bigger
            transCapacity *= 2
        }
        (trans + Int(c) * 256).initialize(repeating: Self.unknown, count: 256)
        masks.append(nil)
        maskNonEmpty.append(false)
        return c
    }

    @inline(__always)
    func step(_ c: Int32, _ b: UInt8) -> Int32 {
        let t = trans[Int(c) &* 256 &+ Int(b)]
        return t != Self.unknown ? t : computeTransition(c, b)
    }

    private func computeTransition(_ c: Int32, _ b: UInt8) -> Int32 {
        var out: [Int32] = []
        for n in cfgTops[Int(c)] {
            let pos = Int(nodePos[Int(n)])
            if grammar.sets[Int(grammar.args[pos])].contains(b) {
                continueAt(Int32(pos + 1), parent: nodeParent[Int(n)], into: &out, depth: 0)
            }
        }
        let next = intern(out)
        trans[Int(c) &* 256 &+ Int(b)] = next
        return next
    }

    /// The grammar may end here.
    public func accepts(_ c: Int32) -> Bool { c >= 0 && cfgAccept[Int(c)] }
    /// The grammar must end here: nothing can follow.
    public func isComplete(_ c: Int32) -> Bool { c >= 0 && cfgAccept[Int(c)] && cfgTops[Int(c)].isEmpty }

    /// The configuration after `token`, or -1 if the token is not allowed. Stop tokens are allowed (and leave the
    /// configuration unchanged) where the grammar may end.
    public func advance(_ c: Int32, token: Int32) -> Int32 {
        guard c >= 0 else { return -1 }
        if vocab.stopIds.contains(token) { return accepts(c) ? c : -1 }
        let bytes = vocab.tokenBytes(token)
        if bytes.isEmpty { return -1 }
        var s = c
        for b in bytes {
            s = step(s, b)
            if s < 0 { return -1 }
        }
        return s
    }

    // MARK: masks

    /// Calls `body` with the mask of allowed tokens at `c` ([words] bits, bit t of word t/32 = token t allowed)
    /// and whether any token is allowed. Computed on the first visit of a configuration, then cached.
    public func withMask<R>(_ c: Int32, _ body: (UnsafePointer<UInt32>, Bool) -> R) -> R {
        maskLookups += 1
        let m = masks[Int(c)] ?? computeMask(c)
        return body(m, maskNonEmpty[Int(c)])
    }

    private func computeMask(_ c: Int32) -> UnsafeMutablePointer<UInt32> {
        maskComputations += 1
        if liveMasks >= maxMasks {   // over budget: start again (masks are recomputed when next needed)
            for i in masks.indices { masks[i]?.deallocate(); masks[i] = nil }
            liveMasks = 0
        }
        let words = vocab.words
        let mask = UnsafeMutablePointer<UInt32>.allocate(capacity: words)
        mask.initialize(repeating: 0, count: words)
        var any = false
        vocab.sorted.withUnsafeBufferPointer { sorted in
            vocab.lcp.withUnsafeBufferPointer { lcp in
                vocab.bytes.withUnsafeBufferPointer { bytes in
                    vocab.offsets.withUnsafeBufferPointer { offsets in
                        any = walk(c, into: mask, sorted: sorted, lcp: lcp, bytes: bytes, offsets: offsets)
                    }
                }
            }
        }
        if accepts(c) {
            for t in vocab.stopIds { mask[Int(t) / 32] |= 1 << UInt32(Int(t) % 32); any = true }
        }
        masks[Int(c)] = mask
        maskNonEmpty[Int(c)] = any
        liveMasks += 1
        return mask
    }

    /// Walks the sorted tokens as a trie from configuration `c`: the configurations of a shared prefix are reused,
    /// and every token under a dead prefix is skipped. Reads transitions from raw storage (re-read after a
    /// transition is computed, which may grow it).
    private func walk(_ c: Int32, into mask: UnsafeMutablePointer<UInt32>, sorted: UnsafeBufferPointer<Int32>,
                      lcp: UnsafeBufferPointer<Int32>, bytes: UnsafeBufferPointer<UInt8>,
                      offsets: UnsafeBufferPointer<Int32>) -> Bool {
        let stack = UnsafeMutablePointer<Int32>.allocate(capacity: vocab.maxLength + 1)
        defer { stack.deallocate() }
        var tr = trans
        var any = false
        var valid = 0                  // stack[0...valid] hold the configurations of the previous token's prefix
        stack[0] = c
        var i = 0
        let n = sorted.count
        while i < n {
            let t = Int(sorted[i])
            let start = Int(offsets[t]), len = Int(offsets[t + 1]) &- start
            var d = min(Int(lcp[i]), valid)
            var dead = false
            while d < len {
                let from = stack[d], b = bytes[start &+ d]
                var next = tr[Int(from) &* 256 &+ Int(b)]
                if next == Self.unknown { next = computeTransition(from, b); tr = trans }
                if next < 0 { dead = true; break }
                d &+= 1
                stack[d] = next
            }
            valid = d
            i &+= 1
            if !dead {
                mask[t >> 5] |= 1 << UInt32(t & 31)
                any = true
            } else {
                // Every following token sharing these d + 1 bytes dies too.
                while i < n && Int(lcp[i]) > d { i &+= 1 }
            }
        }
        return any
    }
}

/// One request's position in its grammar.
public struct ConstraintState {
    public let index: GrammarIndex
    public private(set) var config: Int32

    public init(index: GrammarIndex) { self.index = index; config = index.initial }

    /// Advances by a sampled token; false (and no change) if the grammar does not allow it.
    @discardableResult
    public mutating func advance(_ token: Int32) -> Bool {
        let next = index.advance(config, token: token)
        guard next >= 0 else { return false }
        config = next
        return true
    }

    public var isComplete: Bool { index.isComplete(config) }
    public var canEnd: Bool { index.accepts(config) }

    public func withMask<R>(_ body: (UnsafePointer<UInt32>, Bool) -> R) -> R { index.withMask(config, body) }
}
