import ArgumentParser
import Engine
import Foundation
import Model
import Scheduler
import Simulator
import Tensor

/// `swiftlet bench profile`: measures the engine's step time over a grid of batch shapes on this machine and fits
/// the simulator's cost model (JSON), quoting its error on held-out shapes.
struct BenchProfile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Measure the engine's step time over batch shapes and fit a cost model for `swiftlet cluster simulate`.")

    @OptionGroup var engine: EngineOptions

    @Option(help: "Where to write the profile (JSON).")
    var output: String = "profile.json"

    @Flag(help: "A smaller grid (about a third of the shapes), for a first look.")
    var quick = false

    @Option(help: "Minimum measured seconds per shape (repetitions are added until reached; the median counts).")
    var minSeconds: Double = 0.2

    @Option(help: "Most runs per shape and pass.")
    var maxRepetitions: Int = 20

    @Option(help: "Passes over all shapes (the median over passes is a shape's time).")
    var passes: Int = 5

    func run() async throws {
        let path = try engine.modelPath()
        let config = try engine.engineConfig()
        let model = try ModelLoader.load(path: path)
        let mc = model.config
        let maxLen = config.maxModelLen ?? min(mc.contextLength, 8192)
        let blocks = config.numBlocks
            ?? PagedKVStorage.blocks(config: mc, blockSize: config.blockSize, memoryBytes: config.kvCacheMemoryBytes)
        try model.allocateKVCache(blockSize: config.blockSize, numBlocks: blocks)
        model.precision = config.precision
        let settings = EngineProfile.EngineSettings(
            precision: config.precision.rawValue, blockSize: config.blockSize, numBlocks: blocks,
            maxNumBatchedTokens: config.maxNumBatchedTokens, maxNumSeqs: config.maxNumSeqs, policy: config.policy.rawValue,
            enablePrefixCaching: config.enablePrefixCaching, maxModelLen: maxLen)
        let points = ProfileGrid.points(maxTokens: config.maxNumBatchedTokens, maxSeqs: config.maxNumSeqs, maxLen: maxLen,
                                        kvTokens: blocks * config.blockSize, quick: quick)
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        FileHandle.standardError.write(Data("profiling \(name) (\(config.precision.rawValue)) over \(points.count) step shapes\n".utf8))
        var runner = StepTimer(model: model, blockSize: config.blockSize, numBlocks: blocks)
        // Interleaved passes: every shape once per pass (several runs when it is short), so that a slow spell of a
        // shared machine spreads over all shapes instead of spoiling a few; the median over passes counts.
        let batches = points.map { runner.batch($0) }
        var times = [[Double]](repeating: [], count: points.count)
        for b in batches { _ = runner.run(b) }   // warm-up: every page of the cache and of the weights touched
        for pass in 0..<passes {
            for (i, b) in batches.enumerated() {
                var spent = 0.0, runs: [Double] = []
                repeat { let t = runner.run(b); runs.append(t); spent += t } while spent < minSeconds / Double(passes) && runs.count < maxRepetitions
                runs.sort()
                times[i].append(runs[runs.count / 2])
            }
            FileHandle.standardError.write(Data("  pass \(pass + 1)/\(passes) done\n".utf8))
        }
        var samples: [EngineProfile.Sample] = []
        for (n, p) in points.enumerated() {
            let t = times[n].sorted()
            let secs = t[t.count / 2]
            samples.append(EngineProfile.Sample(shape: p.shape, seconds: secs, repetitions: t.count, heldOut: p.heldOut))
            FileHandle.standardError.write(Data(String(format: "  [%2d/%d] %@%@: %.3f ms (spread %.0f%%)\n", n + 1, points.count,
                                                       p.heldOut ? "held-out " : "", "\(p.shape)", secs * 1000,
                                                       100 * (t.last! - t.first!) / secs).utf8))
        }
        // Knots at the batch sizes of the pure decode and prefill steps: a mixed step's size would put a knot where
        // its decodes' per-sequence cost sets the matmul time (a prefill of that size was then predicted 36% high).
        let pure = samples.filter { !$0.heldOut && ($0.shape.prefillTokens == 0 || $0.shape.decodeSequences == 0) }
        let knots = StepCostModel.knots(measured: pure.map(\.shape.batchTokens))
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssZ"
        f.locale = Locale(identifier: "en_US_POSIX")
        let profile = try EngineProfile.fitted(
            date: f.string(from: Date()), machine: .current(isa: "\(KernelISA.best)"), model: name, modelPath: path,
            engine: settings, samples: samples, knots: knots,
            contextKnots: StepCostModel.defaultContextKnots.filter { $0 < blocks * config.blockSize })
        try profile.write(to: output)
        print(profile.errorTable())
        print("wrote \(output)")
    }
}

/// Runs one step shape on the model (forward over a batch with those sequences, then a greedy pick per logits row,
/// as the engine samples) and times it.
struct StepTimer {
    let model: any CausalLM
    let blockSize: Int
    let numBlocks: Int
    var nextBlock = 0
    /// The sampler's copy of a logits row (it works on a copy: penalties, bias, masks).
    let work: UnsafeMutablePointer<Float>

    init(model: any CausalLM, blockSize: Int, numBlocks: Int) {
        self.model = model; self.blockSize = blockSize; self.numBlocks = numBlocks
        work = .allocate(capacity: model.config.vocabSize)
    }

    /// Distinct blocks where the cache has room (wrapping around when it has not).
    mutating func table(positions: Int) -> [Int32] {
        let n = (positions + blockSize - 1) / blockSize
        defer { nextBlock = (nextBlock + n) % numBlocks }
        return (0..<n).map { Int32((nextBlock + $0) % numBlocks) }
    }

    mutating func batch(_ p: ProfileGrid.Point) -> ForwardBatch {
        nextBlock = 0   // every shape from the start of the cache: pages already touched, as in a warm engine
        var b = ForwardBatch()
        let vocab = Int32(model.config.vocabSize)
        var tok: Int32 = 17
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in tok = (tok &* 1103 &+ 12345) % vocab; return abs(tok) } }
        for c in p.decodeContexts {
            b.add(tokens: tokens(1), startPosition: c - 1, blockTable: table(positions: c), wantLogits: true)
        }
        for (start, n) in p.prefills {
            b.add(tokens: tokens(n), startPosition: start, blockTable: table(positions: start + n), wantLogits: true)
        }
        return b
    }

    /// Median seconds over repetitions (one warm-up first), and how many ran.
    mutating func measure(_ p: ProfileGrid.Point, minSeconds: Double, maxRepetitions: Int) -> (Double, Int) {
        let b = batch(p)
        _ = run(b)
        var times: [Double] = []
        var total = 0.0
        while times.count < 3 || (times.count < 5 && total < 2) || (total < minSeconds && times.count < maxRepetitions) {
            let t = run(b)
            times.append(t)
            total += t
        }
        times.sort()
        return (times[times.count / 2], times.count)
    }

    func run(_ b: ForwardBatch) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let logits = model.forward(b)
        var sink: Int = 0
        for r in 0..<logits.rows {
            let row = logits.row(r)
            work.update(from: row.baseAddress!, count: row.count)
            var best = 0
            for i in 1..<row.count where work[i] > work[best] { best = i }
            sink &+= best
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        withExtendedLifetime(sink) {}
        return Double(t1 - t0) / 1e9
    }
}
