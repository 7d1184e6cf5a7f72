@testable import Constraints
import Foundation
import Testing

/// Mask cost on a synthetic 262,144-token vocabulary (Gemma 3's size): words with and without a leading space,
/// digits, punctuation runs, JSON fragments, multi-byte UTF-8. Run with SWIFTLET_BENCH_CONSTRAINTS=1 (prints
/// figures; the assertions only bound them loosely).
@Suite("Mask benchmark", .enabled(if: ProcessInfo.processInfo.environment["SWIFTLET_BENCH_CONSTRAINTS"] != nil))
struct MaskBenchmark {
    static func syntheticVocab(_ n: Int) -> [[UInt8]?] {
        var rng = SplitMix(seed: 262)
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let punct = Array("{}[]\":,.;!?()-_'/\\ \n\t0123456789".utf8)
        var seen = Set<[UInt8]>()
        var out: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        for b in out { seen.insert(b!) }
        while out.count < n {
            var t: [UInt8] = []
            switch rng.int(0...9) {
            case 0...4:
                if rng.int(0...1) == 0 { t.append(0x20) }
                for _ in 0..<rng.int(1...9) { t.append(letters[rng.int(0...(letters.count - 1))]) }
            case 5: for _ in 0..<rng.int(1...4) { t.append(punct[rng.int(0...(punct.count - 1))]) }
            case 6: for _ in 0..<rng.int(1...3) { t.append(UInt8(0x30 + rng.int(0...9))) }
            case 7: t = Array(["\":", "\",", "\"}", "{\"", "\": \"", "},", "],", "\":[", " \"", "\n  \"", "null", "true"][rng.int(0...11)].utf8)
                for _ in 0..<rng.int(0...4) { t.append(letters[rng.int(0...25)]) }
            default:
                let c = Unicode.Scalar(UInt32(rng.int(0x400...0x9FFF)))!
                for _ in 0..<rng.int(1...3) { t += Array(String(Character(c)).utf8) }
            }
            if seen.insert(t).inserted { out.append(t) }
        }
        return out + [nil]
    }

    @Test func gemmaSizedVocabulary() throws {
        let clock = ContinuousClock()
        let tokens = Self.syntheticVocab(262_144)
        var vocab: VocabIndex!
        let build = clock.measure { vocab = VocabIndex(tokenBytes: tokens, stopIds: [Int32(tokens.count - 1)]) }
        let schema = #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name","age","tags"],"additionalProperties":false}"#
        let idx = GrammarIndex(grammar: try ConstraintSpec.compileUncached(.jsonSchema(schema)), vocab: vocab)
        var rng = SplitMix(seed: 1)
        // Cold: a random walk computes each new configuration's mask once.
        var cold = Duration.zero, coldCount = 0, warm = Duration.zero, warmCount = 0
        for round in 0..<2 {
            var s = ConstraintState(index: idx)
            rng = SplitMix(seed: 1)
            for _ in 0..<120 where !s.isComplete {
                var allowed: [Int32] = []
                let before = idx.maskComputations
                let t = clock.measure {
                    s.withMask { mask, _ in
                        // what the sampler does with it: one pass over the words
                        var n = 0
                        for w in 0..<vocab.words where mask[w] != 0 { n += mask[w].nonzeroBitCount }
                        precondition(n > 0)
                    }
                }
                if idx.maskComputations > before { cold += t; coldCount += 1 } else { warm += t; warmCount += 1 }
                s.withMask { mask, _ in
                    for _ in 0..<64 {
                        let t = rng.int(0...(vocab.vocabSize - 1))
                        if mask[t / 32] & (1 << UInt32(t % 32)) != 0, !vocab.stopIds.contains(Int32(t)) { allowed.append(Int32(t)) }
                    }
                    if allowed.isEmpty {
                        for t in 0..<vocab.vocabSize where mask[t / 32] & (1 << UInt32(t % 32)) != 0 && !vocab.stopIds.contains(Int32(t)) { allowed.append(Int32(t)); break }
                    }
                }
                guard !allowed.isEmpty else { break }
                let ok = s.advance(allowed[0])
                #expect(ok)
            }
            _ = round
        }
        print("262k vocabulary: index build \(build); cold masks \(coldCount), mean \(coldCount > 0 ? cold / coldCount : .zero); warm lookups \(warmCount), mean \(warmCount > 0 ? warm / warmCount : .zero); configurations \(idx.configurationCount)")
        #expect(warmCount > 0)
    }
}
