import Foundation
import Testing
import Tokenizer

/// The hand-written scanners against Python `regex` running the original patterns (Fixtures/oracle/make_pretokenizer_splits.py).
@Suite struct PreTokenizerTests {
    struct Splits: Decodable {
        let texts: [String]
        let gpt2, llama3, qwen2, smollm: [[String]]
    }

    @Test(arguments: [PreTokenizer.gpt2, .llama3, .qwen2, .smollm])
    func matchesRegexReference(rules: PreTokenizer) throws {
        let data = try Data(contentsOf: Fixtures.url("oracle/pretokenizer-splits.json"))
        let splits = try JSONDecoder().decode(Splits.self, from: data)
        let expected = switch rules {
        case .gpt2: splits.gpt2
        case .llama3: splits.llama3
        case .qwen2: splits.qwen2
        default: splits.smollm
        }
        for (text, words) in zip(splits.texts, expected) {
            #expect(rules.split(text) == words, "\(rules) \(text.debugDescription)")
        }
    }

    @Test func ggufNames() {
        #expect(PreTokenizer(ggufName: "smollm") == .smollm)
        #expect(PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(PreTokenizer(ggufName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(ggufName: nil) == .bpeDefault)
        #expect(PreTokenizer(ggufName: "no-such-pre") == nil)
    }
}
