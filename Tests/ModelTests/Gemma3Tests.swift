import Foundation
import Model
import Tensor
import Testing

/// The oracle's goldens of a whole file (`../shared/models/*/golden_greedy.json` shape).
struct OracleGoldenFile: Decodable {
    struct Case: Decodable {
        let name: String
        let prompt_ids: [Int32]
        let generated_ids: [Int32]
        let top_logits: [[[Double]]]?
    }
    let cases: [Case]
}

extension ModelSuite {
/// Gemma 3 270M Q4_K_M (models/fetch-gemma3.sh): a second real architecture with K-quant tensors, sliding-window
/// layers and a 262k vocabulary, against the oracle's goldens token for token in exact precision.
@Suite("Gemma 3 270M against the oracle", .serialized)
struct Gemma3Tests {
    static let path = Paths.root.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    static let goldenPath = Paths.root.deletingLastPathComponent().appendingPathComponent("shared/models/gemma3-270m/golden_greedy.json").path

    static func load() throws -> DecoderModel {
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run models/fetch-gemma3.sh")
        let m = try DecoderModel.load(path: path)
        try m.allocateKVCache(blockSize: 16, numBlocks: 128)
        return m
    }

    static func goldens() throws -> OracleGoldenFile {
        let local = Paths.fixture("gemma3-270m-golden_greedy.json")
        let p = FileManager.default.fileExists(atPath: goldenPath) ? goldenPath : local
        return try JSONDecoder().decode(OracleGoldenFile.self, from: Data(contentsOf: URL(fileURLWithPath: p)))
    }

    @Test func configurationFromTheFile() throws {
        let m = try Self.load()
        let c = m.config
        #expect(c.architecture == .gemma3)
        #expect(c.nLayers == 18 && c.dim == 640 && c.nHeads == 4 && c.nKVHeads == 1 && c.headDim == 256)
        #expect(c.vocabSize == 262_144 && c.tiedOutput)
        #expect(c.slidingWindow == 512)
        #expect((0..<18).filter { !c.isLocal($0) } == [5, 11, 17])
        #expect(c.qkNorm && c.postNorms && c.activation == .geluTanh && !c.attentionBias)
        // K-quant tensors stay in their encoding
        let f = m.weights.formats
        #expect(f[.q4_K] != nil && f[.q6_K] != nil)
        #expect(f[.f32] == nil)
    }

    /// Greedy ids equal to the oracle's, including the prompt longer than the 512-token window, in exact
    /// precision; the top logits within 1e-3 of the largest.
    @Test func greedyMatchesTheOracle() throws {
        let m = try Self.load()
        for g in try Self.goldens().cases {
            let r = greedy(m, prompt: g.prompt_ids, steps: g.generated_ids.count)
            #expect(r.ids == g.generated_ids, "\(g.name)")
            for (step, tops) in (g.top_logits ?? []).enumerated() where step < r.logits.count {
                let scale = max(1, tops.map { abs($0[1]) }.max()!)
                for pair in tops {
                    let id = Int(pair[0])
                    #expect(abs(Double(r.logits[step][id]) - pair[1]) <= 2e-3 * scale, "\(g.name) step \(step) token \(id)")
                }
            }
        }
    }

    /// Chunked prefill (chunks smaller than the window, and not aligned to it) gives the same logits as one chunk.
    @Test func chunkedPrefillAcrossTheWindow() throws {
        let m = try Self.load()
        let g = try #require(try Self.goldens().cases.first { $0.prompt_ids.count > 512 })
        let one = greedy(m, prompt: g.prompt_ids, steps: 1).logits[0]
        let bs = m.kv!.blockSize
        let table = (0..<Int32((g.prompt_ids.count + bs) / bs)).map { $0 }
        var start = 0
        var last: [Float] = []
        while start < g.prompt_ids.count {
            let end = min(start + 173, g.prompt_ids.count)
            var b = ForwardBatch()
            b.add(tokens: g.prompt_ids[start..<end], startPosition: start, blockTable: table, wantLogits: end == g.prompt_ids.count)
            let out = m.forward(b)
            if end == g.prompt_ids.count { last = out.array(0) }
            start = end
        }
        try #require(last.count == one.count)
        let scale = max(1, one.map(abs).max()!)
        let worst = zip(last, one).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-3 * scale)
        #expect(argmax(last.withUnsafeBufferPointer { $0 }) == g.generated_ids[0])
    }
}
}
