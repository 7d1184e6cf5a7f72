import Testing
import Tokenizer

/// llama.cpp's tokenizer vectors (tests/test-tokenizer-0.cpp encodes with add_special = false, parse_special = false).
@Suite struct LlamaCppVocabConformance {
    @Test(arguments: ["ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"])
    func vectorsMatch(file: String) throws {
        let tokenizer = try Fixtures.gguf(file)
        let cases = try Fixtures.vocabCases(file)
        #expect(cases.count == 46)
        for (input, expected) in cases {
            let ids = tokenizer.encode(input, addSpecial: false, parseSpecial: false)
            #expect(ids == expected, "input \(input.debugDescription)")
        }
    }

    @Test func llamaSpmFlags() throws {
        let t = try Fixtures.gguf("ggml-vocab-llama-spm.gguf")
        #expect(t.kind == .sentencePiece)
        #expect(t.vocabSize == 32000)
        #expect(t.bosId == 1 && t.eosId == 2 && t.addBOS && !t.addEOS)
        #expect(t.stopIds == [2])
        #expect(t.encode("Hello world") == [1, 15043, 3186])   // llama 2: "▁Hello" "▁world"
        #expect(t.tokenText(15043) == "▁Hello")
        #expect(t.pieceBytes(15043) == Array(" Hello".utf8))
        #expect(t.pieceBytes(3 + 0x0A) == [0x0A])            // <0x0A>
        #expect(t.isSpecial(1) && !t.isSpecial(15043))
    }

    @Test func gpt2Flags() throws {
        let t = try Fixtures.gguf("ggml-vocab-gpt-2.gguf")
        #expect(t.kind == .byteLevelBPE)
        #expect(t.bosId == 50256 && t.eosId == 50256 && !t.addBOS)
        #expect(t.stopIds == [50256])
        #expect(t.isSpecial(50256))  // <|endoftext|> is typed normal in the file; llama.cpp forces control
        #expect(t.encode("<|endoftext|>", parseSpecial: true) == [50256])
        #expect(t.encode("<|endoftext|>", parseSpecial: false) != [50256])
        #expect(t.pieceBytes(220) == [0x20])                 // "Ġ"
    }

    @Test(arguments: ["ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"])
    func roundTrips(file: String) throws {
        let tokenizer = try Fixtures.gguf(file)
        for (input, _) in try Fixtures.vocabCases(file) {
            #expect(tokenizer.decode(tokenizer.encode(input)) == input, "input \(input.debugDescription)")
        }
    }
}
