import Engine
import Foundation
import PropertyBased
import Testing
import Tokenizer

extension EngineSuite {
    /// Random arrivals, lengths, priorities and cancellations on a deliberately tiny KV pool, with the real model.
    @Suite("Engine properties", .serialized)
    struct EnginePropertyTests {
        @Test func randomWorkloadsOnTinyPool() async throws {
            let engine = try makeEngine(numBlocks: 16, blockSize: 4, prefixCaching: true, maxBatched: 24, maxSeqs: 6)
            let stop = engine.tokenizer.stopIds
            await propertyCheck(count: 12, input: Gen.int(in: 0...1_000_000)) { seed in
                var rng = SplitMix(seed: UInt64(seed))
                let n = rng.int(2...10)
                struct Spec: Sendable { var prompt: [Int32]; var max: Int; var priority: Int; var delayMs: Int; var cancelAfter: Int? }
                let specs: [Spec] = (0..<n).map { _ in
                    Spec(prompt: [1] + (0..<rng.int(1...12)).map { _ in Int32(rng.int(3...500)) }, max: rng.int(1...30),
                         priority: rng.int(0...2), delayMs: rng.int(0...20), cancelAfter: rng.int(0...3) == 0 ? rng.int(1...5) : nil)
                }
                let results = await withTaskGroup(of: (Int, Collected).self) { g in
                    for (i, s) in specs.enumerated() {
                        g.addTask {
                            try? await Task.sleep(for: .milliseconds(s.delayMs))
                            let stream = try! engine.generate(EngineRequest(promptTokenIds: s.prompt, params: greedyParams(s.max), priority: s.priority))
                            guard let k = s.cancelAfter else { return (i, await collect(stream)) }
                            var c = Collected()
                            for await o in stream {
                                c.ids += o.newTokenIds
                                if let f = o.finishReason { c.finish = f }
                                if c.ids.count >= k { break }
                            }
                            if c.finish == nil { c.finish = .abort }
                            return (i, c)
                        }
                    }
                    var out = [Collected](repeating: Collected(), count: specs.count)
                    for await (i, c) in g { out[i] = c }
                    return out
                }
                for (i, s) in specs.enumerated() {
                    let solo = soloGreedy(Shared.storiesModel, prompt: s.prompt, maxTokens: s.max, stop: stop)
                    if s.cancelAfter != nil {
                        #expect(solo.starts(with: results[i].ids), "seed \(seed) request \(i)")
                    } else {
                        #expect(results[i].ids == solo, "seed \(seed) request \(i)")
                        #expect(results[i].finish == (stop.contains(solo.last!) ? .stop : .length), "seed \(seed) request \(i)")
                    }
                }
                var waited = 0
                while (engine.currentStats.numFreeBlocks != 16 || engine.currentStats.numRunning != 0) && waited < 3000 {   // up to 30 s
                    try? await Task.sleep(for: .milliseconds(10)); waited += 1
                }
                #expect(engine.currentStats.numFreeBlocks == 16, "seed \(seed): blocks leaked")
            }
            engine.shutdown()
        }
    }
}
