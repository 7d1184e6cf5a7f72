import Engine
import Foundation
import Model
import PropertyBased
import Testing
import Tokenizer

extension EngineSuite {
    @Suite("Continuous batching", .serialized)
    struct BatchingTests {
        /// 64 concurrent requests of mixed prompt and output lengths: token for token what each gives alone.
        @Test(arguments: [true, false])
        func sixtyFourConcurrentEqualSolo(prefixCaching: Bool) async throws {
            let engine = try makeEngine(numBlocks: 400, prefixCaching: prefixCaching, maxBatched: 256)
            var rng = SplitMix(seed: 64)
            let base: [Int32] = [1] + (0..<20).map { _ in Int32(rng.int(3...500)) }
            let reqs: [(prompt: [Int32], max: Int)] = (0..<64).map { i in
                // Some share a prefix with `base`, all differ in length.
                let own = (0..<rng.int(1...40)).map { _ in Int32(rng.int(3...500)) }
                return ((i % 3 == 0 ? base : [1]) + own, rng.int(1...60))
            }
            let results = await withTaskGroup(of: (Int, Collected).self) { g in
                for (i, r) in reqs.enumerated() {
                    g.addTask { (i, await collect(try! engine.generate(EngineRequest(promptTokenIds: r.prompt, params: greedyParams(r.max))))) }
                }
                var out = [Collected](repeating: Collected(), count: reqs.count)
                for await (i, c) in g { out[i] = c }
                return out
            }
            let stop = engine.tokenizer.stopIds
            for (i, r) in reqs.enumerated() {
                let solo = soloGreedy(Shared.storiesModel, prompt: r.prompt, maxTokens: r.max, stop: stop)
                #expect(results[i].ids == solo, "request \(i)")
                #expect(results[i].finish == (stop.contains(solo.last!) ? .stop : .length), "request \(i)")
            }
            let stats = engine.currentStats
            #expect(stats.numRunning == 0 && stats.numWaiting == 0)
            #expect(stats.kvUsage == 0)
            if prefixCaching { #expect(stats.prefixCacheHits > 0) } else { #expect(stats.prefixCacheHits == 0) }
            engine.shutdown()
        }

        @Test func smolLM2SubsetEqualSolo() async throws {
            let engine = try makeEngine(Paths.smol, tokenizer: nil, numBlocks: 256, maxBatched: 128)
            let prompts = ["Once upon a time", "The capital of France is", "def add(a, b):", "1, 2, 3, 4,",
                           "Hello! How are", "The weather today"].map { engine.encode($0, addSpecial: true, parseSpecial: false) }
            let lens = [12, 5, 9, 16, 3, 7]
            let results = await withTaskGroup(of: (Int, Collected).self) { g in
                for i in prompts.indices {
                    g.addTask { (i, await collect(try! engine.generate(EngineRequest(promptTokenIds: prompts[i], params: greedyParams(lens[i]))))) }
                }
                var out = [Collected](repeating: Collected(), count: prompts.count)
                for await (i, c) in g { out[i] = c }
                return out
            }
            for i in prompts.indices {
                let solo = soloGreedy(Shared.smolModel, prompt: prompts[i], maxTokens: lens[i], stop: engine.tokenizer.stopIds)
                #expect(results[i].ids == solo, "prompt \(i)")
                #expect(results[i].text == engine.decode(solo.filter { !engine.tokenizer.stopIds.contains($0) }, skipSpecial: true))
            }
            engine.shutdown()
        }

        /// A pool too small for everyone: requests are preempted, recomputed, and still give the same tokens.
        @Test(arguments: [true, false])
        func preemptionKeepsOutputs(split: Bool) async throws {
            let engine = try makeEngine(numBlocks: 12, blockSize: 4, prefixCaching: true, policy: split ? .split : .mixed,
                                        maxBatched: 64)
            var rng = SplitMix(seed: 5)
            let reqs: [[Int32]] = (0..<8).map { _ in [1] + (0..<rng.int(3...8)).map { _ in Int32(rng.int(3...500)) } }
            let results = await withTaskGroup(of: (Int, Collected).self) { g in
                for (i, p) in reqs.enumerated() {
                    g.addTask {
                        var params = greedyParams(30); params.ignoreEOS = true
                        return (i, await collect(try! engine.generate(EngineRequest(promptTokenIds: p, params: params))))
                    }
                }
                var out = [Collected](repeating: Collected(), count: reqs.count)
                for await (i, c) in g { out[i] = c }
                return out
            }
            for (i, p) in reqs.enumerated() {
                #expect(results[i].ids == soloGreedy(Shared.storiesModel, prompt: p, maxTokens: 30, stop: []), "request \(i)")
                #expect(results[i].finish == .length)
            }
            #expect(engine.currentStats.numPreemptions > 0)
            #expect(engine.currentStats.numFreeBlocks == 12)
            engine.shutdown()
        }

        @Test func sharedPrefixHitsCache() async throws {
            let engine = try makeEngine(numBlocks: 64)
            let prefix: [Int32] = [1] + (0..<40).map { Int32(3 + ($0 * 37) % 500) }
            let first = await collect(try engine.generate(EngineRequest(promptTokenIds: prefix + [300], params: greedyParams(8))))
            let hitsBefore = engine.currentStats.prefixCacheHits
            let second = await collect(try engine.generate(EngineRequest(promptTokenIds: prefix + [301], params: greedyParams(8))))
            #expect(engine.currentStats.prefixCacheHits >= hitsBefore + 32)
            #expect(first.ids == soloGreedy(Shared.storiesModel, prompt: prefix + [300], maxTokens: 8, stop: engine.tokenizer.stopIds))
            #expect(second.ids == soloGreedy(Shared.storiesModel, prompt: prefix + [301], maxTokens: 8, stop: engine.tokenizer.stopIds))
            engine.shutdown()
        }
    }
}

@Suite("Engine API")
struct EngineAPITests {
    @Test func seededSamplingReproducibleAloneAndBatched() async throws {
        let engine = try makeEngine()
        var p = SamplingParams(); p.temperature = 0.9; p.topP = 0.95; p.topK = 40; p.seed = 1234; p.maxTokens = 40
        p.ignoreEOS = true
        let prompt: [Int32] = [1, 403, 407]
        let alone = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)))
        let again = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)))
        #expect(alone.ids == again.ids)
        // The same request among 7 others with other seeds.
        let batched = await withTaskGroup(of: (Int, Collected).self) { g in
            for i in 0..<8 {
                var q = p; if i != 3 { q.seed = UInt64(i) }
                g.addTask { (i, await collect(try! engine.generate(EngineRequest(promptTokenIds: prompt, params: q)))) }
            }
            var out: [Int: Collected] = [:]
            for await (i, c) in g { out[i] = c }
            return out
        }
        #expect(batched[3]?.ids == alone.ids)
        // Different seeds do give different samples (40 tokens at T=0.9).
        #expect(Set((0..<8).map { batched[$0]!.ids }).count > 1)
        engine.shutdown()
    }

    /// A request resumed with its first k output tokens appended to the prompt (what the cluster does after an
    /// instance dies) continues exactly as the uninterrupted run: same seeded draws, same penalties.
    @Test(arguments: [5, 17, 31])
    func resumedSeededSamplingContinuesTheSameRun(_ k: Int) async throws {
        let engine = try makeEngine()
        var p = SamplingParams(); p.temperature = 0.8; p.topP = 0.9; p.seed = 77; p.maxTokens = 40; p.ignoreEOS = true
        p.frequencyPenalty = 0.7; p.presencePenalty = 0.4
        let prompt: [Int32] = [1, 403, 407, 261]
        let full = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)))
        try #require(full.ids.count == 40)
        var rest = p; rest.maxTokens = 40 - k
        let resumed = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt + full.ids.prefix(k),
                                                                      params: rest, resumedOutputTokens: k)))
        #expect(Array(full.ids.prefix(k)) + resumed.ids == full.ids)
        // Without the resumption hint the generator restarts and the penalties forget: another continuation.
        let naive = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt + full.ids.prefix(k), params: rest)))
        #expect(naive.ids != resumed.ids)
        engine.shutdown()
    }

    @Test func stopStringsAreHeldBackAndCut() async throws {
        let engine = try makeEngine()
        let full = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: greedyParams(60))))
        // Pick a stop string from the middle of the greedy text.
        let text = full.text
        let start = text.index(text.startIndex, offsetBy: 30)
        let stop = String(text[start..<text.index(start, offsetBy: 5)])
        var p = greedyParams(60); p.stop = [stop]
        let cut = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: p)))
        #expect(cut.finish == .stop)
        #expect(cut.stopReason == stop)
        #expect(!cut.text.contains(stop))
        #expect(text.hasPrefix(cut.text))
        #expect(cut.text == String(text[..<text.range(of: stop)!.lowerBound]))
        engine.shutdown()
    }

    @Test func stopTokenIdsAndMinTokens() async throws {
        let engine = try makeEngine()
        let free = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: greedyParams(40))))
        try #require(free.ids.count > 5, "\(free)")
        let t = free.ids[5], first = try #require(free.ids.firstIndex(of: t))
        var p = greedyParams(40); p.stopTokenIds = [t]
        let stopped = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: p)))
        #expect(stopped.finish == .stop)
        #expect(stopped.ids == Array(free.ids[...first]))
        // min_tokens bans stop tokens until it is reached.
        p.minTokens = 30
        let minned = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: p)))
        #expect(minned.ids.count >= 30)
        #expect(!minned.ids.prefix(29).contains(t))
        engine.shutdown()
    }

    @Test func ignoreEOSRunsPastEndOfTurn() async throws {
        let engine = try makeEngine(Paths.smol, tokenizer: nil, numBlocks: 64)
        let chat = try engine.renderChat([ChatMessageInput(role: "user", content: "What is the capital of France?")],
                                         addGenerationPrompt: true)
        let prompt = engine.encode(chat, addSpecial: true, parseSpecial: true)
        let normal = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: greedyParams(30))))
        #expect(normal.finish == .stop)
        #expect(normal.text == "The capital of France is Paris.")
        var p = greedyParams(12); p.ignoreEOS = true
        let ignored = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)))
        #expect(ignored.finish == .length)
        #expect(ignored.ids.count == 12)
        engine.shutdown()
    }

    @Test func logprobsAreNormalisedAndRanked() async throws {
        let engine = try makeEngine()
        var p = greedyParams(5); p.logprobs = 5
        let r = await collect(try engine.generate(EngineRequest(promptTokenIds: [1, 403], params: p)))
        #expect(r.logprobs.count == 5)
        for lp in r.logprobs {
            let best = try #require(lp.top.first)
            #expect(lp.top.count == 5)
            #expect(best.tokenId == lp.tokenId)          // greedy picks the best
            #expect(abs(best.logprob - lp.logprob) < 1e-5)
            #expect(zip(lp.top, lp.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            #expect(lp.logprob <= 0)
            #expect(lp.top.reduce(Float(0)) { $0 + exp($1.logprob) } <= 1.0001)
        }
        engine.shutdown()
    }

    @Test func rejectsWhatCanNeverFit() async throws {
        let engine = try makeEngine(numBlocks: 4)   // 64 tokens of KV
        #expect(throws: EngineError.self) { try engine.generate(EngineRequest(promptTokenIds: [1, 2, 3], params: greedyParams(100))) }
        #expect(throws: EngineError.self) { try engine.generate(EngineRequest(promptTokenIds: [1, 99999], params: greedyParams(1))) }
        #expect(throws: EngineError.self) { try engine.generate(EngineRequest(promptTokenIds: [], params: greedyParams(1))) }
        let ctx = engine.modelInfo.maxModelLen
        do {
            _ = try engine.generate(EngineRequest(promptTokenIds: [1], params: greedyParams(ctx + 1)))
            Issue.record("expected a context-length error")
        } catch {
            #expect(error.description.contains("\(ctx)"))
        }
        // The engine still serves.
        let ok = await collect(try engine.generate(EngineRequest(promptTokenIds: [1], params: greedyParams(3))))
        #expect(ok.ids.count == 3)
        engine.shutdown()
    }

    @Test func cancellationFreesBlocks() async throws {
        let engine = try makeEngine(numBlocks: 64)
        var p = greedyParams(400); p.ignoreEOS = true
        let stream = try engine.generate(EngineRequest(promptTokenIds: [1, 403], params: p))
        let task = Task { () -> Int in
            var n = 0
            for await o in stream {   // a client that goes away: its task is cancelled, which aborts the request
                n += o.newTokenIds.count
                if n >= 5 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            return n
        }
        #expect(await task.value >= 5)
        var waited = 0
        while engine.currentStats.numFreeBlocks != 64 && waited < 3000 {   // up to 30 s on a loaded machine
            try await Task.sleep(for: .milliseconds(10)); waited += 1 }
        #expect(engine.currentStats.numFreeBlocks == 64)
        #expect(engine.currentStats.numRunning == 0)
        engine.shutdown()
    }
}

extension EngineSuite {
    @Suite("Prompt logprobs", .serialized)
    struct PromptLogprobTests {
        /// echo + logprobs: every prompt position's log-probability of the next prompt token, equal to a direct
        /// forward pass, also when the prompt's blocks are already in the prefix cache.
        @Test func promptLogprobsMatchTheModel() async throws {
            let engine = try makeEngine(numBlocks: 64, maxBatched: 16)   // small budget: chunked prefill
            let prompt: [Int32] = [1] + (0..<40).map { Int32(3 + ($0 * 53) % 500) }
            var p = greedyParams(2); p.promptLogprobs = true; p.logprobs = 2
            let m = Shared.storiesModel
            var b = ForwardBatch()
            b.add(tokens: prompt, startPosition: 0, blockTable: [0, 1, 2], wantLogits: false)
            b.logitRows = (0..<Int32(prompt.count)).map { $0 }
            let out = m.forward(b)
            var want: [Float] = []
            for pos in 0..<(prompt.count - 1) {
                let row = out.row(pos)
                let mx = row.max()!
                let logZ = mx + log(row.reduce(Float(0)) { $0 + exp($1 - mx) })
                want.append(row[Int(prompt[pos + 1])] - logZ)
            }
            for attempt in 0..<2 {   // the second run finds the prompt cached and must still score all of it
                var got: [TokenLogprob]?
                for await o in try engine.generate(EngineRequest(promptTokenIds: prompt, params: p)) {
                    if let pl = o.promptLogprobs { got = pl }
                }
                let g = try #require(got, "attempt \(attempt)")
                #expect(g.count == prompt.count - 1)
                for (i, lp) in g.enumerated() {
                    #expect(lp.tokenId == prompt[i + 1])
                    #expect(abs(lp.logprob - want[i]) < 1e-4, "attempt \(attempt) position \(i)")
                    #expect(lp.top.count == 2)
                }
            }
            engine.shutdown()
        }
    }
}
