import Engine
import Foundation
import Model
import Testing

private struct GoldenFile: Decodable {
    struct Case: Decodable { let name: String; let prompt_ids: [Int32]; let generated_ids: [Int32] }
    let cases: [Case]
}

extension EngineSuite {
    /// Gemma 3 270M through the engine: the oracle's goldens alone and inside a batch of 32 mixed requests, with
    /// prefix caching on and off, and through preemption on a pool too small for everyone.
    @Suite("Gemma 3 270M in the engine", .serialized)
    struct Gemma3EngineTests {
        static let path = Paths.root.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
        static let goldenPath = Paths.root.deletingLastPathComponent()
            .appendingPathComponent("shared/models/gemma3-270m/golden_greedy.json").path

        fileprivate static func goldens() throws -> [GoldenFile.Case] {
            try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run models/fetch-gemma3.sh")
            try #require(FileManager.default.fileExists(atPath: goldenPath), "\(goldenPath) is missing")
            return try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: URL(fileURLWithPath: goldenPath))).cases
        }

        static func run(_ engine: Engine, _ reqs: [(prompt: [Int32], max: Int)]) async -> [Collected] {
            await withTaskGroup(of: (Int, Collected).self) { g in
                for (i, r) in reqs.enumerated() {
                    g.addTask {
                        var p = greedyParams(r.max); p.ignoreEOS = true
                        return (i, await collect(try! engine.generate(EngineRequest(promptTokenIds: r.prompt, params: p))))
                    }
                }
                var out = [Collected](repeating: Collected(), count: reqs.count)
                for await (i, c) in g { out[i] = c }
                return out
            }
        }

        @Test(arguments: [true, false])
        func goldensAloneAndInABatchOf32(prefixCaching: Bool) async throws {
            let goldens = try Self.goldens()
            let engine = try makeEngine(Self.path, tokenizer: nil, numBlocks: 400, prefixCaching: prefixCaching,
                                        maxBatched: 512, maxSeqs: 32)
            defer { engine.shutdown() }
            // alone
            for g in goldens {
                let c = try #require(await Self.run(engine, [(g.prompt_ids, g.generated_ids.count)]).first)
                #expect(c.ids == g.generated_ids, "\(g.name) alone")
            }
            // 32 mixed requests: each golden three times (sharing their prefixes), the rest random prompts of mixed
            // lengths, some a prefix of the long golden prompt plus their own tokens
            var rng = SplitMix(seed: 32)
            let long = goldens.max { $0.prompt_ids.count < $1.prompt_ids.count }!
            var reqs: [(prompt: [Int32], max: Int)] = []
            for g in goldens { for _ in 0..<3 { reqs.append((g.prompt_ids, g.generated_ids.count)) } }
            while reqs.count < 32 {
                let own = (0..<rng.int(1...60)).map { _ in Int32(rng.int(300...20000)) }
                let base: [Int32] = reqs.count % 4 == 0 ? Array(long.prompt_ids.prefix(rng.int(20...400))) : [2]
                reqs.append((base + own, rng.int(1...16)))
            }
            let results = await Self.run(engine, reqs)
            for (i, r) in reqs.enumerated() {
                #expect(results[i].finish == .length && results[i].ids.count == r.max, "request \(i)")
                if let g = goldens.first(where: { $0.prompt_ids == r.prompt }) {
                    #expect(results[i].ids == g.generated_ids, "request \(i) (\(g.name)) in the batch")
                }
            }
            // a few of the random ones against the model run alone
            let solo = try DecoderModel.load(path: Self.path)
            try solo.allocateKVCache(blockSize: 16, numBlocks: 64)
            for i in stride(from: goldens.count * 3, to: reqs.count, by: 5) {
                #expect(results[i].ids == soloGreedy(solo, prompt: reqs[i].prompt, maxTokens: reqs[i].max, stop: []), "request \(i)")
            }
            let stats = engine.currentStats
            #expect(stats.numRunning == 0 && stats.numWaiting == 0 && stats.kvUsage == 0)
            if prefixCaching { #expect(stats.prefixCacheHits > 0) } else { #expect(stats.prefixCacheHits == 0) }
        }

        /// 60 blocks of 16 for a 665-token request (42 blocks) and six others: requests are preempted and
        /// recomputed, and the goldens still come out token for token.
        @Test func goldensThroughPreemption() async throws {
            let goldens = try Self.goldens()
            let engine = try makeEngine(Self.path, tokenizer: nil, numBlocks: 60, prefixCaching: true, maxBatched: 256)
            defer { engine.shutdown() }
            var reqs: [(prompt: [Int32], max: Int)] = goldens.map { ($0.prompt_ids, $0.generated_ids.count) }
            var rng = SplitMix(seed: 7)
            for _ in 0..<6 { reqs.append(([2] + (0..<rng.int(100...160)).map { _ in Int32(rng.int(300...20000)) }, 24)) }
            let results = await Self.run(engine, reqs)
            for (i, g) in goldens.enumerated() { #expect(results[i].ids == g.generated_ids, "\(g.name)") }
            for i in goldens.count..<reqs.count { #expect(results[i].finish == .length, "request \(i)") }
            #expect(engine.currentStats.numPreemptions > 0)
            #expect(engine.currentStats.numFreeBlocks == 60)
        }
    }
}
