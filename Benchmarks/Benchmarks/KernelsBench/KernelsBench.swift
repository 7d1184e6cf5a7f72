import BenchSupport
import Benchmark
import Tensor

// Tensor kernels at SmolLM2-135M's shapes: the projections over quantized weights (WeightMatrix.linear, every format,
// rows 1/4/8/32/512, both precisions),
// paged attention over shuffled KV blocks, and dequantization of the GGUF block formats.

/// SmolLM2-135M: dim 576, 9 query heads and 3 KV heads of 64, FFN 1536, vocabulary 49152.
enum Smol {
    static let dim = 576, hidden = 1536, vocab = 49152
    static let attention = AttentionShape(nHeads: 9, nKVHeads: 3, headDim: 64)
    static var kvDim: Int { attention.nKVHeads * attention.headDim }
    /// (name, in, out) of each projection; wqkv and w13 are fused as the model runs them.
    static let projections: [(String, Int, Int)] = [
        ("qkv 576→960", dim, dim + 2 * 192), ("o 576→576", dim, dim),
        ("gate_up 576→3072", dim, 2 * hidden), ("down 1536→576", hidden, dim), ("lm_head 576→49152", dim, vocab),
    ]
}

/// Float buffers filled with deterministic values in [-1, 1), freed with the owner.
final class Floats: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int, seed: UInt64) {
        self.count = count
        p = .allocate(capacity: count)
        var rng = SplitMix64(seed: seed)
        for i in 0..<count { p[i] = Float.random(in: -1..<1, using: &rng) }
    }
    deinit { p.deallocate() }
}

/// Inputs of one projection: X [m, in], W [out, in], Y [m, out].
struct LinearCase: @unchecked Sendable {
    let m: Int, inF: Int, outF: Int
    let x: Floats, w: Floats, y: Floats
    init(m: Int, inF: Int, outF: Int) {
        self.m = m; self.inF = inF; self.outF = outF
        x = Floats(m * inF, seed: 1); w = Floats(outF * inF, seed: 2); y = Floats(m * outF, seed: 3)
    }
}

/// A projection's weights in one format (random valid blocks), its input and output.
struct QuantCase: @unchecked Sendable {
    let m: Int
    let w: WeightMatrix
    let x: Floats, y: Floats
    init(format: GGMLType, m: Int, inF: Int, outF: Int) {
        self.m = m
        var rng = SplitMix64(seed: 21)
        var bytes = (0..<(outF * format.rowBytes(inF))).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // finite scales: f16 0x2000 (≈ 0.0078) in each block's scale (and minimum) fields
        if format.blockSize == 32 {
            let fields = format == .q4_1 ? 2 : 1
            for b in 0..<(bytes.count / format.bytesPerBlock) {
                for f in 0..<fields { bytes[b * format.bytesPerBlock + 2 * f] = 0; bytes[b * format.bytesPerBlock + 2 * f + 1] = 0x20 }
            }
        } else if format != .f32 {
            for i in stride(from: 1, to: bytes.count, by: 2) { bytes[i] &= 0x3B }   // no NaN/Inf halves
        } else {
            for i in stride(from: 3, to: bytes.count, by: 4) { bytes[i] = 0x3C }
        }
        w = bytes.withUnsafeBytes { WeightMatrix(format: format, rows: outF, cols: inF, copying: $0.baseAddress!) }
        x = Floats(m * inF, seed: 1); y = Floats(m * outF, seed: 3)
    }
}

/// `WeightMatrix.linear` per format × rows at SmolLM2's projections, in each precision: weight bytes streamed per
/// second (GB/s, the decode roof is the machine's read bandwidth) and multiply-adds ×2 per second (GOP/s).
func registerLinear() {
    let formats: [GGMLType] = [.q4_0, .q4_1, .q8_0, .f16, .bf16, .f32]
    for (name, inF, outF) in Smol.projections where name.hasPrefix("gate_up") || name.hasPrefix("lm_head") || name.hasPrefix("down") {
        for format in formats {
            for m in [1, 4, 8, 32, 512] {
                for precision in Precision.allCases where precision == .exact || [.q4_0, .q4_1, .q8_0].contains(format) {
                    let ops = 2.0 * Double(m * inF * outF), bytes = Double(outF * format.rowBytes(inF))
                    Benchmark("linear \(format) \(name) M=\(m) \(precision)",
                              configuration: .init(metrics: [.wallClock, .gops, .gigabytesPerSecond])) { benchmark, c in
                        let t0 = ContinuousClock.now
                        c.w.linear(c.x.p, rows: c.m, into: c.y.p, precision: precision)
                        let s = (ContinuousClock.now - t0) / .seconds(1)
                        benchmark.measurement(.gops, Int(ops / s / 1e9))
                        benchmark.measurement(.gigabytesPerSecond, Int(bytes / s / 1e9))
                    } setup: {
                        QuantCase(format: format, m: m, inF: inF, outF: outF)
                    }
                }
            }
        }
    }
}

/// One layer's KV for a 512-token context in 32 blocks of 16, shuffled across a pool of 64.
struct AttentionCase: @unchecked Sendable {
    static let blockSize = 16, context = 512, poolBlocks = 64
    let k: Floats, v: Floats
    let table: [Int32]   // [context / blockSize]
    let q: Floats        // [128, nHeads·headDim]
    let out: Floats      // [128, nHeads·headDim]
    let kc: Floats, vc: Floats   // [context, headDim]
    let scratch: Floats  // [group · tileRows, context]
    let qo: Floats       // [2, group · tileRows, headDim]
    var kv: PagedLayerKV {
        PagedLayerKV(k: k.p, v: v.p, blockSize: Self.blockSize, nKVHeads: Smol.attention.nKVHeads,
                     headDim: Smol.attention.headDim)
    }

    init() {
        let slots = Self.poolBlocks * Self.blockSize * Smol.kvDim, rowDim = Smol.dim, hd = Smol.attention.headDim
        k = Floats(slots, seed: 4); v = Floats(slots, seed: 5)
        var rng = SplitMix64(seed: 6)
        table = Array((0..<Int32(Self.poolBlocks)).shuffled(using: &rng).prefix(Self.context / Self.blockSize))
        q = Floats(128 * rowDim, seed: 7); out = Floats(128 * rowDim, seed: 8)
        kc = Floats(Self.context * hd, seed: 9); vc = Floats(Self.context * hd, seed: 10)
        let tile = Smol.attention.group * PagedAttention.tileRows
        scratch = Floats(tile * Self.context, seed: 11); qo = Floats(2 * tile * hd, seed: 20)
    }
}

func registerAttention() {
    let shape = Smol.attention, ctx = AttentionCase.context
    // FLOPs of QKᵀ and PV: 2·2·positions·headDim per query token and head.
    let tokenFlops = 4.0 * Double(ctx * shape.headDim * shape.nHeads)
    Benchmark("attention decode token, ctx 512, shuffled blocks", configuration: .init(metrics: [.wallClock, .gflops])) { benchmark, c in
        c.table.withUnsafeBufferPointer { table in
            benchmark.recordRate(.gflops, units: tokenFlops / 1e9) {
                PagedAttention.token(q: c.q.p, out: c.out.p, pos: ctx - 1, table: table.baseAddress!, kv: c.kv,
                                     shape: shape, scores: c.scratch.p)
            }
        }
    } setup: { AttentionCase() }

    let batchFlops = tokenFlops / 2 * Double(DecodeBatchCase.sequences)
    Benchmark("attention decode batch 32 × ctx 256, one layer, KV from DRAM",
              configuration: .init(metrics: [.wallClock, .gflops])) { benchmark, c in
        benchmark.recordRate(.gflops, units: batchFlops / 1e9) { c.step() }
    } setup: { DecodeBatchCase() }

    let count = 128, start = ctx - count
    let chunkFlops = 4.0 * Double(count * ctx * shape.headDim * shape.nHeads)   // SGEMM computes the full [count, ctx]
    Benchmark("attention chunk 128 queries, ctx 512, shuffled blocks",
              configuration: .init(metrics: [.wallClock, .gflops])) { benchmark, c in
        c.table.withUnsafeBufferPointer { table in
            benchmark.recordRate(.gflops, units: chunkFlops / 1e9) {
                PagedAttention.chunk(q: c.q.p, qStride: Smol.dim, out: c.out.p, outStride: Smol.dim, start: start,
                                     count: count, table: table.baseAddress!, kv: c.kv, shape: shape,
                                     kc: c.kc.p, vc: c.vc.p, s: c.scratch.p, qo: c.qo.p)
            }
        }
    } setup: { AttentionCase() }
}

/// A decode step's attention for one layer: 32 sequences of 256 positions (16 blocks each, shuffled), over a pool of
/// `layers` layers' KV (98 MB) visited in turn, so the KV comes from DRAM as it does in the engine.
final class DecodeBatchCase: @unchecked Sendable {
    static let blockSize = 16, context = 256, sequences = 32, layers = 8
    static let blocksPerLayer = sequences * context / blockSize
    let k: Floats, v: Floats              // [layers, blocksPerLayer, blockSize · kvDim]
    let tables: UnsafeMutablePointer<Int32>   // [sequences, context / blockSize]
    let q: Floats, out: Floats            // [sequences, nHeads · headDim]
    let scores: Floats                    // [2, context]
    var layer = 0

    init() {
        let perLayer = Self.blocksPerLayer * Self.blockSize * Smol.kvDim
        k = Floats(Self.layers * perLayer, seed: 14); v = Floats(Self.layers * perLayer, seed: 15)
        var rng = SplitMix64(seed: 16)
        let ids = (0..<Int32(Self.blocksPerLayer)).shuffled(using: &rng)
        tables = .allocate(capacity: ids.count)
        tables.initialize(from: ids, count: ids.count)
        q = Floats(Self.sequences * Smol.dim, seed: 17); out = Floats(Self.sequences * Smol.dim, seed: 18)
        scores = Floats(2 * Self.context, seed: 19)
    }
    deinit { tables.deallocate() }

    /// The next layer's attention for all sequences, in one parallel dispatch as the model runs it.
    func step() {
        let perLayer = Self.blocksPerLayer * Self.blockSize * Smol.kvDim, shape = Smol.attention
        let kv = PagedLayerKV(k: k.p + layer * perLayer, v: v.p + layer * perLayer, blockSize: Self.blockSize,
                              nKVHeads: shape.nKVHeads, headDim: shape.headDim)
        layer = (layer + 1) % Self.layers
        let nb = Self.context / Self.blockSize
        let queries = (0..<Self.sequences).map { s in
            TokenQuery(q: q.p + s * Smol.dim, out: out.p + s * Smol.dim, positions: Self.context,
                       table: tables + s * nb)
        }
        queries.withUnsafeBufferPointer {
            PagedAttention.tokens($0, kv: kv, shape: shape, workers: Kernels.cpuCount, scores: scores.p,
                                  scoresStride: Self.context)
        }
    }
}

/// One FFN matrix worth of quantized blocks (576 × 1536 elements) and its Float destination.
struct DequantCase: @unchecked Sendable {
    static let count = Smol.dim * Smol.hidden
    let src: [UInt8]
    let dst: Floats
    /// Random quants with a fixed finite f16 scale (and minimum, for Q4_1) in each block.
    init(blockBytes: Int, halves: [UInt16]) {
        var rng = SplitMix64(seed: 12)
        var bytes = (0..<(Self.count / 32 * blockBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for b in 0..<(Self.count / 32) {
            for (i, h) in halves.enumerated() {
                bytes[b * blockBytes + 2 * i] = UInt8(h & 0xFF)
                bytes[b * blockBytes + 2 * i + 1] = UInt8(h >> 8)
            }
        }
        src = bytes
        dst = Floats(Self.count, seed: 13)
    }
}

func registerDequant() {
    let n = DequantCase.count
    Benchmark("dequant Q4_1 576×1536", configuration: .init(metrics: [.wallClock, .elementsPerSecond])) { benchmark, c in
        c.src.withUnsafeBytes { src in
            benchmark.recordRate(.elementsPerSecond, units: Double(n)) {
                GGMLType.q4_1.dequantize(src.baseAddress!, count: n, into: c.dst.p)
            }
        }
    } setup: { DequantCase(blockBytes: 20, halves: [0x2C00, 0xAC00]) }   // d = 1/16, m = -1/16

    Benchmark("dequant Q8_0 576×1536", configuration: .init(metrics: [.wallClock, .elementsPerSecond])) { benchmark, c in
        c.src.withUnsafeBytes { src in
            benchmark.recordRate(.elementsPerSecond, units: Double(n)) {
                GGMLType.q8_0.dequantize(src.baseAddress!, count: n, into: c.dst.p)
            }
        }
    } setup: { DequantCase(blockBytes: 34, halves: [0x2000]) }   // d = 1/128
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], warmupIterations: 3, maxDuration: .seconds(1), maxIterations: 200)
    Benchmark.setup = { try BLAS.load() }
    registerLinear()
    registerAttention()
    registerDequant()
}
