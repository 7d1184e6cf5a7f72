import Glibc
public import Tensor

/// The floats of the paged KV cache: for every layer, K and V pools of `numBlocks` blocks of `blockSize` slots.
/// Sized by a memory budget, not by max context × max sequences. Block ids come from the scheduler's block pool.
public final class PagedKVStorage: @unchecked Sendable {
    public let numBlocks: Int
    public let blockSize: Int
    public let kvDim: Int
    public let nKVHeads: Int
    public let headDim: Int
    public let nLayers: Int
    /// [nLayers, 2 (K, V), numBlocks, blockSize · kvDim]; inside a block the per-head tile layout of `PagedLayerKV`.
    private let base: UnsafeMutablePointer<Float>
    private let byteCount: Int

    /// Bytes one block costs across all layers (K and V).
    public static func bytesPerBlock(config: ModelConfig, blockSize: Int) -> Int {
        config.kvBytesPerToken * blockSize
    }

    /// How many blocks fit in `memoryBytes`.
    public static func blocks(config: ModelConfig, blockSize: Int, memoryBytes: Int) -> Int {
        memoryBytes / bytesPerBlock(config: config, blockSize: blockSize)
    }

    public init(config: ModelConfig, blockSize: Int, numBlocks: Int) throws(ModelError) {
        guard blockSize > 0, numBlocks > 0 else {
            throw ModelError("KV cache needs at least one block (block size \(blockSize), blocks \(numBlocks))")
        }
        self.numBlocks = numBlocks; self.blockSize = blockSize
        self.kvDim = config.kvDim; self.nLayers = config.nLayers
        self.nKVHeads = config.nKVHeads; self.headDim = config.headDim
        byteCount = config.nLayers * 2 * numBlocks * blockSize * config.kvDim * 4
        // Anonymous mapping, populated up front: the budget is committed at start-up (as vLLM does), and no
        // request pays page faults on the hot path when its blocks are first written.
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw ModelError("cannot reserve \(byteCount) bytes for the KV cache")
        }
        base = p.bindMemory(to: Float.self, capacity: byteCount / 4)
    }

    deinit { munmap(base, byteCount) }

    /// The K/V pools of one layer.
    public func layer(_ l: Int) -> PagedLayerKV {
        let per = numBlocks * blockSize * kvDim
        return PagedLayerKV(k: base + (2 * l) * per, v: base + (2 * l + 1) * per, blockSize: blockSize,
                            nKVHeads: nKVHeads, headDim: headDim)
    }
}
