/// A candidate merge of two adjacent symbols. Lower `cost` wins; ties go to the leftmost pair
/// (llama.cpp's `llm_bigram_spm` / `llm_bigram_bpe` comparators). `check0`/`check1` let the merger
/// recognise entries made stale by earlier merges (SPM: byte size; BPE / llama2.c: the two symbol ids).
struct Bigram {
    var cost: Float
    var left: Int32
    var right: Int32
    var check0: Int32
    var check1: Int32
    /// The merged token (BPE, llama2.c); unused for SentencePiece.
    var result: Int32 = -1

    @inline(__always)
    static func precedes(_ a: Bigram, _ b: Bigram) -> Bool {
        a.cost < b.cost || (a.cost == b.cost && a.left < b.left)
    }
}

/// Binary min-heap of bigrams, reused across words to avoid per-word allocation.
struct BigramHeap {
    private(set) var items: [Bigram] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ bigram: Bigram) {
        items.append(bigram)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Bigram.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Bigram {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            siftDown()
        }
        return top
    }

    private mutating func siftDown() {
        let count = items.count
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= count { return }
            var best = left
            let right = left + 1
            if right < count && Bigram.precedes(items[right], items[left]) { best = right }
            guard Bigram.precedes(items[best], items[parent]) else { return }
            items.swapAt(best, parent)
            parent = best
        }
    }
}
