/// Doubly linked list of block ids threaded through two arrays, so that a block can be taken out of the
/// middle in O(1) (a prefix-cache hit revives a free cached block) — vLLM's `FreeKVCacheBlockQueue`.
/// The head is evicted (reused) first.
struct FreeBlockQueue: Sendable {
    private static let none: Int32 = -1
    private var prev: [Int32]  // [numBlocks], -1 at the head or when not queued
    private var next: [Int32]  // [numBlocks], -1 at the tail or when not queued
    private var queued: [Bool]  // [numBlocks]
    private(set) var head: Int32 = FreeBlockQueue.none
    private(set) var tail: Int32 = FreeBlockQueue.none
    private(set) var count = 0

    /// All blocks queued in id order: 0 is evicted first.
    init(numBlocks: Int) {
        prev = [Int32](repeating: Self.none, count: numBlocks)
        next = [Int32](repeating: Self.none, count: numBlocks)
        queued = [Bool](repeating: false, count: numBlocks)
        for block in 0..<Int32(numBlocks) { pushBack(block) }
    }

    func contains(_ block: Int32) -> Bool { queued[Int(block)] }

    mutating func pushBack(_ block: Int32) {
        let b = Int(block)
        precondition(!queued[b], "block \(block) is already in the free queue")
        queued[b] = true
        prev[b] = tail
        next[b] = Self.none
        if tail >= 0 { next[Int(tail)] = block } else { head = block }
        tail = block
        count += 1
    }

    mutating func pushFront(_ block: Int32) {
        let b = Int(block)
        precondition(!queued[b], "block \(block) is already in the free queue")
        queued[b] = true
        next[b] = head
        prev[b] = Self.none
        if head >= 0 { prev[Int(head)] = block } else { tail = block }
        head = block
        count += 1
    }

    mutating func remove(_ block: Int32) {
        let b = Int(block)
        precondition(queued[b], "block \(block) is not in the free queue")
        let p = prev[b], n = next[b]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { prev[Int(n)] = p } else { tail = p }
        prev[b] = Self.none
        next[b] = Self.none
        queued[b] = false
        count -= 1
    }

    mutating func popFront() -> Int32? {
        guard head >= 0 else { return nil }
        let block = head
        remove(block)
        return block
    }

    /// Queue contents from head (evicted first) to tail.
    var inOrder: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        var b = head
        while b >= 0 {
            out.append(b)
            b = next[Int(b)]
        }
        return out
    }
}
