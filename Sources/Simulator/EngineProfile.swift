public import Foundation
public import Scheduler

/// What `swiftlet bench profile` writes: the machine, the model and engine settings it measured, every measured
/// step (training and held-out), the fitted cost model and its error on the held-out steps.
public struct EngineProfile: Sendable, Equatable, Codable {
    public struct Machine: Sendable, Equatable, Codable {
        public var cpu: String
        public var logicalCPUs: Int
        public var isa: String
        public var memoryBytes: UInt64
        public var hostname: String
        public init(cpu: String, logicalCPUs: Int, isa: String, memoryBytes: UInt64, hostname: String) {
            self.cpu = cpu; self.logicalCPUs = logicalCPUs; self.isa = isa; self.memoryBytes = memoryBytes
            self.hostname = hostname
        }

        /// This machine, from /proc/cpuinfo and ProcessInfo.
        public static func current(isa: String) -> Machine {
            let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            let cpu = info.split(separator: "\n").first { $0.hasPrefix("model name") }
                .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
            let p = ProcessInfo.processInfo
            return Machine(cpu: cpu, logicalCPUs: p.activeProcessorCount, isa: isa, memoryBytes: p.physicalMemory,
                           hostname: p.hostName)
        }
    }

    /// The engine settings the steps were measured under; a simulated instance uses them unless told otherwise.
    public struct EngineSettings: Sendable, Equatable, Codable {
        public var precision: String
        public var blockSize: Int
        public var numBlocks: Int
        public var maxNumBatchedTokens: Int
        public var maxNumSeqs: Int
        public var policy: String
        public var enablePrefixCaching: Bool
        public var maxModelLen: Int
        public init(precision: String, blockSize: Int, numBlocks: Int, maxNumBatchedTokens: Int, maxNumSeqs: Int,
                    policy: String, enablePrefixCaching: Bool, maxModelLen: Int) {
            self.precision = precision; self.blockSize = blockSize; self.numBlocks = numBlocks
            self.maxNumBatchedTokens = maxNumBatchedTokens; self.maxNumSeqs = maxNumSeqs; self.policy = policy
            self.enablePrefixCaching = enablePrefixCaching; self.maxModelLen = maxModelLen
        }

        public var schedulerConfig: SchedulerConfig {
            SchedulerConfig(maxNumBatchedTokens: maxNumBatchedTokens, maxNumSeqs: maxNumSeqs,
                            policy: SchedulePolicy(rawValue: policy) ?? .mixed, blockSize: blockSize, numBlocks: numBlocks,
                            enablePrefixCaching: enablePrefixCaching, maxModelLen: maxModelLen)
        }
    }

    public struct Sample: Sendable, Equatable, Codable {
        public var shape: StepShape
        /// Median measured seconds over the repetitions.
        public var seconds: Double
        public var repetitions: Int
        public var heldOut: Bool
        /// The fitted model's prediction (filled in after the fit).
        public var predicted: Double
        public init(shape: StepShape, seconds: Double, repetitions: Int, heldOut: Bool, predicted: Double = 0) {
            self.shape = shape; self.seconds = seconds; self.repetitions = repetitions; self.heldOut = heldOut
            self.predicted = predicted
        }
        public var relativeError: Double { (predicted - seconds) / seconds }
    }

    public var version = 1
    public var date: String
    public var machine: Machine
    public var model: String
    public var modelPath: String
    public var engine: EngineSettings
    public var cost: StepCostModel
    public var samples: [Sample]

    public init(date: String, machine: Machine, model: String, modelPath: String, engine: EngineSettings,
                cost: StepCostModel, samples: [Sample]) {
        self.date = date; self.machine = machine; self.model = model; self.modelPath = modelPath; self.engine = engine
        self.cost = cost; self.samples = samples
    }

    /// Fits the cost model on the training samples and fills in every sample's prediction.
    public static func fitted(date: String, machine: Machine, model: String, modelPath: String, engine: EngineSettings,
                              samples: [Sample], knots: [Int], contextKnots: [Int] = []) throws(SimulatorError) -> EngineProfile {
        let train = samples.filter { !$0.heldOut }.map { (shape: $0.shape, seconds: $0.seconds) }
        let cost = try StepCostModel.fit(train, knots: knots, contextKnots: contextKnots)
        var all = samples
        for i in all.indices { all[i].predicted = cost.seconds(all[i].shape) }
        return EngineProfile(date: date, machine: machine, model: model, modelPath: modelPath, engine: engine,
                             cost: cost, samples: all)
    }

    /// Mean and largest |relative error| over the held-out (or training) samples.
    public func error(heldOut: Bool = true) -> (mean: Double, max: Double, count: Int) {
        let e = samples.filter { $0.heldOut == heldOut }.map { abs($0.relativeError) }
        guard !e.isEmpty else { return (0, 0, 0) }
        return (e.reduce(0, +) / Double(e.count), e.max()!, e.count)
    }

    /// A Markdown table of the held-out steps: shape, measured, predicted, error.
    public func errorTable() -> String {
        var out = "| held-out step | measured ms | predicted ms | error |\n|---|---:|---:|---:|\n"
        for s in samples where s.heldOut {
            out += "| \(s.shape) | \(String(format: "%.3f", s.seconds * 1000)) | "
                + "\(String(format: "%.3f", s.predicted * 1000)) | \(String(format: "%+.1f%%", s.relativeError * 100)) |\n"
        }
        let e = error()
        let t = error(heldOut: false)
        out += "\nheld-out: mean |error| \(String(format: "%.1f%%", e.mean * 100)), max \(String(format: "%.1f%%", e.max * 100)) "
            + "over \(e.count) steps; training: mean \(String(format: "%.1f%%", t.mean * 100)), max \(String(format: "%.1f%%", t.max * 100)) over \(t.count)\n"
        return out
    }

    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try enc.encode(self).write(to: url)
    }

    public static func read(from path: String) throws(SimulatorError) -> EngineProfile {
        guard let data = FileManager.default.contents(atPath: path) else { throw SimulatorError("cannot read the profile \(path)") }
        do { return try JSONDecoder().decode(EngineProfile.self, from: data) } catch {
            throw SimulatorError("\(path): not a Swiftlet engine profile (\(error))")
        }
    }
}

/// The grid `swiftlet bench profile` measures: decode batches over contexts, prefill chunks at two starting
/// positions, and mixed steps; the held-out shapes lie between the grid's points.
public enum ProfileGrid {
    /// A step to measure: decode contexts and prefill chunks (start, tokens).
    public struct Point: Sendable, Equatable {
        public var decodeContexts: [Int]
        public var prefills: [(start: Int, tokens: Int)]
        public var heldOut: Bool
        public init(decodeContexts: [Int], prefills: [(start: Int, tokens: Int)], heldOut: Bool) {
            self.decodeContexts = decodeContexts; self.prefills = prefills; self.heldOut = heldOut
        }
        public static func == (a: Point, b: Point) -> Bool {
            a.decodeContexts == b.decodeContexts && a.heldOut == b.heldOut
                && a.prefills.map(\.start) == b.prefills.map(\.start) && a.prefills.map(\.tokens) == b.prefills.map(\.tokens)
        }
        public var shape: StepShape {
            var s = StepShape()
            for c in decodeContexts { s.addDecode(context: c) }
            for p in prefills { s.addPrefill(start: p.start, tokens: p.tokens, samples: true) }
            return s
        }
        /// Positions the step needs in KV per sequence (decodes first).
        public var sequenceLengths: [Int] { decodeContexts + prefills.map { $0.start + $0.tokens } }
    }

    /// Every point within the engine's limits (`maxTokens` per step, `maxSeqs` sequences, `maxLen` context,
    /// `kvTokens` positions of KV in all).
    public static func points(maxTokens: Int, maxSeqs: Int, maxLen: Int, kvTokens: Int, quick: Bool = false) -> [Point] {
        var out: [Point] = []
        func ok(_ p: Point) -> Bool {
            let s = p.shape
            return s.batchTokens <= maxTokens && p.sequenceLengths.count <= maxSeqs
                && p.sequenceLengths.allSatisfy { $0 <= maxLen } && p.sequenceLengths.reduce(0, +) <= kvTokens
        }
        func add(_ p: Point) { if ok(p), !out.contains(p) { out.append(p) } }
        func dec(_ n: Int, _ c: Int, held: Bool = false) -> Point {
            Point(decodeContexts: Array(repeating: max(1, c), count: n), prefills: [], heldOut: held)
        }
        let maxChunk = min(maxTokens, maxLen)
        // Contexts and chunks inside the engine's limits: a fixed ladder, capped by the longest context.
        let contexts = ((quick ? [64, 512, 4096] : [32, 128, 512, 2048, 8192]).filter { $0 < maxLen } + [maxLen])
        for n in (quick ? [1, 4, 16, 64] : [1, 2, 4, 8, 16, 32, 64]) { for c in contexts { add(dec(n, c)) } }
        var chunks: [Int] = []
        var c = 8
        while c < maxChunk { chunks.append(c); c *= quick ? 4 : 2 }
        chunks.append(maxChunk)
        for p in chunks { add(Point(decodeContexts: [], prefills: [(0, p)], heldOut: false)) }
        // Prefill after a cached or already computed part: the attention over earlier positions.
        for start in [min(maxLen / 4, 512), min(maxLen / 2, 2048)] where start >= 16 {
            for p in [32, 128, 512, min(maxLen / 4, 512)] where p >= 8 && start + p <= maxLen {
                add(Point(decodeContexts: [], prefills: [(start, p)], heldOut: false))
            }
        }
        for n in (quick ? [8] : [4, 16, 48]) {
            for p in (quick ? [128] : [32, 256, 1024]) {
                add(Point(decodeContexts: Array(repeating: min(256, maxLen / 2), count: n), prefills: [(0, min(p, maxLen / 2))], heldOut: false))
            }
        }
        // Held out: between the grid's batch sizes, contexts, chunks and starts.
        let l = Double(maxLen)
        func at(_ f: Double) -> Int { max(8, Int(l * f)) }
        let held: [Point] = [
            dec(3, at(0.4), held: true),
            dec(12, at(0.7), held: true),
            dec(24, at(0.19), held: true),
            dec(48, at(0.06), held: true),
            Point(decodeContexts: (0..<20).map { at(0.02 + 0.045 * Double($0)) }, prefills: [], heldOut: true),
            Point(decodeContexts: [], prefills: [(0, 48)], heldOut: true),
            Point(decodeContexts: [], prefills: [(0, min(384, maxChunk * 3 / 4))], heldOut: true),
            Point(decodeContexts: [], prefills: [(0, maxChunk * 3 / 4)], heldOut: true),
            Point(decodeContexts: [], prefills: [(at(0.3), at(0.4))], heldOut: true),
            Point(decodeContexts: Array(repeating: at(0.3), count: 10), prefills: [(0, 100)], heldOut: true),
            Point(decodeContexts: Array(repeating: at(0.12), count: 30), prefills: [(0, at(0.35))], heldOut: true),
            Point(decodeContexts: Array(repeating: at(0.1), count: 6), prefills: [(0, 24), (at(0.05), 40)], heldOut: true),
        ]
        for p in held { add(p) }
        return out
    }
}
