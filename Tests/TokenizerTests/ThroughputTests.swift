import Foundation
import Testing
import Tokenizer

/// Encode throughput on English prose (Apache-2.0 + GFDL-1.3 license texts, 34 KB) with SmolLM2's vocabulary.
/// Prints MB/s; run with `swift test -c release --filter Throughput` for a meaningful number.
@Suite struct ThroughputTests {
    @Test func smolLMEncodeThroughput() throws {
        try measure(Fixtures.smolLM, "SmolLM2 (byte-level BPE)")
    }

    @Test func llamaSentencePieceEncodeThroughput() throws {
        try measure(try Fixtures.gguf("ggml-vocab-llama-spm.gguf"), "Llama 2 (SentencePiece)")
    }

    func measure(_ t: Tokenizer, _ name: String) throws {
        let text = try Fixtures.text("english-sample.txt")
        let bytes = text.utf8.count
        var ids = t.encode(text)
        #expect(t.decode(ids) == text)
        let ratio = Double(ids.count) / Double(bytes)
        #expect(ratio > 0.15 && ratio < 0.35, "tokens per byte \(ratio)")
        let rounds = 10
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<rounds { ids = t.encode(text) }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let mbPerSecond = Double(bytes * rounds) / seconds / 1e6
        print("\(name) encode: \(bytes) bytes -> \(ids.count) tokens, \(String(format: "%.2f", mbPerSecond)) MB/s")
        #expect(mbPerSecond > 0.01)
    }
}
