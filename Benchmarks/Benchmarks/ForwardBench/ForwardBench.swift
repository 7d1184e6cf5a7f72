import BenchSupport
import Benchmark
import Model

// Model.forward on a flat batch: a 512-token prefill, and one decode step for 1, 8 and 32 sequences that each
// attend over a 128-token context (shared prefix blocks, as the prefix cache would give them) plus their own token.

let blockSize = 16

/// A model with a small KV cache and the batch to run, built outside the measured region.
struct ForwardCase: @unchecked Sendable {
    let model: DecoderModel
    let batch: ForwardBatch

    /// Prefill of `tokens` tokens of one sequence at positions 0..<tokens, in blocks 0..<tokens/16.
    static func prefill(path: String, tokens: Int) throws -> ForwardCase {
        let model = try loadModel(path, numBlocks: tokens / blockSize + 1)
        return ForwardCase(model: model, batch: promptBatch(model, tokens: tokens))
    }

    /// Decode step for `batch` sequences at position `context`: positions 0..<context are computed once into
    /// shared blocks, and each sequence writes its new token into a block of its own.
    static func decode(path: String, batch: Int, context: Int) throws -> ForwardCase {
        let shared = context / blockSize   // context is a multiple of the block size
        let model = try loadModel(path, numBlocks: shared + batch)
        _ = model.forward(promptBatch(model, tokens: context))
        var b = ForwardBatch()
        for i in 0..<batch {
            let table = (0..<Int32(shared)).map { $0 } + [Int32(shared + i)]   // [shared + 1]
            b.add(tokens: [token(i, model)], startPosition: context, blockTable: table, wantLogits: true)
        }
        return ForwardCase(model: model, batch: b)
    }

    static func loadModel(_ path: String, numBlocks: Int) throws -> DecoderModel {
        let model = try DecoderModel.load(path: BenchPaths.require(path))
        try model.allocateKVCache(blockSize: blockSize, numBlocks: numBlocks)
        return model
    }

    static func promptBatch(_ model: DecoderModel, tokens: Int) -> ForwardBatch {
        var b = ForwardBatch()
        b.add(tokens: (0..<tokens).map { token($0, model) }, startPosition: 0,
              blockTable: (0..<Int32((tokens + blockSize - 1) / blockSize)).map { $0 }, wantLogits: true)
        return b
    }

    /// A fixed, spread-out token id inside the vocabulary.
    static func token(_ i: Int, _ model: DecoderModel) -> Int32 {
        Int32((100 + i * 7) % model.config.vocabSize)
    }
}

func registerForward(model name: String, path: @escaping @Sendable () -> String, prefillTokens: Int,
                     longSteps: Bool) {
    let slow = Benchmark.Configuration(maxDuration: .seconds(longSteps ? 8 : 2), maxIterations: longSteps ? 6 : 200)
    Benchmark("\(name) prefill \(prefillTokens) tokens", configuration: slow) { benchmark, c in
        benchmark.recordRate(.tokensPerSecond, units: Double(c.batch.count)) { blackHole(c.model.forward(c.batch)) }
    } setup: {
        try ForwardCase.prefill(path: path(), tokens: prefillTokens)
    }
    for batch in [1, 8, 32] {
        Benchmark("\(name) decode step, batch \(batch), ctx 128") { benchmark, c in
            benchmark.recordRate(.tokensPerSecond, units: Double(batch)) { blackHole(c.model.forward(c.batch)) }
        } setup: {
            try ForwardCase.decode(path: path(), batch: batch, context: 128)
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .tokensPerSecond, .mallocCountTotal],
        warmupIterations: 2, maxDuration: .seconds(3), maxIterations: 40)
    registerForward(model: "SmolLM2-135M", path: { BenchPaths.smolLM2 }, prefillTokens: 512, longSteps: true)
    registerForward(model: "stories260K", path: { BenchPaths.stories260K }, prefillTokens: 512, longSteps: false)
}
