import Foundation
import Model
import Testing

/// Paths of the repository's models, found from this file's location.
enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let stories = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let storiesTok = root.appendingPathComponent("models/stories260K/tok512.bin").path
    static let storiesGolden = root.appendingPathComponent("models/stories260K/golden_greedy.json").path
    static let smol = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let smolGolden = root.appendingPathComponent("models/smollm2-135m-instruct/golden_greedy.json").path
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }
}

/// Every test that runs a shared model lives inside this suite, so they run one at a time
/// (a model's scratch buffers and KV cache belong to one caller at a time).
@Suite("Model", .serialized) struct ModelSuite {}

/// Models are loaded once per test process.
enum Models {
    static let stories: DecoderModel = {
        let m = try! DecoderModel.load(path: Paths.stories)
        try! m.allocateKVCache(blockSize: 16, numBlocks: 256)
        return m
    }()
    static let smol: DecoderModel = {
        let m = try! DecoderModel.load(path: Paths.smol)
        try! m.allocateKVCache(blockSize: 16, numBlocks: 256)
        return m
    }()
}

func argmax(_ row: UnsafeBufferPointer<Float>) -> Int32 {
    var best = 0
    for i in 1..<row.count where row[i] > row[best] { best = i }
    return Int32(best)
}

/// Greedy decoding of one sequence: the whole prompt in one forward, then one token per step.
/// Returns the generated ids and the logits row of every step.
func greedy(_ m: DecoderModel, prompt: [Int32], steps: Int, stop: Int32? = nil,
            table: [Int32]? = nil) -> (ids: [Int32], logits: [[Float]]) {
    let bs = m.kv!.blockSize
    let need = (prompt.count + steps + bs - 1) / bs
    let blocks = table ?? (0..<Int32(need)).map { $0 }
    var b = ForwardBatch()
    b.add(tokens: prompt, startPosition: 0, blockTable: blocks, wantLogits: true)
    var out = m.forward(b)
    var ids: [Int32] = [], rows: [[Float]] = []
    var pos = prompt.count
    for _ in 0..<steps {
        let row = out.row(0)
        rows.append(Array(row))
        let next = argmax(row)
        if next == stop { break }
        ids.append(next)
        var d = ForwardBatch()
        d.add(tokens: [next], startPosition: pos, blockTable: blocks, wantLogits: true)
        out = m.forward(d)
        pos += 1
    }
    return (ids, rows)
}

struct OracleGolden: Decodable {
    let prompt_ids: [Int32]
    let generated_ids: [Int32]
    let top_logits: [[[Double]]]
    let text: String?
}
