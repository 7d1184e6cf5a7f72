/// Content hash of one FULL KV block, chained to its parent block:
/// `hash(block i) = H(hash(block i-1), tokens of block i)`, with a fixed root for block 0.
///
/// Deterministic across runs and processes (no `Hasher`, which is seeded per process), so hashes could be
/// logged or shared between instances. 64 bits; the pool also stores each cached block's parent hash and
/// token ids and compares them on lookup, so a collision can only cause a cache miss, never wrong KV.
public struct BlockHash: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt64

    public init(value: UInt64) { self.value = value }

    /// Parent of the first block of every sequence.
    public static let root = BlockHash(value: 0x9E37_79B9_7F4A_7C15)

    /// Hash of a full block of `tokens` whose predecessor block hashes to `parent`.
    public init(parent: BlockHash, tokens: ArraySlice<Int32>) {
        var h = parent.value ^ 0xC2B2_AE3D_27D4_EB4F
        for token in tokens {
            let t = UInt64(UInt32(bitPattern: token)) &* 0x9E37_79B9_7F4A_7C15
            h = ((h ^ t) &<< 27 | (h ^ t) &>> 37) &* 0x1000_0000_01B3 &+ 0x1656_67B1_9E37_79F9
        }
        h ^= UInt64(tokens.count)
        self.value = Self.finalMix(h)
    }

    /// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
    static func finalMix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k &>> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k &>> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k &>> 33
        return k
    }

    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
