import Foundation

/// A small, fast, seedable generator (xoshiro256**), one per request, so a seeded request draws the same
/// numbers whatever else shares its batch.
struct RequestRNG: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func split() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (split(), split(), split(), split())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
}

/// One request's sampling state: its parameters, RNG, and the token counts the penalties need.
struct SequenceSampler: Sendable {
    let params: SamplingParams
    var rng: RequestRNG
    /// Occurrences of each generated token (presence / frequency penalties).
    var outputCounts: [Int32: Int] = [:]
    /// Tokens seen in prompt or output (repetition penalty).
    var seen: Set<Int32>
    var generated = 0

    /// `resumed`: the prompt's last tokens that were this request's output before a resumption.
    init(params: SamplingParams, prompt: [Int32], resumed: Int = 0) {
        self.params = params
        rng = RequestRNG(seed: params.seed ?? UInt64.random(in: .min ... .max))
        seen = params.repetitionPenalty != 1 ? Set(prompt) : []
        guard resumed > 0 else { return }
        if params.presencePenalty != 0 || params.frequencyPenalty != 0 {
            for t in prompt.suffix(resumed) { outputCounts[t, default: 0] += 1 }
        }
        if Self.draws(params) { for _ in 0..<resumed { _ = rng.uniform() } }   // one draw per sampled token
    }

    /// Whether sampling a token takes a random draw (greedy does not).
    static func draws(_ p: SamplingParams) -> Bool { !(p.temperature <= 1e-5 || p.topK == 1) }

    mutating func record(_ token: Int32) {
        generated += 1
        if params.presencePenalty != 0 || params.frequencyPenalty != 0 { outputCounts[token, default: 0] += 1 }
        if params.repetitionPenalty != 1 { seen.insert(token) }
    }
}

/// Turns one row of logits into a token, per request parameters. Owns its scratch (one vocab-sized buffer)
/// so sampling allocates nothing per token beyond the optional logprobs result.
final class Sampler {
    let vocab: Int
    private let work: UnsafeMutablePointer<Float>    // [vocab] processed logits, then probabilities
    private let idx: UnsafeMutablePointer<Int32>     // [vocab] candidate ids
    private let saved: UnsafeMutablePointer<Float>   // [vocab] processed logits kept for logprobs

    /// How long the last `sample` took to apply its mask (ns), for the constraint-overhead figures.
    private(set) var lastMaskNanos: UInt64 = 0

    init(vocab: Int) {
        self.vocab = vocab
        work = .allocate(capacity: vocab)
        idx = .allocate(capacity: vocab)
        saved = .allocate(capacity: vocab)
    }

    deinit { work.deallocate(); idx.deallocate(); saved.deallocate() }

    struct Result {
        var token: Int32
        var logprob: TokenLogprob?
    }

    /// Samples the next token. `banned` tokens (EOS before min_tokens) get −∞, and so does every token whose bit
    /// is clear in `mask` ([⌈vocab/32⌉] words; the constraint's allowed tokens), when given.
    func sample(_ logits: UnsafeBufferPointer<Float>, _ s: inout SequenceSampler, banned: Set<Int32>,
                mask: UnsafePointer<UInt32>? = nil) -> Result {
        let p = s.params
        work.update(from: logits.baseAddress!, count: vocab)
        applyPenalties(&s)
        for (t, b) in p.logitBias where Int(t) < vocab && t >= 0 { work[Int(t)] += b }
        for t in banned where Int(t) < vocab && t >= 0 { work[Int(t)] = -.infinity }
        if let mask {
            let t0 = DispatchTime.now().uptimeNanoseconds
            applyMask(mask)
            lastMaskNanos = DispatchTime.now().uptimeNanoseconds &- t0
        }
        let lp = p.logprobs.map { logprobTable(top: $0) }
        if lp != nil { saved.update(from: work, count: vocab) }
        let token: Int32
        if !SequenceSampler.draws(p) {
            token = argmax()
        } else {
            token = draw(&s)
        }
        s.record(token)
        return Result(token: token, logprob: lp.map { table in
            TokenLogprob(tokenId: token, logprob: saved[Int(token)] - table.logZ, top: table.top)
        })
    }

    /// The log-probability of `token` under the raw logits, with the top `n` alternatives (prompt logprobs).
    func logprob(_ logits: UnsafeBufferPointer<Float>, token: Int32, top n: Int) -> TokenLogprob {
        work.update(from: logits.baseAddress!, count: vocab)
        let table = logprobTable(top: n)
        return TokenLogprob(tokenId: token, logprob: work[Int(token)] - table.logZ, top: table.top)
    }

    /// −∞ for every token the mask leaves out; whole words at a time (all allowed: skipped, none: filled).
    private func applyMask(_ mask: UnsafePointer<UInt32>) {
        let words = (vocab + 31) / 32
        for w in 0..<words {
            let bits = mask[w]
            if bits == .max { continue }
            let base = w &* 32
            let end = min(32, vocab &- base)
            if bits == 0 {
                for j in 0..<end { work[base &+ j] = -.infinity }
            } else {
                var out = ~bits   // the refused tokens of this word, lowest first
                if end < 32 { out &= (1 << UInt32(end)) &- 1 }
                while out != 0 {
                    work[base &+ out.trailingZeroBitCount] = -.infinity
                    out &= out &- 1
                }
            }
        }
    }

    private func applyPenalties(_ s: inout SequenceSampler) {
        let p = s.params
        if p.repetitionPenalty != 1 {
            for t in s.seen where Int(t) < vocab {
                let v = work[Int(t)]
                work[Int(t)] = v > 0 ? v / p.repetitionPenalty : v * p.repetitionPenalty
            }
        }
        if p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            for (t, n) in s.outputCounts where Int(t) < vocab {
                work[Int(t)] -= p.frequencyPenalty * Float(n) + p.presencePenalty
            }
        }
    }

    private func argmax() -> Int32 {
        var best = 0
        for i in 1..<vocab where work[i] > work[best] { best = i }
        return Int32(best)
    }

    /// Log-softmax normaliser and the top-n entries of the processed logits (before temperature).
    struct LogprobTable {
        var logZ: Float
        var top: [TopLogprob]
    }

    private func logprobTable(top n: Int) -> LogprobTable {
        var m = -Float.infinity
        for i in 0..<vocab where work[i] > m { m = work[i] }
        var sum: Float = 0
        for i in 0..<vocab { sum += Foundation.exp(work[i] - m) }
        let logZ = m + Foundation.log(sum)
        let best = topN(n)
        return LogprobTable(logZ: logZ, top: best.map { TopLogprob(tokenId: $0, logprob: work[Int($0)] - logZ) })
    }

    /// Indices of the n largest entries of `work`, best first (n is small: at most 20).
    private func topN(_ n: Int) -> [Int32] {
        guard n > 0 else { return [] }
        var best: [Int32] = []
        best.reserveCapacity(n + 1)
        for i in 0..<vocab {
            let v = work[i]
            if best.count == n, v <= work[Int(best[n - 1])] { continue }
            var j = best.count
            while j > 0, work[Int(best[j - 1])] < v { j -= 1 }
            best.insert(Int32(i), at: j)
            if best.count > n { best.removeLast() }
        }
        return best
    }

    /// Temperature, top-k, top-p, min-p, then a draw from the request's RNG.
    private func draw(_ s: inout SequenceSampler) -> Int32 {
        let p = s.params
        let invT = 1 / p.temperature
        var m = -Float.infinity
        for i in 0..<vocab where work[i] > m { m = work[i] }
        // Candidates: every finite token, as probabilities (unnormalised).
        var n = 0
        var total: Float = 0
        for i in 0..<vocab where work[i] > -.infinity {
            let e = Foundation.exp((work[i] - m) * invT)
            work[n] = e; idx[n] = Int32(i); n += 1; total += e
        }
        if p.topK > 0 && p.topK < n { n = keepLargest(p.topK, n); total = sum(n) }
        if p.minP > 0 {   // the max probability is exp(0) = 1 before normalisation
            n = keepAtLeast(p.minP, n); total = sum(n)
        }
        if p.topP < 1 { n = nucleus(p.topP * total, n); total = sum(n) }
        var r = s.rng.uniform() * total
        for i in 0..<n {
            r -= work[i]
            if r < 0 { return idx[i] }
        }
        return idx[max(n - 1, 0)]
    }

    private func sum(_ n: Int) -> Float {
        var t: Float = 0
        for i in 0..<n { t += work[i] }
        return t
    }

    /// Keeps the k largest candidates (partial order by repeated threshold halving is overkill; a sort of
    /// the k survivors is cheap because k is small relative to the vocabulary in practice).
    private func keepLargest(_ k: Int, _ n: Int) -> Int {
        let t = threshold(n) { count, _ in count >= k }
        return compact(n) { $0 >= t }
    }

    private func keepAtLeast(_ minP: Float, _ n: Int) -> Int {
        compact(n) { $0 >= minP }
    }

    /// Smallest set of most probable candidates whose mass reaches `mass`.
    private func nucleus(_ mass: Float, _ n: Int) -> Int {
        let t = threshold(n) { _, m in m >= mass }
        return compact(n) { $0 >= t }
    }

    /// Bisection for the largest probability threshold t at which `enough(count ≥ t, mass ≥ t)` still holds.
    /// Candidates are in (0, 1], so 40 halvings pin t to well below Float precision.
    private func threshold(_ n: Int, enough: (Int, Float) -> Bool) -> Float {
        var lo: Float = 0, hi: Float = 1.000001
        for _ in 0..<40 {
            let mid = (lo + hi) / 2
            var c = 0
            var mass: Float = 0
            for i in 0..<n where work[i] >= mid { c += 1; mass += work[i] }
            if enough(c, mass) { lo = mid } else { hi = mid }
        }
        return lo
    }

    private func compact(_ n: Int, keep: (Float) -> Bool) -> Int {
        var j = 0
        for i in 0..<n where keep(work[i]) {
            work[j] = work[i]; idx[j] = idx[i]; j += 1
        }
        return max(j, 1)
    }
}
