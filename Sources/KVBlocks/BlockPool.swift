/// A fixed set of KV blocks (ids `0..<numBlocks`, each holding `blockSize` token positions of the model's
/// paged KV storage), with reference counts, an eviction-ordered free queue and the prefix-cache index.
///
/// Free queue order (head is reused first):
/// - blocks that hold no cached content go to the HEAD when freed: reusing them loses nothing;
/// - cached (full, hashed) blocks go to the TAIL when freed, so among cached blocks the least recently
///   freed is evicted first (LRU). A cached block stays revivable (`touch`) until an allocation reaches it,
///   which is the only moment its hash entry is dropped — eviction happens only when needed.
public struct BlockPool: Sendable {
    public let numBlocks: Int
    public let blockSize: Int
    public let enableCaching: Bool

    private var refCounts: [Int32]  // [numBlocks]
    private var freeQueue: FreeBlockQueue
    private var isCached: [Bool]  // [numBlocks]
    private var hashes: [UInt64]  // [numBlocks], valid where isCached
    private var parents: [UInt64]  // [numBlocks], valid where isCached
    private var contents: [Int32]  // [numBlocks * blockSize], valid where isCached
    private var index: [UInt64: Int32] = [:]  // block hash -> cached block id

    public init(numBlocks: Int, blockSize: Int, enableCaching: Bool = true) {
        precondition(numBlocks > 0 && blockSize > 0, "BlockPool needs numBlocks > 0 and blockSize > 0")
        precondition(numBlocks <= Int(Int32.max), "block ids are Int32")
        self.numBlocks = numBlocks
        self.blockSize = blockSize
        self.enableCaching = enableCaching
        refCounts = [Int32](repeating: 0, count: numBlocks)
        freeQueue = FreeBlockQueue(numBlocks: numBlocks)
        isCached = [Bool](repeating: false, count: numBlocks)
        hashes = [UInt64](repeating: 0, count: numBlocks)
        parents = [UInt64](repeating: 0, count: numBlocks)
        contents = [Int32](repeating: 0, count: enableCaching ? numBlocks * blockSize : 0)
    }

    // MARK: - Inspection

    /// Blocks with reference count 0 (including cached blocks that can still be revived).
    public var numFreeBlocks: Int { freeQueue.count }
    /// Fraction of blocks referenced by some request, 0...1.
    public var usage: Double { Double(numBlocks - freeQueue.count) / Double(numBlocks) }
    /// Blocks currently registered in the prefix cache (referenced or not).
    public var numCachedBlocks: Int { index.count }
    public func refCount(of block: Int32) -> Int { Int(refCounts[Int(block)]) }
    public func cachedHash(of block: Int32) -> BlockHash? {
        isCached[Int(block)] ? BlockHash(value: hashes[Int(block)]) : nil
    }
    /// The free queue from the block reused first to the block reused last.
    public var evictionOrder: [Int32] { freeQueue.inOrder }

    // MARK: - Allocation

    /// Takes `count` blocks from the head of the free queue (evicting their cached content, if any) with
    /// reference count 1. Returns nil and changes nothing when fewer than `count` blocks are free.
    public mutating func allocate(count: Int) -> [Int32]? {
        guard count <= freeQueue.count else { return nil }
        var blocks: [Int32] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let block = freeQueue.popFront()!
            uncache(block)
            refCounts[Int(block)] = 1
            blocks.append(block)
        }
        return blocks
    }

    /// Adds a reference to each block (prefix-cache hits); a free block leaves the free queue.
    public mutating func touch(_ blocks: some Sequence<Int32>) {
        for block in blocks {
            if refCounts[Int(block)] == 0 { freeQueue.remove(block) }
            refCounts[Int(block)] += 1
        }
    }

    /// Drops one reference from each block, in the given order; blocks reaching 0 join the free queue
    /// (cached ones at the tail, others at the head — see the type's documentation).
    public mutating func free(_ blocks: some Sequence<Int32>) {
        for block in blocks {
            let b = Int(block)
            precondition(refCounts[b] > 0, "freeing block \(block) whose reference count is 0")
            refCounts[b] -= 1
            guard refCounts[b] == 0 else { continue }
            if isCached[b] { freeQueue.pushBack(block) } else { freeQueue.pushFront(block) }
        }
    }

    // MARK: - Prefix cache

    /// The cached block holding exactly `tokens` after the block hashed `parent`, if any (it may be free).
    public func lookup(_ hash: BlockHash, parent: BlockHash, tokens: ArraySlice<Int32>) -> Int32? {
        guard enableCaching, let block = index[hash.value] else { return nil }
        let b = Int(block)
        guard parents[b] == parent.value, tokens.count == blockSize,
            contents[b * blockSize..<(b + 1) * blockSize].elementsEqual(tokens)
        else { return nil }
        return block
    }

    /// Registers a full, computed, referenced block under `hash`. Returns false (and leaves the block
    /// uncached) when caching is off, the block is already cached, or another block holds this hash.
    @discardableResult
    public mutating func cache(block: Int32, hash: BlockHash, parent: BlockHash, tokens: ArraySlice<Int32>) -> Bool {
        let b = Int(block)
        precondition(tokens.count == blockSize, "only full blocks can be cached")
        precondition(refCounts[b] > 0, "caching block \(block) that nobody references")
        guard enableCaching, !isCached[b], index[hash.value] == nil else { return false }
        index[hash.value] = block
        isCached[b] = true
        hashes[b] = hash.value
        parents[b] = parent.value
        contents.replaceSubrange(b * blockSize..<(b + 1) * blockSize, with: tokens)
        return true
    }

    private mutating func uncache(_ block: Int32) {
        let b = Int(block)
        guard isCached[b] else { return }
        index[hashes[b]] = nil
        isCached[b] = false
    }
}
