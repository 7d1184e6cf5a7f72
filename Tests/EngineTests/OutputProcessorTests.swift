import Engine
import Foundation
import Testing
import Tokenizer

/// The one output path: the engine's stream and an `OutputProcessor` fed the same token ids in batches (as the
/// cluster router feeds it) agree on text, stop reason, finish reason and token count.
@Suite struct OutputProcessorTests {
    /// Feeds `ids` in batches of `batch`, as the router's relay does, and finishes like it.
    func replay(_ ids: [Int32], batch: Int, tokenizer: Tokenizer, params: SamplingParams, prompt: [Int32]) -> Collected {
        var p = OutputProcessor(tokenizer: tokenizer, params: params, prompt: prompt)
        var c = Collected()
        var at = 0
        while true {
            let chunk = ids[at..<min(at + batch, ids.count)]
            var out = p.output
            let stop = p.process(chunk, at: OutputProcessor.now(), into: &out)
            at += chunk.count
            let ended = stop?.finishReason ?? (at >= ids.count ? EngineFinishReason.stop : nil)
            if let ended { p.finish(&out, reason: ended, at: OutputProcessor.now()) }
            c.ids += out.newTokenIds; c.text += out.textDelta; c.outputs += 1
            if let f = out.finishReason { c.finish = f; c.stopReason = out.stopReason; c.timings = out.timings; return c }
        }
    }

    @Test func batchedReplayMatchesTheEngine() async throws {
        let engine = try makeEngine()
        defer { engine.shutdown() }
        let prompt = engine.encode("Once upon a time", addSpecial: true, parseSpecial: false)
        let free = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: greedyParams(60))))
        let words: [Substring] = free.text.split(separator: Character(" "))
        let candidate: Substring? = words.dropFirst(4).first(where: { $0.count >= 3 })
        let word = try #require(candidate, "\(free.text)")
        var cases: [SamplingParams] = [greedyParams(60), greedyParams(7)]
        var stopped = greedyParams(60)
        stopped.stop = [String(word.prefix(3)) + "\u{1F600}", String(word.dropFirst())]   // one never matches, one does
        cases.append(stopped)
        var byToken = greedyParams(60)
        byToken.stopTokenIds = [free.ids[10]]
        cases.append(byToken)
        for params in cases {
            let e = await collect(try engine.generate(EngineRequest(promptTokenIds: prompt, params: params)))
            for batch in [1, 3, 1000] {
                let r = replay(e.ids, batch: batch, tokenizer: engine.tokenizer, params: params, prompt: prompt)
                #expect(r.ids == e.ids && r.text == e.text, "batch \(batch) \(params.stop) \(params.stopTokenIds)")
                #expect(r.finish == e.finish && r.stopReason == e.stopReason, "batch \(batch): \(r) vs \(e)")
                #expect(r.timings.timeToFirstToken != nil && r.timings.e2eLatency != nil)
                #expect(r.timings.interTokenGaps.count == r.outputs - 1, "one gap per batch after the first")
            }
        }
    }
}
