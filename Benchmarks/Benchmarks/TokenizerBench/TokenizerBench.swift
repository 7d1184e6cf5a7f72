import BenchSupport
import Benchmark
import Foundation
import ModelFormats
import Tokenizer

// Encode throughput (bytes of UTF-8 per second) over a fixed English text: the Apache-2.0 license, 11 KB.

/// A loaded tokenizer and the text to encode.
struct EncodeCase: @unchecked Sendable {
    let tokenizer: Tokenizer
    let text: String
    var bytes: Double { Double(text.utf8.count) }

    static func load(_ makeTokenizer: () throws -> Tokenizer) throws -> EncodeCase {
        let text = try String(contentsOfFile: BenchPaths.require(BenchPaths.englishText), encoding: .utf8)
        return EncodeCase(tokenizer: try makeTokenizer(), text: text)
    }
}

func registerEncode(_ name: String, _ makeTokenizer: @escaping @Sendable () throws -> Tokenizer) {
    Benchmark("encode Apache-2.0 text, \(name)") { benchmark, c in
        var ids: [Int32] = []
        benchmark.recordRate(.bytesPerSecond, units: c.bytes) {
            ids = c.tokenizer.encode(c.text, addSpecial: false, parseSpecial: false)
        }
        precondition(ids.count > 100, "the tokenizer produced \(ids.count) ids")
        blackHole(ids)
    } setup: {
        try EncodeCase.load(makeTokenizer)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .bytesPerSecond, .mallocCountTotal],
        warmupIterations: 2, maxDuration: .seconds(2), maxIterations: 200)
    registerEncode("SmolLM2 byte-level BPE (49152)") {
        try Tokenizer(gguf: GGUFFile(path: BenchPaths.require(BenchPaths.smolLM2)))
    }
    registerEncode("stories260K SentencePiece (tok512)") {
        try Tokenizer(llama2cTokenizerPath: BenchPaths.require(BenchPaths.stories260KTokenizer), vocabSize: 512)
    }
}
