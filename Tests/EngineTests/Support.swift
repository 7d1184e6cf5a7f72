import Engine
import Foundation
import Logging
import Metrics
import Model
import Scheduler
import Testing

enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path
    static let smol = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
}

/// What a request's stream delivered.
struct Collected: Sendable {
    var ids: [Int32] = []
    var text = ""
    var finish: EngineFinishReason?
    var stopReason: String?
    var outputs = 0
    var logprobs: [TokenLogprob] = []
    var timings = RequestTimings()
}

func collect(_ s: AsyncStream<RequestOutput>) async -> Collected {
    var c = Collected()
    for await o in s {
        c.ids += o.newTokenIds; c.text += o.textDelta; c.outputs += 1; c.logprobs += o.logprobs
        if let f = o.finishReason { c.finish = f; c.stopReason = o.stopReason; c.timings = o.timings }
    }
    return c
}

func makeEngine(_ path: String = Paths.stories, tokenizer: String? = Paths.storiesTok, numBlocks: Int? = nil,
                blockSize: Int = 16, prefixCaching: Bool = true, policy: SchedulePolicyName = .mixed,
                maxBatched: Int = 2048, maxSeqs: Int = 64) throws -> Engine {
    var c = EngineConfig()
    c.numBlocks = numBlocks ?? 512
    c.blockSize = blockSize
    c.enablePrefixCaching = prefixCaching
    c.policy = policy == .mixed ? .mixed : .split
    c.maxNumBatchedTokens = maxBatched
    c.maxNumSeqs = maxSeqs
    let e = try Engine.load(modelPath: path, tokenizerPath: tokenizer, config: c, metricsFactory: NOOPMetricsHandler.instance)
    e.start()
    return e
}

enum SchedulePolicyName { case mixed, split }

func greedyParams(_ n: Int) -> SamplingParams {
    var p = SamplingParams()
    p.temperature = 0
    p.maxTokens = n
    return p
}

/// Greedy ids of one sequence straight from the model, no scheduler involved: the reference "run alone".
func soloGreedy(_ m: DecoderModel, prompt: [Int32], maxTokens: Int, stop: Set<Int32>) -> [Int32] {
    let bs = m.kv!.blockSize
    let table = (0..<Int32((prompt.count + maxTokens + bs) / bs)).map { $0 }
    var b = ForwardBatch()
    b.add(tokens: prompt, startPosition: 0, blockTable: table, wantLogits: true)
    var row = m.forward(b).array(0)
    var out: [Int32] = []
    while out.count < maxTokens {
        var best = 0
        for i in 1..<row.count where row[i] > row[best] { best = i }
        out.append(Int32(best))
        if stop.contains(Int32(best)) { break }
        var d = ForwardBatch()
        d.add(tokens: [Int32(best)], startPosition: prompt.count + out.count - 1, blockTable: table, wantLogits: true)
        row = m.forward(d).array(0)
    }
    return out
}

/// Every test that uses a shared model instance directly runs inside this serialized suite.
@Suite("Engine", .serialized) struct EngineSuite {}

enum Shared {
    static let storiesModel: DecoderModel = {
        let m = try! DecoderModel.load(path: Paths.stories)
        try! m.allocateKVCache(blockSize: 16, numBlocks: 64)
        return m
    }()
    static let smolModel: DecoderModel = {
        let m = try! DecoderModel.load(path: Paths.smol)
        try! m.allocateKVCache(blockSize: 16, numBlocks: 64)
        return m
    }()
}

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
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
}
