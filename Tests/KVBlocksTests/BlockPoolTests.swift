import KVBlocks
import Testing

@Suite struct BlockPoolTests {
    @Test func allocateTouchFreeTrackReferenceCounts() {
        var pool = BlockPool(numBlocks: 8, blockSize: 4)
        let blocks = pool.allocate(count: 3)!
        #expect(Set(blocks).count == 3)
        #expect(blocks.allSatisfy { pool.refCount(of: $0) == 1 })
        #expect(pool.numFreeBlocks == 5)
        pool.touch([blocks[1]])
        #expect(pool.refCount(of: blocks[1]) == 2)
        pool.free(blocks)
        #expect(pool.refCount(of: blocks[0]) == 0)
        #expect(pool.refCount(of: blocks[1]) == 1)
        #expect(pool.numFreeBlocks == 7)
        #expect(abs(pool.usage - 1.0 / 8.0) < 1e-12)
    }

    @Test func allocationBeyondFreeBlocksChangesNothing() {
        var pool = BlockPool(numBlocks: 4, blockSize: 2)
        let held = pool.allocate(count: 3)!
        do { let ok = pool.allocate(count: 2) == nil; #expect(ok) }
        #expect(pool.numFreeBlocks == 1)
        do { let ok = pool.allocate(count: 1) != nil; #expect(ok) }
        #expect(held.count == 3)
    }

    @Test func cachedBlocksAreEvictedLeastRecentlyFreedFirst() {
        var pool = BlockPool(numBlocks: 4, blockSize: 2)
        let blocks = pool.allocate(count: 4)!
        var hashes: [BlockHash] = []
        for (i, b) in blocks.enumerated() {
            let tokens: ArraySlice<Int32> = [Int32(i), Int32(i)]
            let h = BlockHash(parent: .root, tokens: tokens)
            do { let ok = pool.cache(block: b, hash: h, parent: .root, tokens: tokens); #expect(ok) }
            hashes.append(h)
        }
        let freeOrder = [blocks[2], blocks[0], blocks[3], blocks[1]]
        for b in freeOrder { pool.free([b]) }
        #expect(pool.evictionOrder == freeOrder)
        // Still cached while free: a lookup finds it.
        #expect(pool.lookup(hashes[2], parent: .root, tokens: [2, 2]) == blocks[2])
        let reused = pool.allocate(count: 1)!
        #expect(reused == [blocks[2]])
        #expect(pool.lookup(hashes[2], parent: .root, tokens: [2, 2]) == nil)
        #expect(pool.cachedHash(of: blocks[2]) == nil)
        #expect(pool.lookup(hashes[0], parent: .root, tokens: [0, 0]) == blocks[0])
        #expect(pool.numCachedBlocks == 3)
    }

    @Test func uncachedFreeBlocksAreReusedBeforeAnyCachedBlockIsEvicted() {
        var pool = BlockPool(numBlocks: 4, blockSize: 2)
        let blocks = pool.allocate(count: 4)!
        let tokens: ArraySlice<Int32> = [7, 8]
        let h = BlockHash(parent: .root, tokens: tokens)
        pool.cache(block: blocks[0], hash: h, parent: .root, tokens: tokens)
        pool.free(blocks)  // cached block 0 freed first, then three uncached ones
        let three = pool.allocate(count: 3)!
        #expect(!three.contains(blocks[0]))
        #expect(pool.lookup(h, parent: .root, tokens: tokens) == blocks[0])
        do { let ok = pool.allocate(count: 1) == [blocks[0]]; #expect(ok) }
        #expect(pool.lookup(h, parent: .root, tokens: tokens) == nil)
    }

    @Test func revivingAFreeCachedBlockTakesItOutOfTheFreeQueue() {
        var pool = BlockPool(numBlocks: 3, blockSize: 2)
        let b = pool.allocate(count: 1)![0]
        let tokens: ArraySlice<Int32> = [1, 2]
        let h = BlockHash(parent: .root, tokens: tokens)
        pool.cache(block: b, hash: h, parent: .root, tokens: tokens)
        pool.free([b])
        #expect(pool.evictionOrder.contains(b))
        pool.touch([b])
        #expect(!pool.evictionOrder.contains(b))
        #expect(pool.refCount(of: b) == 1)
        #expect(pool.numFreeBlocks == 2)
        let others = pool.allocate(count: 2)!
        #expect(!others.contains(b))
    }

    @Test func hashesChainThroughTheParent() {
        let block: ArraySlice<Int32> = [1, 2, 3, 4]
        let parentA = BlockHash(parent: .root, tokens: [9, 9, 9, 9])
        let parentB = BlockHash(parent: .root, tokens: [9, 9, 9, 8])
        #expect(BlockHash(parent: parentA, tokens: block) != BlockHash(parent: parentB, tokens: block))
        #expect(BlockHash(parent: .root, tokens: block) != BlockHash(parent: parentA, tokens: block))
        #expect(BlockHash(parent: parentA, tokens: block) == BlockHash(parent: parentA, tokens: [1, 2, 3, 4]))
        #expect(BlockHash(parent: .root, tokens: [1, 2]) != BlockHash(parent: .root, tokens: [2, 1]))
        #expect(BlockHash(parent: .root, tokens: [0]) != BlockHash(parent: .root, tokens: [0, 0]))
    }

    @Test func lookupComparesContentsNotOnlyTheHash() {
        var pool = BlockPool(numBlocks: 2, blockSize: 2)
        let b = pool.allocate(count: 1)![0]
        let h = BlockHash(parent: .root, tokens: [5, 6])
        pool.cache(block: b, hash: h, parent: .root, tokens: [5, 6])
        #expect(pool.lookup(h, parent: .root, tokens: [5, 6]) == b)
        // Same hash value claimed for other tokens or another parent (a forced collision): no hit.
        #expect(pool.lookup(h, parent: .root, tokens: [5, 7]) == nil)
        #expect(pool.lookup(h, parent: h, tokens: [5, 6]) == nil)
    }

    @Test func cachingOffNeverHits() {
        var pool = BlockPool(numBlocks: 2, blockSize: 2, enableCaching: false)
        let b = pool.allocate(count: 1)![0]
        let h = BlockHash(parent: .root, tokens: [5, 6])
        do { let ok = !pool.cache(block: b, hash: h, parent: .root, tokens: [5, 6]); #expect(ok) }
        #expect(pool.lookup(h, parent: .root, tokens: [5, 6]) == nil)
    }
}
