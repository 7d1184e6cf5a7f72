public import Foundation
public import Scheduler

/// What one engine step computes, as far as its time goes: the shape the scheduler planned.
public struct StepShape: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Prompt (or recomputation) tokens, and the sequences they belong to.
    public var prefillTokens: Int
    public var prefillSequences: Int
    /// Query-key pairs of the prefill chunks: Σ chunk × (start + (chunk + 1) / 2).
    public var prefillAttention: Double
    /// Decode sequences (one token each) and the sum of their context lengths (keys each decode reads).
    public var decodeSequences: Int
    public var decodeContext: Int
    /// Logits rows sampled (decodes, and prefill chunks that end their prompt).
    public var sampled: Int

    public init(prefillTokens: Int = 0, prefillSequences: Int = 0, prefillAttention: Double = 0,
                decodeSequences: Int = 0, decodeContext: Int = 0, sampled: Int = 0) {
        self.prefillTokens = prefillTokens; self.prefillSequences = prefillSequences
        self.prefillAttention = prefillAttention; self.decodeSequences = decodeSequences
        self.decodeContext = decodeContext; self.sampled = sampled
    }

    /// The shape of a planned step.
    public init(_ out: SchedulerOutput) {
        self.init()
        for s in out.scheduled { add(s) }
    }

    public mutating func add(_ s: ScheduledSequence) {
        let n = s.tokenIds.count
        if s.isPrefill {
            addPrefill(start: s.startPosition, tokens: n, samples: s.sampleAfter)
        } else {
            addDecode(context: s.contextLength)
        }
    }

    public mutating func addPrefill(start: Int, tokens n: Int, samples: Bool) {
        prefillTokens += n
        prefillSequences += 1
        prefillAttention += Double(n) * (Double(start) + Double(n + 1) / 2)
        if samples { sampled += 1 }
    }

    public mutating func addDecode(context: Int) {
        decodeSequences += 1
        decodeContext += context
        sampled += 1
    }

    /// Tokens through the weight matrices.
    public var batchTokens: Int { prefillTokens + decodeSequences }

    public var description: String {
        var parts: [String] = []
        if decodeSequences > 0 { parts.append("\(decodeSequences) decode × ctx \(decodeContext / max(1, decodeSequences))") }
        if prefillTokens > 0 { parts.append("prefill \(prefillTokens) in \(prefillSequences)") }
        return parts.isEmpty ? "empty" : parts.joined(separator: " + ")
    }
}

/// Step time of one engine on one machine: a piecewise-linear function of the batch's token count (the weight
/// matrices: GEMV for a few rows, int8 tiles and SGEMM panels for more, with the kernel switch points in between)
/// plus per-context-token attention terms for decodes and prefills and a per-sampled-row term (logits → token).
/// Decode attention is piecewise-linear in the step's total decode keys (`contextKnots`): a key costs more once the
/// KV cache the step reads no longer fits in a cache level (measured on stories260K here: 1.1 µs per key at 1k keys,
/// 1.65 µs at 65k). Fitted by weighted least squares on measured steps (relative error), see `fit`.
public struct StepCostModel: Sendable, Equatable, Codable {
    /// Batch-token knots (ascending) and the weight-matrix time at each (seconds).
    public var knots: [Int]
    public var knotSeconds: [Double]
    /// Seconds per key a decode reads.
    public var decodeContextSeconds: Double
    /// Seconds per prefill query-key pair.
    public var prefillAttentionSeconds: Double
    /// Seconds per sampled row.
    public var sampledSeconds: Double
    /// Seconds per sequence in the batch (its attention call and bookkeeping in every layer).
    public var sequenceSeconds: Double
    /// Total decode keys past which each key costs `contextKnotSeconds` more (ascending; empty: linear in keys).
    public var contextKnots: [Int] = []
    public var contextKnotSeconds: [Double] = []

    public init(knots: [Int], knotSeconds: [Double], decodeContextSeconds: Double, prefillAttentionSeconds: Double,
                sampledSeconds: Double, sequenceSeconds: Double = 0) {
        self.sequenceSeconds = sequenceSeconds
        precondition(knots.count == knotSeconds.count && knots.count >= 2, "a cost model needs two knots or more")
        self.knots = knots; self.knotSeconds = knotSeconds; self.decodeContextSeconds = decodeContextSeconds
        self.prefillAttentionSeconds = prefillAttentionSeconds; self.sampledSeconds = sampledSeconds
    }

    public init(knots: [Int], knotSeconds: [Double], decodeContextSeconds: Double, prefillAttentionSeconds: Double,
                sampledSeconds: Double, sequenceSeconds: Double = 0, contextKnots: [Int], contextKnotSeconds: [Double]) {
        precondition(contextKnots.count == contextKnotSeconds.count, "one slope per context knot")
        self.init(knots: knots, knotSeconds: knotSeconds, decodeContextSeconds: decodeContextSeconds,
                  prefillAttentionSeconds: prefillAttentionSeconds, sampledSeconds: sampledSeconds, sequenceSeconds: sequenceSeconds)
        self.contextKnots = contextKnots; self.contextKnotSeconds = contextKnotSeconds
    }

    /// The decode-key knots `swiftlet bench profile` fits: the context ladder of its grid.
    public static let defaultContextKnots = [512, 2048, 8192]

    enum CodingKeys: String, CodingKey {
        case knots, knotSeconds, decodeContextSeconds, prefillAttentionSeconds, sampledSeconds, sequenceSeconds
        case contextKnots, contextKnotSeconds
    }

    /// Profiles written before the context knots existed read as linear in keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        knots = try c.decode([Int].self, forKey: .knots)
        knotSeconds = try c.decode([Double].self, forKey: .knotSeconds)
        decodeContextSeconds = try c.decode(Double.self, forKey: .decodeContextSeconds)
        prefillAttentionSeconds = try c.decode(Double.self, forKey: .prefillAttentionSeconds)
        sampledSeconds = try c.decode(Double.self, forKey: .sampledSeconds)
        sequenceSeconds = try c.decodeIfPresent(Double.self, forKey: .sequenceSeconds) ?? 0
        contextKnots = try c.decodeIfPresent([Int].self, forKey: .contextKnots) ?? []
        contextKnotSeconds = try c.decodeIfPresent([Double].self, forKey: .contextKnotSeconds) ?? []
        guard knots.count == knotSeconds.count, knots.count >= 2, contextKnots.count == contextKnotSeconds.count else {
            throw DecodingError.dataCorruptedError(forKey: .knots, in: c, debugDescription: "knots and their seconds differ in count")
        }
    }

    /// The same model on a machine `factor` times slower (every term scaled): what-if runs, or a profile taken
    /// while the machine ran at another speed than it does now.
    public func scaled(by factor: Double) -> StepCostModel {
        StepCostModel(knots: knots, knotSeconds: knotSeconds.map { $0 * factor }, decodeContextSeconds: decodeContextSeconds * factor,
                      prefillAttentionSeconds: prefillAttentionSeconds * factor, sampledSeconds: sampledSeconds * factor,
                      sequenceSeconds: sequenceSeconds * factor, contextKnots: contextKnots,
                      contextKnotSeconds: contextKnotSeconds.map { $0 * factor })
    }

    /// Predicted seconds of one step (0 for an empty one).
    public func seconds(_ s: StepShape) -> Double {
        guard s.batchTokens > 0 else { return 0 }
        let f = Self.features(s, knots: knots, contextKnots: contextKnots)
        let c = coefficients
        var t = 0.0
        for i in 0..<f.count { t += f[i] * c[i] }
        return max(t, 1e-7)
    }

    var coefficients: [Double] {
        knotSeconds + [decodeContextSeconds, prefillAttentionSeconds, sampledSeconds, sequenceSeconds] + contextKnotSeconds
    }

    /// The linear features of a shape: hat functions over the batch tokens (linear extrapolation past the last
    /// knot), then decode context, prefill attention pairs, sampled rows, sequences, and the decode keys past each
    /// context knot.
    static let extraTerms = 4

    static func features(_ s: StepShape, knots: [Int], contextKnots: [Int] = []) -> [Double] {
        var f = [Double](repeating: 0, count: knots.count + extraTerms + contextKnots.count)
        let m = Double(s.batchTokens)
        let k = knots.map(Double.init)
        if m <= k[0] {
            f[0] = m / k[0]   // scaled down towards 0 tokens (never used by a real step below one token)
        } else if m >= k[k.count - 1] {
            let a = k[k.count - 2], b = k[k.count - 1]
            let w = (m - b) / (b - a)
            f[k.count - 1] = 1 + w
            f[k.count - 2] = -w
        } else {
            var j = 0
            while k[j + 1] < m { j += 1 }
            let w = (m - k[j]) / (k[j + 1] - k[j])
            f[j] = 1 - w
            f[j + 1] = w
        }
        f[knots.count] = Double(s.decodeContext)
        f[knots.count + 1] = s.prefillAttention
        f[knots.count + 2] = Double(s.sampled)
        f[knots.count + 3] = Double(s.decodeSequences + s.prefillSequences)
        for (j, k) in contextKnots.enumerated() { f[knots.count + extraTerms + j] = Double(max(0, s.decodeContext - k)) }
        return f
    }

    /// Knots at the measured batch sizes (each at least 1.4× the previous, the largest always kept): the
    /// piecewise-linear part then interpolates between measured sizes only.
    public static func knots(measured sizes: [Int]) -> [Int] {
        let u = Array(Set(sizes.filter { $0 >= 1 })).sorted()
        guard let last = u.last else { return [1, 2] }
        var k: [Int] = []
        for x in u where k.isEmpty || Double(x) >= 1.4 * Double(k.last!) { k.append(x) }
        if k.last! != last { if Double(last) < 1.4 * Double(k.last!), k.count > 1 { k[k.count - 1] = last } else { k.append(last) } }
        if k.count < 2 { k.append(k[0] * 2) }
        return k
    }

    /// Default knots up to `maxTokens`: powers of two from 1.
    public static func defaultKnots(maxTokens: Int) -> [Int] {
        var k = [1]
        while k.last! < maxTokens { k.append(min(k.last! * 2, maxTokens)) }
        if k.count < 2 { k.append(2) }
        return k
    }

    /// Least squares on relative error: minimises Σ ((predicted − measured) / measured)², with a small ridge term
    /// that keeps knots no sample touches from running away. The attention and sampling terms (and each context
    /// knot's added slope) are kept non-negative (a term the data would make negative is dropped and the rest
    /// refitted). Throws when there are fewer samples than terms.
    public static func fit(_ samples: [(shape: StepShape, seconds: Double)], knots: [Int],
                           contextKnots: [Int] = []) throws(SimulatorError) -> StepCostModel {
        let p = knots.count + extraTerms + contextKnots.count
        guard samples.count >= p else {
            throw SimulatorError("a cost model with \(p) terms needs at least \(p) measured steps, got \(samples.count)")
        }
        let rows = samples.map { s in features(s.shape, knots: knots, contextKnots: contextKnots).map { $0 / s.seconds } }
        var active = [Bool](repeating: true, count: p)
        while true {
            guard let c = solveWeighted(rows, active: active) else {
                throw SimulatorError("the measured steps do not determine a cost model")
            }
            let negative = (knots.count..<p).filter { active[$0] && c[$0] < 0 }
            if let worst = negative.min(by: { c[$0] < c[$1] }) { active[worst] = false; continue }
            return StepCostModel(knots: knots, knotSeconds: Array(c[0..<knots.count]), decodeContextSeconds: c[knots.count],
                                 prefillAttentionSeconds: c[knots.count + 1], sampledSeconds: c[knots.count + 2],
                                 sequenceSeconds: c[knots.count + 3], contextKnots: contextKnots,
                                 contextKnotSeconds: Array(c[(knots.count + extraTerms)...]))
        }
    }

    /// Normal equations over the active columns (scaled to unit size, so that the ridge treats them alike).
    static func solveWeighted(_ rows: [[Double]], active: [Bool]) -> [Double]? {
        let cols = active.indices.filter { active[$0] }
        let p = cols.count
        var scale = [Double](repeating: 0, count: p)
        for r in rows { for (j, c) in cols.enumerated() { scale[j] = max(scale[j], abs(r[c])) } }
        for j in 0..<p where scale[j] == 0 { scale[j] = 1 }
        var ata = [Double](repeating: 0, count: p * p), atb = [Double](repeating: 0, count: p)
        for r in rows {
            for (i, ci) in cols.enumerated() {
                let xi = r[ci] / scale[i]
                atb[i] += xi   // target: predicted / measured = 1
                for (j, cj) in cols.enumerated() { ata[i * p + j] += xi * r[cj] / scale[j] }
            }
        }
        let ridge = 1e-6 * Double(rows.count)
        for i in 0..<p { ata[i * p + i] += ridge }
        guard let x = solve(ata, atb, p) else { return nil }
        var out = [Double](repeating: 0, count: active.count)
        for (j, c) in cols.enumerated() { out[c] = x[j] / scale[j] }
        return out
    }

    /// Gaussian elimination with partial pivoting on a p×p system.
    static func solve(_ a0: [Double], _ b0: [Double], _ p: Int) -> [Double]? {
        var a = a0, b = b0
        for col in 0..<p {
            var piv = col
            for r in col..<p where abs(a[r * p + col]) > abs(a[piv * p + col]) { piv = r }
            guard abs(a[piv * p + col]) > 1e-300 else { return nil }
            if piv != col {
                for j in 0..<p { a.swapAt(col * p + j, piv * p + j) }
                b.swapAt(col, piv)
            }
            for r in (col + 1)..<p {
                let f = a[r * p + col] / a[col * p + col]
                if f == 0 { continue }
                for j in col..<p { a[r * p + j] -= f * a[col * p + j] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: p)
        for r in stride(from: p - 1, through: 0, by: -1) {
            var s = b[r]
            for j in (r + 1)..<p { s -= a[r * p + j] * x[j] }
            x[r] = s / a[r * p + r]
        }
        return x
    }
}

public struct SimulatorError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
