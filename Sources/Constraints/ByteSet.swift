/// A set of byte values (256 bits): the terminal of every compiled grammar.
public struct ByteSet: Hashable, Sendable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    public init() {}
    public init(_ b: UInt8) { insert(b) }
    public init(range lo: UInt8, _ hi: UInt8) { for b in lo...hi { insert(b) } }

    @inline(__always)
    public func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return w0 & bit != 0
        case 1: return w1 & bit != 0
        case 2: return w2 & bit != 0
        default: return w3 & bit != 0
        }
    }

    public mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    public var isEmpty: Bool { w0 | w1 | w2 | w3 == 0 }
}

/// A set of Unicode scalar values as sorted, disjoint, non-adjacent closed ranges (surrogates never included).
struct ScalarSet: Equatable {
    private(set) var ranges: [(lo: UInt32, hi: UInt32)] = []

    static let maxScalar: UInt32 = 0x10FFFF

    init() {}
    init(_ lo: UInt32, _ hi: UInt32) { add(lo, hi) }
    init(chars: String) { for s in chars.unicodeScalars { add(s.value, s.value) } }

    static func == (a: ScalarSet, b: ScalarSet) -> Bool {
        a.ranges.count == b.ranges.count && zip(a.ranges, b.ranges).allSatisfy { $0.lo == $1.lo && $0.hi == $1.hi }
    }

    static var all: ScalarSet { ScalarSet(0, maxScalar) }

    mutating func add(_ lo: UInt32, _ hi: UInt32) {
        guard lo <= hi else { return }
        // Remove the surrogate block: those code points have no UTF-8 encoding.
        if lo <= 0xDFFF && hi >= 0xD800 {
            if lo < 0xD800 { add(lo, 0xD7FF) }
            if hi > 0xDFFF { add(0xE000, hi) }
            return
        }
        var out: [(lo: UInt32, hi: UInt32)] = []
        var nlo = lo, nhi = min(hi, Self.maxScalar)
        var placed = false
        for r in ranges {
            if r.hi &+ 1 < nlo { out.append(r) }
            else if nhi &+ 1 < r.lo {
                if !placed { out.append((nlo, nhi)); placed = true }
                out.append(r)
            } else { nlo = min(nlo, r.lo); nhi = max(nhi, r.hi) }
        }
        if !placed { out.append((nlo, nhi)) }
        ranges = out
    }

    mutating func formUnion(_ o: ScalarSet) { for r in o.ranges { add(r.lo, r.hi) } }

    var inverted: ScalarSet {
        var s = ScalarSet()
        var next: UInt32 = 0
        for r in ranges {
            if r.lo > next { s.add(next, r.lo - 1) }
            next = r.hi + 1
        }
        if next <= Self.maxScalar { s.add(next, Self.maxScalar) }
        return s
    }

    func intersection(_ o: ScalarSet) -> ScalarSet {
        var s = ScalarSet()
        for a in ranges { for b in o.ranges { s.add(max(a.lo, b.lo), min(a.hi, b.hi)) } }
        return s
    }

    var isEmpty: Bool { ranges.isEmpty }

    /// The grammar matching one scalar of the set, as UTF-8 bytes.
    var expr: GExpr {
        var ascii = ByteSet()
        var seqs: [GExpr] = []
        for r in ranges {
            if r.lo < 0x80 { for b in r.lo...min(r.hi, 0x7F) { ascii.insert(UInt8(b)) } }
            if r.hi >= 0x80 {
                for seq in Self.utf8Sequences(max(r.lo, 0x80), r.hi) {
                    seqs.append(.seq(seq.map { .bytes(ByteSet(range: $0.0, $0.1)) }))
                }
            }
        }
        if !ascii.isEmpty { seqs.insert(.bytes(ascii), at: 0) }
        if seqs.count == 1 { return seqs[0] }
        return .alt(seqs)   // an empty alternation matches nothing
    }

    /// Splits a scalar range into byte-range sequences (the UTF-8 range compilation of regex engines).
    static func utf8Sequences(_ lo: UInt32, _ hi: UInt32) -> [[(UInt8, UInt8)]] {
        var out: [[(UInt8, UInt8)]] = []
        var work: [(UInt32, UInt32)] = [(lo, hi)]
        let bounds: [UInt32] = [0x7F, 0x7FF, 0xFFFF]
        outer: while let (a, b) = work.popLast() {
            guard a <= b else { continue }
            for m in bounds where a <= m && b > m {
                work.append((m + 1, b)); work.append((a, m)); continue outer
            }
            let n = a <= 0x7F ? 1 : a <= 0x7FF ? 2 : a <= 0xFFFF ? 3 : 4
            if n > 1 {
                for i in 1..<n {
                    let m: UInt32 = (1 << (6 * UInt32(i))) - 1
                    if a & ~m != b & ~m {
                        if a & m != 0 { work.append(((a | m) + 1, b)); work.append((a, a | m)); continue outer }
                        if b & m != m { work.append((b & ~m, b)); work.append((a, (b & ~m) - 1)); continue outer }
                    }
                }
            }
            let ea = encode(a, n), eb = encode(b, n)
            out.append(zip(ea, eb).map { ($0, $1) })
        }
        return out
    }

    static func encode(_ c: UInt32, _ n: Int) -> [UInt8] {
        switch n {
        case 1: return [UInt8(c)]
        case 2: return [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))]
        case 3: return [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        default:
            return [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)), UInt8(0x80 | ((c >> 6) & 0x3F)),
                    UInt8(0x80 | (c & 0x3F))]
        }
    }
}
