import CKernels
import Foundation

/// Elementwise and reduction kernels over contiguous Float rows.
public enum Kernels {
    /// Σ a[i]·b[i] for i < n.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        swl_dot(a, b, Int32(n))
    }

    /// y[i] += w · x[i] for i < n.
    @inline(__always)
    public static func axpy(_ w: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        swl_axpy(w, x, y, Int32(n))
    }

    /// out[r, :] = x[r, :] / rms(x[r, :]) * weight, for `rows` rows of length `dim`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int,
                               eps: Float, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { swl_rmsnorm(x + r * dim, weight, out + r * dim, Int32(dim), eps) }
    }

    /// SwiGLU: out[r, i] = silu(gateUp[r, i]) · gateUp[r, hidden + i]; gateUp is [rows, 2·hidden].
    public static func swiglu(_ gateUp: UnsafePointer<Float>, rows: Int, hidden: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let g = gateUp + r * 2 * hidden
            swl_swiglu(g, g + hidden, out + r * hidden, Int32(hidden))
        }
    }

    /// GeGLU (tanh GELU, Gemma): out[r, i] = gelu_tanh(gateUp[r, i]) · gateUp[r, hidden + i].
    public static func geglu(_ gateUp: UnsafePointer<Float>, rows: Int, hidden: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let g = gateUp + r * 2 * hidden
            swl_geglu(g, g + hidden, out + r * hidden, Int32(hidden))
        }
    }

    /// y[i] += x[i] for i < n.
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        swl_add(x, y, Int32(n))
    }

    /// x[i] *= s for i < n.
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, _ n: Int) { swl_scale(x, s, Int32(n)) }

    /// x[i] = cap · tanh(x[i] / cap) for i < n (final-logit soft-capping).
    public static func softcap(_ x: UnsafeMutablePointer<Float>, cap: Float, _ n: Int) { swl_softcap(x, cap, Int32(n)) }

    /// In-place softmax of x[0..<n]; returns nothing. Numerically stable.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        swl_softmax(x, Int32(n))
    }

    /// Runs body(t) for t in 0..<workers on the compute pool (the caller is worker 0; more indices than pool
    /// threads are dealt round-robin). Callers split their items statically by worker index, so each worker can own
    /// scratch memory. The pool is the process's one set of compute threads: OpenBLAS runs single-threaded inside it.
    @inline(__always)
    public static func parallel(workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 { body(0); return }
        withoutActuallyEscaping(body) { b in
            var task = PoolTask(body: b, count: workers)
            withUnsafeMutablePointer(to: &task) { p in
                swl_pool_run({ ctx, tid, nth in
                    let t = ctx!.assumingMemoryBound(to: PoolTask.self)
                    var i = Int(tid)
                    while i < t.pointee.count { t.pointee.body(i); i += Int(nth) }
                }, p, Int32(min(workers, cpuCount)))
            }
        }
    }

    /// Threads of the compute pool: `SWIFTLET_THREADS` if set, else the online cores.
    public static let cpuCount: Int = Int(swl_pool_size())
}

private struct PoolTask {
    let body: @Sendable (Int) -> Void
    let count: Int
}

/// Rotary position embedding tables and application, in both pair layouts.
public struct RoPE: Sendable {
    public enum Style: String, Sendable, Codable {
        /// Rotate (x[2i], x[2i+1]) — llama2.c, GGUF `llama` (Q/K stored permuted).
        case adjacent
        /// Rotate (x[i], x[i + d/2]) — GPT-NeoX, Hugging Face Llama checkpoints.
        case neox
    }

    public let style: Style
    public let headDim: Int
    /// [headDim / 2] inverse frequencies θ^(−2i/d) · freqScale / factor[i].
    public let invFreq: [Float]

    /// `freqScale` is linear position scaling (1 / factor); `factors` divides each frequency (Llama 3's
    /// `rope_freqs`, as llama.cpp's freq_factors), [headDim / 2] or empty.
    public init(style: Style, headDim: Int, theta: Float, freqScale: Float = 1, factors: [Float] = []) {
        self.style = style
        self.headDim = headDim
        self.invFreq = (0..<(headDim / 2)).map { i in
            let f = Double(freqScale) / Foundation.pow(Double(theta), Double(2 * i) / Double(headDim))
            return Float(i < factors.count ? f / Double(factors[i]) : f)
        }
    }

    /// Fills cos/sin [headDim/2] for position `pos` (computed in Double, stored as Float).
    public func table(pos: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let p = Double(pos)
        for i in 0..<(headDim / 2) {
            let a = p * Double(invFreq[i])
            cos[i] = Float(Foundation.cos(a)); sin[i] = Float(Foundation.sin(a))
        }
    }

    /// Rotates `heads` heads of one token, laid out [heads, headDim], with a position's cos/sin table.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = headDim / 2
        for h in 0..<heads {
            let v = x + h * headDim
            switch style {
            case .adjacent:
                for i in 0..<half {
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * cos[i] - b * sin[i]
                    v[2 * i + 1] = a * sin[i] + b * cos[i]
                }
            case .neox:
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * cos[i] - b * sin[i]
                    v[i + half] = a * sin[i] + b * cos[i]
                }
            }
        }
    }
}
