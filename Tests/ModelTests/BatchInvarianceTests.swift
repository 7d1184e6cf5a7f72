import Foundation
import Model
import Testing

/// A sequence's logits must not depend on what else runs in the batch, how its prompt is chunked,
/// or where its blocks live in the pool.
extension ModelSuite {
@Suite("Batch invariance", .serialized)
struct BatchInvarianceTests {
    static let tolerance: Float = 1e-4

    /// Runs `prompts` together: every prompt whole in one batch, then `decodeSteps` greedy steps all batched.
    /// Returns, per sequence, the logits after the prompt and after each decode step.
    func runBatched(_ m: DecoderModel, prompts: [[Int32]], tables: [[Int32]], decodeSteps: Int,
                    chunk: Int? = nil) -> [[[Float]]] {
        var results = Array(repeating: [[Float]](), count: prompts.count)
        var done = Array(repeating: 0, count: prompts.count)
        // Prefill, possibly in chunks: each step takes the next `chunk` tokens of every unfinished prompt.
        while done.enumerated().contains(where: { $0.element < prompts[$0.offset].count }) {
            var b = ForwardBatch(); var owners: [Int] = []
            for (i, p) in prompts.enumerated() where done[i] < p.count {
                let n = min(chunk ?? p.count, p.count - done[i])
                let last = done[i] + n == p.count
                b.add(tokens: p[done[i]..<(done[i] + n)], startPosition: done[i], blockTable: tables[i], wantLogits: last)
                if last { owners.append(i) }
                done[i] += n
            }
            let out = m.forward(b)
            for (r, i) in owners.enumerated() { results[i].append(out.array(r)) }
        }
        var pos = prompts.map(\.count)
        for _ in 0..<decodeSteps {
            var b = ForwardBatch()
            for i in prompts.indices {
                b.add(tokens: [argmax(results[i].last!.withUnsafeBufferPointer { $0 })], startPosition: pos[i],
                      blockTable: tables[i], wantLogits: true)
                pos[i] += 1
            }
            let out = m.forward(b)
            for i in prompts.indices { results[i].append(out.array(i)) }
        }
        return results
    }

    func maxDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        var d: Float = 0
        for (x, y) in zip(a, b) { for (u, v) in zip(x, y) { d = max(d, abs(u - v)) } }
        return a.count == b.count ? d : .infinity
    }

    func prompts(vocab: Int, count: Int, seed: UInt64) -> [[Int32]] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { i in (0..<(5 + 7 * i + Int(rng.next() % 9))).map { _ in Int32(rng.next() % UInt64(vocab - 3)) + 3 } }
    }

    @Test(arguments: ["stories", "smol"])
    func aloneVersusBatchedChunkedScattered(_ which: String) {
        let m = which == "stories" ? Models.stories : Models.smol
        let ps = prompts(vocab: m.config.vocabSize, count: 8, seed: 7)
        let steps = 6, bs = m.kv!.blockSize
        let need = ps.map { ($0.count + steps + bs - 1) / bs }
        // Contiguous tables for solo runs (each reuses blocks 0..<n: runs are sequential).
        let solo = ps.indices.map { i in runBatched(m, prompts: [ps[i]], tables: [(0..<Int32(need[i])).map { $0 }], decodeSteps: steps)[0] }
        // Disjoint tables, blocks shuffled over the whole pool.
        var rng = SplitMix(seed: 99)
        var ids = (0..<Int32(m.kv!.numBlocks)).map { $0 }
        for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var tables: [[Int32]] = [], at = 0
        for n in need { tables.append(Array(ids[at..<(at + n)])); at += n }
        let batched = runBatched(m, prompts: ps, tables: tables, decodeSteps: steps)
        let chunked = runBatched(m, prompts: ps, tables: tables, decodeSteps: steps, chunk: 3)
        let chunkedGemm = runBatched(m, prompts: ps, tables: tables, decodeSteps: steps, chunk: 11)
        for i in ps.indices {
            #expect(maxDiff(solo[i], batched[i]) <= Self.tolerance, "\(which) seq \(i) batched: \(maxDiff(solo[i], batched[i]))")
            #expect(maxDiff(solo[i], chunked[i]) <= Self.tolerance, "\(which) seq \(i) chunked: \(maxDiff(solo[i], chunked[i]))")
            #expect(maxDiff(solo[i], chunkedGemm[i]) <= Self.tolerance, "\(which) seq \(i) chunk 11: \(maxDiff(solo[i], chunkedGemm[i]))")
        }
    }
}
}

/// Small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
