import Dispatch
import Foundation

/// Elementwise and reduction kernels over contiguous Float rows.
public enum Kernels {
    /// Σ a[i]·b[i] for i < n.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            i += 16
        }
        while i + 8 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y[i] += w · x[i] for i < n.
    @inline(__always)
    public static func axpy(_ w: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let wv = SIMD8<Float>(repeating: w)
        while i + 8 <= n {
            let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + wv * rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] += w * x[i]; i += 1 }
    }

    /// out[r, :] = x[r, :] / rms(x[r, :]) * weight, for `rows` rows of length `dim`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int,
                               eps: Float, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * dim, o = out + r * dim
            let ss = dot(xr, xr, dim) / Float(dim)
            let scale = 1 / (ss + eps).squareRoot()
            for i in 0..<dim { o[i] = xr[i] * scale * weight[i] }
        }
    }

    /// SwiGLU: out[r, i] = silu(gateUp[r, i]) · gateUp[r, hidden + i]; gateUp is [rows, 2·hidden].
    public static func swiglu(_ gateUp: UnsafePointer<Float>, rows: Int, hidden: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let g = gateUp + r * 2 * hidden, u = g + hidden, o = out + r * hidden
            for i in 0..<hidden {
                let v = g[i]
                o[i] = v / (1 + Foundation.exp(-v)) * u[i]
            }
        }
    }

    /// In-place softmax of x[0..<n]; returns nothing. Numerically stable.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n where x[i] > m { m = x[i] }
        var s: Float = 0
        for i in 0..<n { let e = Foundation.exp(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<n { x[i] *= inv }
    }

    /// Runs body(t) for t in 0..<workers on up to `workers` threads (concurrentPerform).
    /// Callers split their items statically by worker index, so each worker can own scratch memory.
    @inline(__always)
    public static func parallel(workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }

    /// Worker threads for the parallel kernels: `SWIFTLET_THREADS` if set, else the active cores.
    public static let cpuCount: Int = {
        if let s = ProcessInfo.processInfo.environment["SWIFTLET_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()
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
    /// [headDim / 2] inverse frequencies θ^(−2i/d).
    public let invFreq: [Float]

    public init(style: Style, headDim: Int, theta: Float) {
        self.style = style
        self.headDim = headDim
        self.invFreq = (0..<(headDim / 2)).map { i in
            Float(1.0 / Foundation.pow(Double(theta), Double(2 * i) / Double(headDim)))
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
