/// Text <-> token ids for SentencePiece (llama), byte-level BPE (gpt2) and llama2.c vocabularies.
/// Immutable after `init`; every call allocates its own scratch, so one instance serves many threads.
public final class Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    let types: [TokenType]                       // [vocabSize], after llama.cpp's control-type overrides
    let tokenToId: [[UInt8]: Int32]              // stored token bytes -> id (last id wins, like llama.cpp)
    let hashToId: [UInt64: Int32]                // FNV-1a of token bytes -> id; -2 where two tokens collide
    let pieceStorage: [UInt8]                    // concatenated decoded pieces
    let pieceOffsets: [Int32]                    // [vocabSize + 1] into pieceStorage
    let byteTokens: [Int32]                      // [256] byte -> token id (-1 if absent)
    let mergeTable: [UInt64: UInt64]             // (left id << 32 | right id) -> (rank << 32 | merged id)
    let specialTokens: [Int32]                   // control / user-defined / unknown, longest text first
    public let stopIds: Set<Int32>

    public init(vocabulary: Vocabulary) throws {
        let count = vocabulary.tokens.count
        guard count > 0 else { throw TokenizerError("empty vocabulary") }
        if !vocabulary.scores.isEmpty && vocabulary.scores.count != count {
            throw TokenizerError("\(vocabulary.scores.count) scores for \(count) tokens")
        }
        if !vocabulary.types.isEmpty && vocabulary.types.count != count {
            throw TokenizerError("\(vocabulary.types.count) token types for \(count) tokens")
        }
        for (name, id) in [("bos", vocabulary.bosId), ("eos", vocabulary.eosId)] {
            if let id, id < 0 || Int(id) >= count { throw TokenizerError("\(name) id \(id) outside vocabulary of \(count)") }
        }
        self.vocabulary = vocabulary
        var lookup: [[UInt8]: Int32] = [:]
        lookup.reserveCapacity(count)
        for (i, t) in vocabulary.tokens.enumerated() { lookup[t] = Int32(i) }
        tokenToId = lookup
        hashToId = Self.makeHashIndex(lookup)
        let types = Self.effectiveTypes(vocabulary)
        self.types = types
        byteTokens = Self.makeByteTokens(vocabulary.kind, lookup)
        let pieces = Self.makePieces(vocabulary, types: types)
        pieceStorage = pieces.storage
        pieceOffsets = pieces.offsets
        mergeTable = vocabulary.kind == .byteLevelBPE ? Self.makeMergeTable(vocabulary.merges, lookup) : [:]
        specialTokens = Self.makeSpecialTokens(vocabulary.tokens, types)
        stopIds = Self.makeStopIds(vocabulary, lookup)
    }

    /// Token id of `bytes` without allocating a key (hash probe, then a byte comparison).
    @inline(__always)
    func tokenId(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let id = hashToId[Self.fnv1a(bytes)] else { return nil }
        if id == -2 { return tokenToId[Array(bytes)] }
        return vocabulary.tokens[Int(id)].elementsEqual(bytes) ? id : nil
    }

    @inline(__always)
    static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    public var vocabSize: Int { vocabulary.tokens.count }
    /// Whether the vocabulary has a token with exactly this text.
    public func hasToken(_ text: String) -> Bool { tokenToId[Array(text.utf8)] != nil }
    public var bosId: Int32? { vocabulary.bosId }
    public var eosId: Int32? { vocabulary.eosId }
    public var addBOS: Bool { vocabulary.addBOS }
    public var addEOS: Bool { vocabulary.addEOS }
    public var chatTemplate: String? { vocabulary.chatTemplate }
    public var kind: TokenizerKind { vocabulary.kind }

    /// The vocabulary string as stored (SentencePiece '▁', GPT-2 'Ġ' and `<0xNN>` left as they are).
    public func tokenText(_ id: Int32) -> String {
        guard id >= 0 && Int(id) < vocabSize else { return "" }
        return String(decoding: vocabulary.tokens[Int(id)], as: UTF8.self)
    }

    /// The token's type after llama.cpp's overrides (end-of-turn names are forced to control).
    public func tokenType(_ id: Int32) -> TokenType {
        guard id >= 0 && Int(id) < vocabSize else { return .undefined }
        return types[Int(id)]
    }

    /// Control, user-defined and unknown tokens.
    public func isSpecial(_ id: Int32) -> Bool {
        let t = tokenType(id)
        return t == .control || t == .userDefined || t == .unknown
    }

    /// Tokens `decode(skipSpecial: true)` leaves out: control and unknown (as llama.cpp's `token_to_piece(special: false)`).
    func isSkippable(_ id: Int32) -> Bool {
        let t = tokenType(id)
        return t == .control || t == .unknown
    }

    /// The raw bytes this token contributes to text: byte tokens give their byte, '▁' becomes a space,
    /// GPT-2's byte-to-unicode mapping is undone; special tokens give their text. Empty for unknown ids.
    public func pieceBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0 && Int(id) < vocabSize else { return [] }
        return Array(pieceStorage[Int(pieceOffsets[Int(id)])..<Int(pieceOffsets[Int(id) + 1])])
    }

    func appendPiece(_ id: Int32, to bytes: inout [UInt8], dropLeadingSpace: Bool) {
        guard id >= 0 && Int(id) < vocabSize else { return }
        var start = Int(pieceOffsets[Int(id)])
        let end = Int(pieceOffsets[Int(id) + 1])
        if dropLeadingSpace && start < end && pieceStorage[start] == 0x20 { start += 1 }
        bytes.append(contentsOf: pieceStorage[start..<end])
    }

    /// Whether the piece of the token after `previous` (nil = start of text) loses its leading space:
    /// SentencePiece's dummy prefix, added at the start and after special tokens (llama2.c: after BOS).
    func dropsLeadingSpace(after previous: Int32?, skipSpecial: Bool) -> Bool {
        guard vocabulary.addSpacePrefix else { return false }
        guard let previous else { return true }
        return skipSpecial && isSkippable(previous)
    }

    public func decode(_ ids: [Int32], skipSpecial: Bool = true) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var previous: Int32? = nil
        for id in ids {
            if !(skipSpecial && isSkippable(id)) {
                appendPiece(id, to: &bytes, dropLeadingSpace: dropsLeadingSpace(after: previous, skipSpecial: skipSpecial))
            }
            previous = id
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
