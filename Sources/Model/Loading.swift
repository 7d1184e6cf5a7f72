import Dispatch
import Glibc
import Foundation
import ModelFormats
import Tensor

/// A tensor as a file holds it: format, bytes, and its shape as a matrix (rows = out features, cols = in features).
struct TensorSource: @unchecked Sendable {
    let type: GGMLType
    let bytes: UnsafeRawPointer
    let rows: Int
    let cols: Int
    var byteCount: Int { rows * type.rowBytes(cols) }
}

/// A unit of load work: `rows` rows of `cols` elements of `type` from `src` to `dst`, either in the kernels' layout
/// (`WeightMatrix.repack`) or dequantized to Float.
struct CopyJob: @unchecked Sendable {
    let type: GGMLType
    let dequantize: Bool
    let src: UnsafeRawPointer
    let rows: Int, cols: Int
    let dst: UnsafeMutableRawPointer
    func run() {
        if dequantize { type.dequantize(src, count: rows * cols, into: dst.assumingMemoryBound(to: Float.self)) }
        else { WeightMatrix.repack(type, from: src, to: dst, rows: rows, cols: cols) }
        releaseSource()
    }

    /// Drops the source's pages from memory once copied (the whole pages inside its range): the files are
    /// memory-mapped read-only, so the kernel re-reads them if anyone looks again, and the load's peak resident size
    /// stays near the weights' size instead of file + copy.
    private func releaseSource() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: src), end = start + weight
        let lo = (start + page - 1) / page * page, hi = end / page * page
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_DONTNEED) }
    }
    /// Work size for progress (bytes read).
    var weight: Int { rows * type.rowBytes(cols) }

    /// A matrix copy in ~4 MiB pieces of whole rows, so all cores copy (and fault the file's pages in) at once.
    static func matrix(_ t: TensorSource, to dst: UnsafeMutableRawPointer) -> [CopyJob] {
        let rowBytes = t.type.rowBytes(t.cols), piece = max(1, (4 << 20) / max(rowBytes, 1))
        return stride(from: 0, to: t.rows, by: piece).map {
            CopyJob(type: t.type, dequantize: false, src: t.bytes + $0 * rowBytes, rows: min(piece, t.rows - $0),
                    cols: t.cols, dst: dst + $0 * rowBytes)
        }
    }
}

/// Builds a model's weights from file tensors: projection matrices are copied in their encoding into owned,
/// aligned storage (fusing parts that share a format), norm vectors are dequantized to Float. `run` does the copies.
struct WeightBuilder {
    private(set) var jobs: [CopyJob] = []
    private(set) var storage: [WeightStorage] = []

    /// Consecutive parts of one format become one matrix; a change of format starts another.
    mutating func linear(_ parts: [TensorSource]) -> FusedLinear {
        var groups: [[TensorSource]] = []
        for p in parts {
            if let last = groups.last?.last, last.type == p.type, last.cols == p.cols { groups[groups.count - 1].append(p) }
            else { groups.append([p]) }
        }
        return FusedLinear(groups.map { matrix($0) })
    }

    mutating func matrix(_ parts: [TensorSource]) -> WeightMatrix {
        let total = parts.reduce(0) { $0 + $1.byteCount }
        let s = WeightStorage(byteCount: total)
        var at = 0
        for p in parts {
            jobs += CopyJob.matrix(p, to: s.base + at)
            at += p.byteCount
        }
        let first = parts[0]
        return WeightMatrix(format: first.type, rows: parts.reduce(0) { $0 + $1.rows }, cols: first.cols,
                            data: UnsafeRawPointer(s.base), owner: s)
    }

    mutating func vector(_ src: TensorSource) -> UnsafeMutablePointer<Float> { vector([src]) }

    /// Vectors laid end to end in one Float buffer (e.g. the Q, K and V biases).
    mutating func vector(_ parts: [TensorSource]) -> UnsafeMutablePointer<Float> {
        let total = parts.reduce(0) { $0 + $1.rows * $1.cols }
        let s = WeightStorage(byteCount: total * 4)
        storage.append(s)
        var at = 0
        for src in parts {
            let n = src.rows * src.cols
            jobs.append(CopyJob(type: src.type, dequantize: true, src: src.bytes, rows: 1, cols: n, dst: s.base + at * 4))
            at += n
        }
        return s.base.assumingMemoryBound(to: Float.self)
    }

    func run(progress: LoadProgress?) { LoadRunner.run(jobs, progress: progress) }
}

/// Progress of a model load, 0...1.
public typealias LoadProgress = @Sendable (Double) -> Void

enum LoadRunner {
    /// Runs the jobs on all cores, reporting progress by bytes done.
    static func run(_ jobs: [CopyJob], progress: LoadProgress?) {
        let total = max(jobs.reduce(0) { $0 + $1.weight }, 1)
        let workers = min(Kernels.cpuCount, max(jobs.count, 1))
        let done = ProgressCounter()
        Kernels.parallel(workers: workers) { w in
            var i = w
            while i < jobs.count {
                jobs[i].run()
                let d = done.add(jobs[i].weight)
                if w == 0 { progress?(Double(d) / Double(total)) }
                i += workers
            }
        }
        progress?(1)
    }
}

/// Bytes-done counter shared by the load workers (load time only, not the hot path).
final class ProgressCounter: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var value = 0
    func add(_ n: Int) -> Int { lock.wait(); value += n; let v = value; lock.signal(); return v }
}

extension DecoderModel {
    /// Picks the format: a safetensors directory (or `.safetensors` file beside a config.json), else GGUF by
    /// its magic, else a llama2.c checkpoint.
    static func loadAnyFormat(path: String, progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        if let dir = safetensorsDirectory(for: path) {
            return try loadSafetensors(path: path, directory: dir, progress: progress)
        }
        guard let fh = FileHandle(forReadingAtPath: path) else { throw ModelError("\(path): cannot open file") }
        let magic = (try? fh.read(upToCount: 4)) ?? Data()
        try? fh.close()
        return magic == Data("GGUF".utf8)
            ? try loadGGUF(path: path, progress: progress)
            : try loadLlama2c(path: path, progress: progress)
    }
}
