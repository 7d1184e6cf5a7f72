import Dispatch
import Foundation
import ModelFormats
import Tensor

/// A unit of load work: fill `count` floats at `dst` from some source.
struct CopyJob: @unchecked Sendable {
    let type: GGMLType
    let src: UnsafeRawPointer
    let count: Int
    let dst: UnsafeMutablePointer<Float>
    func run() { Dequant.convert(type, src, count: count, into: dst) }

    /// One tensor of `elements` (rows of `rowElements`) split into ~1M-element row chunks, so all cores convert at once.
    static func rows(_ type: GGMLType, _ src: UnsafeRawPointer, elements: Int, rowElements: Int,
                     into dst: UnsafeMutablePointer<Float>) -> [CopyJob] {
        let rowElems = max(rowElements, 1), rows = elements / rowElems
        let chunkRows = max(1, (1 << 20) / rowElems)
        var jobs: [CopyJob] = []
        var r = 0
        while r < rows {
            let nr = min(chunkRows, rows - r)
            let byteOffset = r * rowElems / type.blockSize * type.bytesPerBlock
            jobs.append(CopyJob(type: type, src: src + byteOffset, count: nr * rowElems, dst: dst + r * rowElems))
            r += nr
        }
        return jobs
    }
}

/// Progress of a model load, 0...1.
public typealias LoadProgress = @Sendable (Double) -> Void

enum LoadRunner {
    /// Runs the jobs on all cores, reporting progress by bytes done.
    static func run(_ jobs: [CopyJob], progress: LoadProgress?) {
        let total = max(jobs.reduce(0) { $0 + $1.count }, 1)
        let workers = min(Kernels.cpuCount, max(jobs.count, 1))
        let done = ProgressCounter()
        Kernels.parallel(workers: workers) { w in
            var i = w
            while i < jobs.count {
                jobs[i].run()
                let d = done.add(jobs[i].count)
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

extension Dequant {
    /// Converts `count` elements of a GGML tensor of `type` at `src` to Float.
    static func convert(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: f32(src, count: count, into: dst)
        case .f16: f16(src, count: count, into: dst)
        case .bf16: bf16(src, count: count, into: dst)
        case .q8_0: q8_0(src, count: count, into: dst)
        case .q4_0: q4_0(src, count: count, into: dst)
        case .q4_1: q4_1(src, count: count, into: dst)
        }
    }
}

extension LlamaModel {
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
