/// Streaming ids -> text. Holds back an incomplete UTF-8 sequence at the end until the bytes that complete
/// it arrive, so every returned string is whole characters and the concatenation of all outputs equals
/// `decode` of all ids. The SentencePiece leading space is dropped after BOS / at the very start, as
/// llama2.c and llama.cpp do; pass the prompt's last token(s) as `promptTail` when continuing a prompt.
public struct IncrementalDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecial: Bool
    private var previous: Int32?
    private var pending: [UInt8] = []   // bytes not yet returned (an incomplete trailing character)

    public init(tokenizer: Tokenizer, skipSpecial: Bool = true, promptTail: [Int32] = []) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
        self.previous = promptTail.last
    }

    /// Text completed by this token (may be empty).
    public mutating func push(_ id: Int32) -> String {
        if !(skipSpecial && tokenizer.isSkippable(id)) {
            let drop = tokenizer.dropsLeadingSpace(after: previous, skipSpecial: skipSpecial)
            tokenizer.appendPiece(id, to: &pending, dropLeadingSpace: drop)
        }
        previous = id
        let keep = Self.incompleteSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Whatever is left; bytes that never formed a character become U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the trailing bytes that are a valid but unfinished UTF-8 sequence (0 if none).
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var back = 1
        while back <= min(3, n) {
            let b = bytes[n - back]
            if b & 0xC0 != 0x80 {  // a lead byte (or ASCII)
                let need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1
                guard need > back else { return 0 }
                return secondByteAllowed(lead: b, bytes: bytes, at: n - back + 1) ? back : 0
            }
            back += 1
        }
        return 0
    }

    /// The restricted second-byte ranges of UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
    private static func secondByteAllowed(lead: UInt8, bytes: [UInt8], at index: Int) -> Bool {
        guard index < bytes.count else { return true }
        let s = bytes[index]
        switch lead {
        case 0xE0: return s >= 0xA0 && s <= 0xBF
        case 0xED: return s >= 0x80 && s <= 0x9F
        case 0xF0: return s >= 0x90 && s <= 0xBF
        case 0xF4: return s >= 0x80 && s <= 0x8F
        default: return true
        }
    }
}
