/// Lookup tables built once in `Tokenizer.init`.
extension Tokenizer {
    /// GPT-2's byte -> code point mapping: printable Latin-1 bytes map to themselves, the rest to 256...
    static let byteToUnicode: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable { table[b] = UInt32(b) } else { table[b] = next; next += 1 }
        }
        return table
    }()

    /// Inverse of `byteToUnicode`, indexed by code point (< 324); -1 where no byte maps there.
    static let unicodeToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, u) in byteToUnicode.enumerated() { table[Int(u)] = Int16(b) }
        return table
    }()

    static func utf8(_ value: UInt32) -> [UInt8] { Array(String(Character(Unicode.Scalar(value)!)).utf8) }

    /// Types with llama.cpp's fix-ups: end-of-turn names become control; llama2.c gets synthetic types.
    static func effectiveTypes(_ v: Vocabulary) -> [TokenType] {
        var types = v.types.isEmpty ? [TokenType](repeating: .normal, count: v.tokens.count) : v.types
        if v.kind == .llama2c && v.types.isEmpty {
            for (i, t) in v.tokens.enumerated() where isByteTokenText(t) { types[i] = .byte }
            if types.count > 0 { types[0] = .unknown }
            for id in [v.bosId, v.eosId].compactMap({ $0 }) { types[Int(id)] = .control }
        }
        for (i, t) in v.tokens.enumerated()
        where Vocabulary.endOfGenerationNames.contains(String(decoding: t, as: UTF8.self)) {
            types[i] = .control
        }
        return types
    }

    /// "<0xNN>"
    static func isByteTokenText(_ t: [UInt8]) -> Bool {
        t.count == 6 && t[0] == 0x3C && t[1] == 0x30 && t[2] == 0x78 && t[5] == 0x3E && hexValue(t[3]) != nil && hexValue(t[4]) != nil
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    static func byteTokenText(_ b: UInt8) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        return [0x3C, 0x30, 0x78, hex[Int(b >> 4)], hex[Int(b & 15)], 0x3E]
    }

    /// Byte -> token: `<0xNN>` tokens for SentencePiece, the byte's mapped character for byte-level BPE,
    /// `byte + 3` for llama2.c (run.c's rule).
    static func makeByteTokens(_ kind: TokenizerKind, _ lookup: [[UInt8]: Int32]) -> [Int32] {
        (0..<256).map { b -> Int32 in
            switch kind {
            case .sentencePiece: return lookup[byteTokenText(UInt8(b))] ?? -1
            case .byteLevelBPE: return lookup[utf8(byteToUnicode[b])] ?? -1
            case .llama2c: return Int32(b + 3)
            }
        }
    }

    /// The bytes each token contributes to decoded text.
    static func makePieces(_ v: Vocabulary, types: [TokenType]) -> (storage: [UInt8], offsets: [Int32]) {
        var storage: [UInt8] = []
        var offsets: [Int32] = [0]
        storage.reserveCapacity(v.tokens.count * 6)
        offsets.reserveCapacity(v.tokens.count + 1)
        for (i, text) in v.tokens.enumerated() {
            switch (types[i], v.kind) {
            case (.control, _), (.userDefined, _), (.unknown, _):
                storage.append(contentsOf: text)
            case (.byte, _) where isByteTokenText(text):
                storage.append(hexValue(text[3])! << 4 | hexValue(text[4])!)
            case (.normal, .sentencePiece), (.normal, .llama2c):
                appendUnescapingSpaces(text, to: &storage)
            case (.normal, .byteLevelBPE):
                appendUnmappingBytes(text, to: &storage)
            default:
                break  // unused / undefined tokens decode to nothing (llama.cpp)
            }
            offsets.append(Int32(storage.count))
        }
        return (storage, offsets)
    }

    /// '▁' (E2 96 81) -> ' '
    static func appendUnescapingSpaces(_ text: [UInt8], to out: inout [UInt8]) {
        var i = 0
        while i < text.count {
            if i + 2 < text.count && text[i] == 0xE2 && text[i + 1] == 0x96 && text[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(text[i]); i += 1
            }
        }
    }

    /// GPT-2 characters -> bytes; characters outside the mapping are kept as their UTF-8.
    static func appendUnmappingBytes(_ text: [UInt8], to out: inout [UInt8]) {
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            let v = Int(scalar.value)
            if v < unicodeToByte.count && unicodeToByte[v] >= 0 {
                out.append(UInt8(unicodeToByte[v]))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }

    /// Merge "A B" at rank r -> table[(id(A), id(B))] = (r, id(AB)). Merges whose parts are not tokens are dropped.
    static func makeMergeTable(_ merges: [String], _ lookup: [[UInt8]: Int32]) -> [UInt64: UInt64] {
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let bytes = Array(merge.utf8)
            guard bytes.count > 2, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
            let left = Array(bytes[..<space]), right = Array(bytes[(space + 1)...])
            guard let l = lookup[left], let r = lookup[right], let m = lookup[left + right] else { continue }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m)) }
        }
        return table
    }

    static func makeHashIndex(_ lookup: [[UInt8]: Int32]) -> [UInt64: Int32] {
        var index: [UInt64: Int32] = [:]
        index.reserveCapacity(lookup.count)
        for (bytes, id) in lookup {
            let h = bytes.withUnsafeBufferPointer { fnv1a($0) }
            index[h] = index[h] == nil ? id : -2
        }
        return index
    }

    /// Control, user-defined and unknown tokens, longest text first (ties: lower id first).
    static func makeSpecialTokens(_ tokens: [[UInt8]], _ types: [TokenType]) -> [Int32] {
        var ids: [Int32] = []
        for (i, t) in types.enumerated() where t == .control || t == .userDefined || t == .unknown {
            ids.append(Int32(i))
        }
        ids.sort { a, b in
            let la = tokens[Int(a)].count, lb = tokens[Int(b)].count
            return la != lb ? la > lb : a < b
        }
        return ids
    }

    static func makeStopIds(_ v: Vocabulary, _ lookup: [[UInt8]: Int32]) -> Set<Int32> {
        var ids = Set(v.extraStopIds)
        if let eos = v.eosId { ids.insert(eos) }
        for name in Vocabulary.endOfGenerationNames.union(["</s>"]) {
            if let id = lookup[Array(name.utf8)] { ids.insert(id) }
        }
        return ids
    }
}
