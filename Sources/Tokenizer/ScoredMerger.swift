/// Score-driven merging for SentencePiece (llama.cpp `llm_tokenizer_spm_session`) and llama2.c (`run.c` encode):
/// the adjacent pair whose concatenation is the highest-scoring token merges first (ties: leftmost).
struct ScoredMerger {
    private var text: [UInt8] = []    // [nBytes] escaped input (SPM)
    private var start: [Int32] = []   // [nSymbols] byte offset (SPM)
    private var size: [Int32] = []    // [nSymbols] byte length, 0 once merged (SPM)
    private var ids: [Int32] = []     // [nSymbols] token id, -1 once merged (llama2.c)
    private var prev: [Int32] = []    // [nSymbols]
    private var next: [Int32] = []    // [nSymbols] -1 at the end
    private var heap = BigramHeap()

    // MARK: SentencePiece

    mutating func encodeSentencePiece(_ input: UnsafeBufferPointer<UInt8>, prefix: Bool, tokenizer: Tokenizer,
                                      into out: inout [Int32]) {
        escape(input, prefix: prefix)
        splitCharacters()
        if start.isEmpty { return }
        heap.removeAll()
        for i in 1..<start.count { addTextPair(Int32(i - 1), Int32(i), tokenizer) }
        while !heap.isEmpty {
            let b = heap.pop()
            let l = Int(b.left), r = Int(b.right)
            guard size[l] != 0, size[r] != 0, size[l] + size[r] == b.check0 else { continue }
            size[l] += size[r]
            size[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = b.left }
            addTextPair(prev[l], b.left, tokenizer)
            addTextPair(b.left, next[l], tokenizer)
        }
        var i: Int32 = 0
        while i != -1 {
            resegment(Int(i), tokenizer, into: &out)
            i = next[Int(i)]
        }
    }

    /// Optional leading space, then ' ' -> '▁' (E2 96 81).
    private mutating func escape(_ input: UnsafeBufferPointer<UInt8>, prefix: Bool) {
        text.removeAll(keepingCapacity: true)
        if prefix { text.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for b in input {
            if b == 0x20 { text.append(contentsOf: [0xE2, 0x96, 0x81]) } else { text.append(b) }
        }
    }

    /// One symbol per UTF-8 character (length from the lead byte, as `unicode_len_utf8`).
    private mutating func splitCharacters() {
        start.removeAll(keepingCapacity: true)
        size.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < text.count {
            let lengths: [Int] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]
            let n = min(lengths[Int(text[offset] >> 4)], text.count - offset)
            prev.append(Int32(start.count - 1))
            start.append(Int32(offset))
            size.append(Int32(n))
            offset += n
            next.append(offset == text.count ? -1 : Int32(start.count))
        }
    }

    private mutating func addTextPair(_ left: Int32, _ right: Int32, _ tokenizer: Tokenizer) {
        guard left >= 0, right >= 0 else { return }
        let lo = Int(start[Int(left)]), n = Int(size[Int(left)] + size[Int(right)])
        let found = text.withUnsafeBufferPointer { tokenizer.tokenId(UnsafeBufferPointer(rebasing: $0[lo..<(lo + n)])) }
        guard let id = found else { return }
        let score = tokenizer.vocabulary.scores.isEmpty ? 0 : tokenizer.vocabulary.scores[Int(id)]
        heap.push(Bigram(cost: -score, left: left, right: right, check0: Int32(n), check1: 0))
    }

    /// A finished symbol: its token, or its bytes as `<0xNN>` tokens (unknown id if even those are missing).
    private func resegment(_ symbol: Int, _ tokenizer: Tokenizer, into out: inout [Int32]) {
        let lo = Int(start[symbol]), n = Int(size[symbol])
        let found = text.withUnsafeBufferPointer { tokenizer.tokenId(UnsafeBufferPointer(rebasing: $0[lo..<(lo + n)])) }
        if let id = found { out.append(id); return }
        for b in text[lo..<(lo + n)] {
            let id = tokenizer.byteTokens[Int(b)]
            if id >= 0 { out.append(id) } else if let unk = tokenizer.vocabulary.unknownId { out.append(unk) }
        }
    }

    // MARK: llama2.c

    /// run.c: a " " token first (if the text is not empty), each UTF-8 character as its token or as
    /// `byte + 3` tokens, then repeatedly merge the best-scoring adjacent pair of pieces.
    mutating func encodeLlama2c(_ input: UnsafeBufferPointer<UInt8>, prefix: Bool, tokenizer: Tokenizer,
                                into out: inout [Int32]) {
        ids.removeAll(keepingCapacity: true)
        if prefix && !input.isEmpty, let space = tokenizer.tokenToId[[0x20]] { ids.append(space) }
        var offset = 0
        while offset < input.count {
            var end = offset + 1
            while end < input.count && end - offset < 4 && input[end] & 0xC0 == 0x80 { end += 1 }
            if let id = tokenizer.tokenToId[Array(input[offset..<end])] {
                ids.append(id)
            } else {
                for b in input[offset..<end] { ids.append(Int32(b) + 3) }
            }
            offset = end
        }
        if ids.isEmpty { return }
        mergeLlama2c(tokenizer)
        var i: Int32 = 0
        while i != -1 { out.append(ids[Int(i)]); i = next[Int(i)] }
    }

    private mutating func mergeLlama2c(_ tokenizer: Tokenizer) {
        let n = ids.count
        prev = (0..<n).map { Int32($0 - 1) }
        next = (0..<n).map { $0 == n - 1 ? -1 : Int32($0 + 1) }
        heap.removeAll()
        for i in 1..<max(n, 1) { addIdPair(Int32(i - 1), Int32(i), tokenizer) }
        while !heap.isEmpty {
            let b = heap.pop()
            let l = Int(b.left), r = Int(b.right)
            guard ids[l] == b.check0, ids[r] == b.check1, next[l] == b.right else { continue }
            ids[l] = b.result
            ids[r] = -1
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = b.left }
            addIdPair(prev[l], b.left, tokenizer)
            addIdPair(b.left, next[l], tokenizer)
        }
    }

    private mutating func addIdPair(_ left: Int32, _ right: Int32, _ tokenizer: Tokenizer) {
        guard left >= 0, right >= 0 else { return }
        let a = ids[Int(left)], b = ids[Int(right)]
        guard a >= 0, b >= 0, Int(a) < tokenizer.vocabSize, Int(b) < tokenizer.vocabSize else { return }
        let joined = tokenizer.vocabulary.tokens[Int(a)] + tokenizer.vocabulary.tokens[Int(b)]
        guard let id = tokenizer.tokenToId[joined] else { return }
        let score = tokenizer.vocabulary.scores.isEmpty ? 0 : tokenizer.vocabulary.scores[Int(id)]
        heap.push(Bigram(cost: -score, left: left, right: right, check0: a, check1: b, result: id))
    }
}
