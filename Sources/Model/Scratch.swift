import Tensor

/// Buffers one forward pass works in, allocated once and grown only when a batch needs more.
/// A class so the pointers can be captured by the parallel kernels without copying.
final class Scratch: @unchecked Sendable {
    private(set) var tokens = 0, outRows = 0, context = 0
    var x = UnsafeMutablePointer<Float>.allocate(capacity: 1)        // [t, dim] residual stream
    var xn = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [t, dim] normed
    var qkv = UnsafeMutablePointer<Float>.allocate(capacity: 1)      // [t, qDim + 2·kvDim]
    var attn = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [t, qDim]
    var gateUp = UnsafeMutablePointer<Float>.allocate(capacity: 1)   // [t, 2·hidden]
    var hidden = UnsafeMutablePointer<Float>.allocate(capacity: 1)   // [t, hidden]
    var cos = UnsafeMutablePointer<Float>.allocate(capacity: 1)      // [t, headDim/2]
    var sin = UnsafeMutablePointer<Float>.allocate(capacity: 1)      // [t, headDim/2]
    var cosLocal = UnsafeMutablePointer<Float>.allocate(capacity: 1) // [t, headDim/2] sliding-window layers' RoPE
    var sinLocal = UnsafeMutablePointer<Float>.allocate(capacity: 1) // [t, headDim/2]
    var outNorm = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [outRows, dim]
    var logits = UnsafeMutablePointer<Float>.allocate(capacity: 1)   // [outRows, vocab]
    var scores = UnsafeMutablePointer<Float>.allocate(capacity: 1)   // [workers, scoresStride = group · context]
    var scoresStride = 0
    var kc = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [context, headDim]
    var vc = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [context, headDim]
    var chunkScores = UnsafeMutablePointer<Float>.allocate(capacity: 1) // [group · tileRows, context]
    var chunkQO = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [2, group · tileRows, headDim]
    private(set) var tables = UnsafeMutablePointer<Int32>.allocate(capacity: 1) // block tables of decode queries
    private var tableCapacity = 1

    func reserve(tokens t: Int, outRows r: Int, maxContext ctx: Int, config c: ModelConfig) {
        if t > tokens {
            let n = max(t, tokens * 2)
            grow(&x, n * c.dim); grow(&xn, n * c.dim); grow(&qkv, n * c.qkvDim); grow(&attn, n * c.qDim)
            grow(&gateUp, n * 2 * c.hiddenDim); grow(&hidden, n * c.hiddenDim)
            grow(&cos, n * c.headDim / 2); grow(&sin, n * c.headDim / 2)
            grow(&cosLocal, n * c.headDim / 2); grow(&sinLocal, n * c.headDim / 2)
            tokens = n
        }
        if r > outRows {
            let n = max(r, outRows * 2)
            grow(&outNorm, n * c.dim); grow(&logits, n * c.vocabSize)
            outRows = n
        }
        if ctx > context {
            let n = max(ctx, context * 2, 256)
            scoresStride = n * (c.nHeads / c.nKVHeads)
            grow(&scores, Kernels.cpuCount * scoresStride)
            // per pool worker (PagedAttention.chunk gives each its own region)
            let w = Kernels.cpuCount
            grow(&kc, w * n * c.headDim); grow(&vc, w * n * c.headDim)
            let tile = (c.nHeads / c.nKVHeads) * PagedAttention.tileRows
            grow(&chunkScores, w * tile * n)
            grow(&chunkQO, w * 2 * tile * c.headDim)
            context = n
        }
    }

    func reserveTables(_ n: Int) {
        if n > tableCapacity {
            tableCapacity = max(n, tableCapacity * 2)
            tables.deallocate()
            tables = .allocate(capacity: tableCapacity)
        }
    }

    private func grow(_ p: inout UnsafeMutablePointer<Float>, _ count: Int) {
        p.deallocate()
        p = .allocate(capacity: max(count, 1))
    }

    deinit {
        for p in [x, xn, qkv, attn, gateUp, hidden, cos, sin, cosLocal, sinLocal, outNorm, logits, scores, kc, vc, chunkScores, chunkQO] {
            p.deallocate()
        }
        tables.deallocate()
    }
}
