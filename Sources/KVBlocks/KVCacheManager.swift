/// The full blocks of a token sequence that are already in the prefix cache (vLLM's `get_computed_blocks`).
public struct CachedPrefix: Sendable, Equatable {
    /// Cached block ids, in sequence order; block i holds tokens `i*blockSize ..< (i+1)*blockSize`.
    public var blocks: [Int32]
    /// Chained hashes of those blocks (kept so they are not recomputed).
    public var hashes: [BlockHash]
    /// Tokens covered: `blocks.count * blockSize`, always block aligned and < the sequence length.
    public var numTokens: Int { blocks.count * blockSize }
    /// Tokens the lookup was made for (for the hit-rate counters); 0 when caching is off.
    public var numQueriedTokens: Int
    let blockSize: Int

    public static func none(blockSize: Int) -> CachedPrefix {
        CachedPrefix(blocks: [], hashes: [], numQueriedTokens: 0, blockSize: blockSize)
    }
}

/// Per-request block tables over one `BlockPool` (vLLM's `KVCacheManager`): prefix lookup, slot
/// allocation all-or-nothing, registration of blocks that became full, and freeing. Keys are request ids.
public struct KVCacheManager: Sendable {
    private struct RequestBlocks: Sendable {
        var blocks: [Int32]  // [ceil(tokens in KV / blockSize)] the block table
        var hashes: [BlockHash]  // chained hashes of the leading full, computed blocks
    }

    public private(set) var pool: BlockPool
    private var tables: [UInt64: RequestBlocks] = [:]
    /// Prompt (+ resumed output) tokens looked up in the prefix cache at admission, cumulative.
    public private(set) var prefixCacheQueries = 0
    /// Of those, tokens found in the cache (block aligned), cumulative. Both counters are in TOKENS.
    public private(set) var prefixCacheHits = 0

    public init(numBlocks: Int, blockSize: Int, enablePrefixCaching: Bool = true) {
        pool = BlockPool(numBlocks: numBlocks, blockSize: blockSize, enableCaching: enablePrefixCaching)
    }

    public var blockSize: Int { pool.blockSize }
    public var numTotalBlocks: Int { pool.numBlocks }
    public var numFreeBlocks: Int { pool.numFreeBlocks }
    public var usage: Double { pool.usage }
    public var enablePrefixCaching: Bool { pool.enableCaching }

    /// The request's block table (empty when it holds no blocks).
    public func blockTable(for id: UInt64) -> [Int32] { tables[id]?.blocks ?? [] }
    public func holdsBlocks(_ id: UInt64) -> Bool { tables[id] != nil }
    /// Blocks needed to hold `numTokens` token positions.
    public func blocksNeeded(forTokens numTokens: Int) -> Int { (numTokens + blockSize - 1) / blockSize }

    /// Every leading full block of `tokens` found in the cache. At most `tokens.count - 1` tokens are
    /// considered, so when the whole sequence is cached its last block is dropped and at least one token
    /// is left to compute (the model must produce logits). Pure lookup: changes no counts.
    public func computedPrefix(for tokens: [Int32]) -> CachedPrefix {
        guard pool.enableCaching, !tokens.isEmpty else { return .none(blockSize: blockSize) }
        var prefix = CachedPrefix(blocks: [], hashes: [], numQueriedTokens: tokens.count, blockSize: blockSize)
        let maxBlocks = (tokens.count - 1) / blockSize
        var parent = BlockHash.root
        for i in 0..<maxBlocks {
            let slice = tokens[i * blockSize..<(i + 1) * blockSize]
            let hash = BlockHash(parent: parent, tokens: slice)
            guard let block = pool.lookup(hash, parent: parent, tokens: slice) else { break }
            prefix.blocks.append(block)
            prefix.hashes.append(hash)
            parent = hash
        }
        return prefix
    }

    /// Makes the request's block table cover `numTokens` token positions (the tokens that will be in KV
    /// after this step). For a request holding no blocks, `prefix` (from `computedPrefix`) becomes the start
    /// of its table and the hit counters are updated. Returns false — allocating nothing — when the pool
    /// cannot supply the blocks even after evicting every unreferenced cached block.
    public mutating func allocateSlots(for id: UInt64, numTokens: Int, prefix: CachedPrefix? = nil) -> Bool {
        let existing = tables[id]
        precondition(existing == nil || prefix == nil, "a prefix can only start a new block table")
        let prefixBlocks = prefix?.blocks ?? []
        let have = (existing?.blocks.count ?? 0) + prefixBlocks.count
        let need = blocksNeeded(forTokens: numTokens) - have
        if need <= 0 && prefix == nil && existing != nil { return true }  // decode fast path
        let revived = prefixBlocks.reduce(0) { $0 + (pool.refCount(of: $1) == 0 ? 1 : 0) }
        guard max(need, 0) <= pool.numFreeBlocks - revived else { return false }

        var entry = existing ?? RequestBlocks(blocks: [], hashes: [])
        tables[id] = nil  // keep `entry` uniquely referenced while appending
        if let prefix {
            pool.touch(prefix.blocks)
            entry.blocks = prefix.blocks
            entry.hashes = prefix.hashes
            prefixCacheQueries += prefix.numQueriedTokens
            prefixCacheHits += prefix.numTokens
        }
        if need > 0 { entry.blocks.append(contentsOf: pool.allocate(count: need)!) }
        tables[id] = entry
        return true
    }

    /// Registers in the prefix cache every block of the request that is full and whose tokens are all
    /// computed (`numComputed` = tokens now in KV; `tokens` = the request's tokens, at least that many).
    public mutating func cacheFullBlocks(for id: UInt64, tokens: [Int32], numComputed: Int) {
        guard pool.enableCaching, var entry = tables[id] else { return }
        let numFull = min(numComputed / blockSize, entry.blocks.count)
        guard entry.hashes.count < numFull else { return }
        tables[id] = nil
        for i in entry.hashes.count..<numFull {
            let parent = i == 0 ? BlockHash.root : entry.hashes[i - 1]
            let slice = tokens[i * blockSize..<(i + 1) * blockSize]
            let hash = BlockHash(parent: parent, tokens: slice)
            pool.cache(block: entry.blocks[i], hash: hash, parent: parent, tokens: slice)
            entry.hashes.append(hash)
        }
        tables[id] = entry
    }

    /// Releases the request's blocks, last block first, so that its tail blocks are evicted before its
    /// head blocks (the head is the most shareable prefix).
    public mutating func free(_ id: UInt64) {
        guard let entry = tables.removeValue(forKey: id) else { return }
        pool.free(entry.blocks.reversed())
    }
}
