import Bench
import Foundation
import Testing
import Tokenizer

@Suite struct DatasetTests {
    @Test func randomTokenPromptsHaveExactLengths() throws {
        let reqs = try Datasets.random(count: 20, inputLen: 32, outputLen: 16, seed: 1, tokenizer: WordTokenizer(), asText: false)
        #expect(reqs.count == 20)
        for r in reqs {
            guard case .tokens(let ids) = r.prompt else { Issue.record("expected token ids"); return }
            #expect(ids.count == 32 && r.promptLength == 32 && r.outputLength == 16)
            #expect(ids.allSatisfy { (10..<100).contains($0) })
        }
        #expect(Set(reqs.map(\.prompt)).count == 20, "prompts should differ")
    }

    @Test func rangeRatioBoundsLengths() throws {
        // ratio 0.5 around 20 → [10, 30]; around 8 → [4, 12].
        let reqs = try Datasets.random(count: 300, inputLen: 20, outputLen: 8, rangeRatio: 0.5, seed: 3,
                                       tokenizer: WordTokenizer(), asText: false)
        #expect(reqs.allSatisfy { (10...30).contains($0.promptLength) && (4...12).contains($0.outputLength) })
        #expect(Set(reqs.map(\.promptLength)).count > 10)
    }

    @Test func textPromptsForChat() throws {
        let reqs = try Datasets.random(count: 3, inputLen: 5, outputLen: 4, seed: 1, tokenizer: WordTokenizer(), asText: true)
        for r in reqs {
            guard case .text(let s) = r.prompt else { Issue.record("expected text"); return }
            #expect(s.split(separator: " ").count == 5 && r.promptLength == 5)
        }
    }

    @Test func prefixGroupsShareTheirPrefix() throws {
        let reqs = try Datasets.prefix(count: 12, prefixLen: 16, numGroups: 3, inputLen: 4, outputLen: 2, seed: 9,
                                       tokenizer: WordTokenizer(), asText: false)
        let ids = reqs.map { r -> [Int] in if case .tokens(let t) = r.prompt { return t } else { return [] } }
        #expect(ids.allSatisfy { $0.count == 20 })
        for i in 0..<12 {
            #expect(ids[i].prefix(16) == ids[i % 3].prefix(16))
            #expect(ids[i].suffix(4) != ids[(i + 3) % 12].suffix(4))
        }
        #expect(ids[0].prefix(16) != ids[1].prefix(16))
    }

    @Test func shareGPTFirstTurnIsPromptSecondGivesLength() throws {
        let dir = try Paths.tempDir("sharegpt")
        let path = dir + "/sg.json"
        let convs: [[String: Any]] = [
            ["id": "a", "conversations": [["from": "human", "value": "w10 w11 w12 w13 w14"],
                                          ["from": "gpt", "value": "w20 w21 w22 w23 w24 w25"]]],
            ["id": "short", "conversations": [["from": "human", "value": "w10 w11"], ["from": "gpt", "value": "w1 w2 w3 w4"]]],
            ["id": "one-turn", "conversations": [["from": "human", "value": "w10 w11 w12 w13"]]],
        ]
        try JSONSerialization.data(withJSONObject: convs).write(to: URL(fileURLWithPath: path))
        // Only "a" survives (the second prompt has 2 < 4 tokens; the third has no answer): reused 3 times.
        let reqs = try Datasets.shareGPT(path: path, count: 3, seed: 0, tokenizer: WordTokenizer())
        #expect(reqs.count == 3)
        #expect(reqs.allSatisfy { $0.prompt == .text("w10 w11 w12 w13 w14") && $0.promptLength == 5 && $0.outputLength == 6 })
        #expect(try Datasets.shareGPT(path: path, count: 1, seed: 0, tokenizer: WordTokenizer(), fixedOutputLen: 9)[0].outputLength == 9)
    }

    @Test func jsonlLines() throws {
        let dir = try Paths.tempDir("jsonl")
        let path = dir + "/r.jsonl"
        try "{\"prompt\": \"w10 w11 w12\", \"max_tokens\": 7}\n\n{\"prompt\": [1, 2, 3, 4], \"max_tokens\": 3}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let reqs = try Datasets.jsonl(path: path, count: nil, tokenizer: WordTokenizer())
        #expect(reqs == [BenchRequest(prompt: .text("w10 w11 w12"), promptLength: 3, outputLength: 7),
                         BenchRequest(prompt: .tokens([1, 2, 3, 4]), promptLength: 4, outputLength: 3)])
        try "{\"prompt\": 5}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: BenchError.self) { try Datasets.jsonl(path: path, count: nil, tokenizer: nil) }
    }

    @Test func datasetSpecNeedsATokenizerForRandom() {
        #expect(throws: BenchError.self) {
            try DatasetSpec.random(inputLen: 4, outputLen: 4, rangeRatio: 0).build(count: 1, seed: 0, tokenizer: nil, endpoint: .completions)
        }
    }

    @Test func ggufTokenizerSkipsSpecialTokens() throws {
        let path = Paths.root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let tok = try ModelTokenizer(path: path)
        let specials = (0..<tok.tokenizer.vocabSize).filter { tok.tokenizer.isSpecial(Int32($0)) }
        #expect(!specials.isEmpty && tok.promptTokenIds.count > 40_000)
        #expect(Set(tok.promptTokenIds).isDisjoint(with: specials))
        // "Hello world" is two ordinary tokens of this vocabulary; both are drawable.
        let ids = tok.encode("Hello world")
        #expect(ids.count == 2 && ids.allSatisfy { tok.promptTokenIds.contains($0) })
        #expect(tok.decode(ids) == "Hello world")
    }

    @Test func modelTokenizerDrawsRealTokens() throws {
        let tok = try ModelTokenizer(path: Paths.storiesTok)
        // llama2.c: 0 unk, 1 bos, 2 eos, 3...258 bytes; everything drawn is an ordinary piece.
        #expect(!tok.promptTokenIds.isEmpty)
        #expect(!tok.promptTokenIds.contains(1) && !tok.promptTokenIds.contains(2) && !tok.promptTokenIds.contains(0))
        #expect(tok.encode(tok.decode([300, 301])).count >= 1)
    }
}
