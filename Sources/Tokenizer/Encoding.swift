/// A piece of input after special-token partitioning: raw text (a byte range) or an already known token.
enum Fragment: Equatable {
    case text(Range<Int>)
    case token(Int32)
}

extension Tokenizer {
    /// Text -> token ids. `addSpecial` adds BOS/EOS as the model's flags say; `parseSpecial` recognises
    /// control tokens written in the text (user-defined tokens are always recognised, as in llama.cpp).
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [Int32] {
        let bytes = Array(text.utf8)
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        if addSpecial && addBOS, let bos = bosId { out.append(bos) }
        let fragments = partition(bytes, parseSpecial: parseSpecial)
        bytes.withUnsafeBufferPointer { buffer in
            switch kind {
            case .byteLevelBPE: encodeByteLevel(buffer, fragments, into: &out)
            case .sentencePiece, .llama2c: encodeScored(buffer, fragments, into: &out)
            }
        }
        if addSpecial && addEOS, let eos = eosId { out.append(eos) }
        return out
    }

    /// Splits out special tokens, longest first, each over all remaining text (llama.cpp's `tokenizer_st_partition`).
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        for id in specialTokens {
            let type = types[Int(id)]
            if !parseSpecial && (type == .control || type == .unknown) { continue }
            let needle = vocabulary.tokens[Int(id)]
            guard !needle.isEmpty else { continue }
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count)
            for fragment in fragments {
                guard case .text(let range) = fragment else { next.append(fragment); continue }
                var start = range.lowerBound
                while let match = Self.find(needle, in: bytes, from: start, to: range.upperBound) {
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(id))
                    start = match + needle.count
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to end: Int) -> Int? {
        let first = needle[0], n = needle.count
        guard end - from >= n else { return nil }
        var i = from
        while i <= end - n {
            if haystack[i] == first {
                var j = 1
                while j < n && haystack[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// SentencePiece / llama2.c: each text fragment gets the dummy-prefix space at the start or after a special token.
    private func encodeScored(_ bytes: UnsafeBufferPointer<UInt8>, _ fragments: [Fragment], into out: inout [Int32]) {
        var merger = ScoredMerger()
        var previousWasSpecial = true
        for fragment in fragments {
            switch fragment {
            case .token(let id):
                out.append(id)
                previousWasSpecial = true
            case .text(let range):
                let prefix = vocabulary.addSpacePrefix && previousWasSpecial
                let text = UnsafeBufferPointer(rebasing: bytes[range])
                if kind == .llama2c {
                    merger.encodeLlama2c(text, prefix: prefix, tokenizer: self, into: &out)
                } else {
                    merger.encodeSentencePiece(text, prefix: prefix, tokenizer: self, into: &out)
                }
                previousWasSpecial = false
            }
        }
    }

    private func encodeByteLevel(_ bytes: UnsafeBufferPointer<UInt8>, _ fragments: [Fragment], into out: inout [Int32]) {
        var scanner = PreTokenizerScanner()
        var merger = ByteLevelMerger()
        for fragment in fragments {
            switch fragment {
            case .token(let id):
                out.append(id)
            case .text(let range):
                let text = UnsafeBufferPointer(rebasing: bytes[range])
                scanner.split(text, rules: vocabulary.preTokenizer)
                var start = 0
                for end in scanner.ends {
                    let lo = Int(scanner.byteStart[start]), hi = Int(scanner.byteStart[Int(end)])
                    merger.encodeWord(UnsafeBufferPointer(rebasing: text[lo..<hi]), tokenizer: self, into: &out)
                    start = Int(end)
                }
            }
        }
    }
}
