/// Byte-level BPE over one pre-tokenized word (llama.cpp's `llm_tokenizer_bpe_session`): symbols start as
/// one token per byte, the lowest-ranked adjacent merge is applied first (ties: leftmost), until none applies.
/// Buffers live here and are reused for every word; results are cached per distinct word.
struct ByteLevelMerger {
    private var ids: [Int32] = []     // [nSymbols] token id, -1 once merged into its left neighbour
    private var prev: [Int32] = []    // [nSymbols]
    private var next: [Int32] = []    // [nSymbols] -1 at the end
    private var heap = BigramHeap()
    private var cache: [[UInt8]: [Int32]] = [:]

    mutating func encodeWord(_ word: UnsafeBufferPointer<UInt8>, tokenizer: Tokenizer, into out: inout [Int32]) {
        let n = word.count
        if n == 0 { return }
        if n == 1 { appendValid(tokenizer.byteTokens[Int(word[0])], to: &out); return }
        let key = Array(word)
        if let hit = cache[key] { out.append(contentsOf: hit); return }
        let start = out.count
        if tokenizer.vocabulary.ignoreMerges, let whole = wholeWordToken(word, tokenizer) {
            out.append(whole)
        } else {
            merge(word, tokenizer: tokenizer)
            var i: Int32 = 0
            while i != -1 { appendValid(ids[Int(i)], to: &out); i = next[Int(i)] }
        }
        if cache.count < 1 << 16 { cache[key] = Array(out[start...]) }
    }

    private mutating func merge(_ word: UnsafeBufferPointer<UInt8>, tokenizer: Tokenizer) {
        let n = word.count
        ids.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        for i in 0..<n {
            ids.append(tokenizer.byteTokens[Int(word[i])])
            prev.append(Int32(i - 1))
            next.append(i == n - 1 ? -1 : Int32(i + 1))
        }
        heap.removeAll()
        for i in 1..<n { addPair(Int32(i - 1), Int32(i), tokenizer.mergeTable) }
        while !heap.isEmpty {
            let b = heap.pop()
            let l = Int(b.left), r = Int(b.right)
            // stale: one side was merged away or changed since this pair was queued
            guard ids[l] == b.check0, ids[r] == b.check1, next[l] == b.right else { continue }
            ids[l] = b.result
            ids[r] = -1
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = b.left }
            addPair(prev[l], b.left, tokenizer.mergeTable)
            addPair(b.left, next[l], tokenizer.mergeTable)
        }
    }

    /// Bytes without a token (not in a GPT-2 vocabulary) are dropped, as llama.cpp does.
    @inline(__always)
    private func appendValid(_ id: Int32, to out: inout [Int32]) { if id >= 0 { out.append(id) } }

    @inline(__always)
    private mutating func addPair(_ left: Int32, _ right: Int32, _ table: [UInt64: UInt64]) {
        guard left >= 0, right >= 0 else { return }
        let a = ids[Int(left)], b = ids[Int(right)]
        guard a >= 0, b >= 0 else { return }
        guard let entry = table[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))] else { return }
        heap.push(Bigram(cost: Float(entry >> 32), left: left, right: right, check0: a, check1: b,
                         result: Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)))
    }

    /// The word's GPT-2-mapped text as one token, if the vocabulary has it (llama.cpp `ignore_merges`).
    private func wholeWordToken(_ word: UnsafeBufferPointer<UInt8>, _ tokenizer: Tokenizer) -> Int32? {
        var mapped: [UInt8] = []
        mapped.reserveCapacity(word.count * 2)
        for b in word {
            let u = Tokenizer.byteToUnicode[Int(b)]
            if u < 0x80 { mapped.append(UInt8(u)) } else { mapped.append(UInt8(0xC0 | (u >> 6))); mapped.append(UInt8(0x80 | (u & 0x3F))) }
        }
        return tokenizer.tokenToId[mapped]
    }
}
