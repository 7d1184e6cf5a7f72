@testable import Constraints
import Foundation

/// A vocabulary of the 256 single bytes: matching text byte by byte.
let byteVocab = VocabIndex(tokenBytes: (0..<256).map { [UInt8($0)] }, stopIds: [])

/// Whether the grammar accepts the whole of `text`.
func accepts(_ g: CompiledGrammar, _ text: String) -> Bool {
    let idx = GrammarIndex(grammar: g, vocab: byteVocab)
    var s = ConstraintState(index: idx)
    for b in text.utf8 { guard s.advance(Int32(b)) else { return false } }
    return s.canEnd
}

func grammar(_ kind: ConstraintSpec.Kind) throws -> CompiledGrammar {
    try ConstraintSpec.compileUncached(kind)
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

/// Samples a random output the grammar allows, token by token through the masks, until it is complete or
/// `maxTokens` runs out; returns the text and whether it completed.
func randomOutput(_ idx: GrammarIndex, tokens: [[UInt8]?], rng: inout SplitMix, maxTokens: Int = 400,
                  preferEnd: Bool = true) -> (String, Bool) {
    var s = ConstraintState(index: idx)
    var out: [UInt8] = []
    for step in 0..<maxTokens {
        if s.isComplete { return (String(decoding: out, as: UTF8.self), true) }
        var allowed: [Int32] = []
        s.withMask { mask, _ in
            for t in 0..<idx.vocab.vocabSize where mask[t / 32] & (1 << UInt32(t % 32)) != 0 { allowed.append(Int32(t)) }
        }
        if allowed.isEmpty { return (String(decoding: out, as: UTF8.self), false) }
        // Late in the run, prefer tokens that close things (end sooner); stop tokens end when allowed.
        if preferEnd, step > maxTokens / 2, let stop = allowed.first(where: { idx.vocab.stopIds.contains($0) }) {
            _ = stop
            return (String(decoding: out, as: UTF8.self), true)
        }
        let t = allowed[rng.int(0...(allowed.count - 1))]
        if idx.vocab.stopIds.contains(t) { return (String(decoding: out, as: UTF8.self), true) }
        guard s.advance(t) else { return ("advance refused an allowed token", false) }
        out += tokens[Int(t)]!
    }
    return (String(decoding: out, as: UTF8.self), s.isComplete)
}
