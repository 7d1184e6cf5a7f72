import Foundation
import ModelFormats
import Testing
import Tokenizer

struct OracleCase: Decodable {
    let prompt: String
    let ids: [Int32]
}

func oracleCases(_ file: String) throws -> [OracleCase] {
    try JSONDecoder().decode([OracleCase].self, from: Data(contentsOf: Fixtures.url("oracle/" + file)))
}

struct GoldenFile: Decodable {
    struct Case: Decodable {
        let name: String
        let prompt_text: String
        let prompt_ids: [Int32]
    }
    let cases: [Case]
}

/// SmolLM2-135M-Instruct: gpt2 byte-level BPE, pre-tokenizer 'smollm', no BOS.
@Suite struct SmolLMTokenizerTests {
    let t = Fixtures.smolLM

    func golden() throws -> GoldenFile {
        let url = Fixtures.modelsDirectory.deletingLastPathComponent()
            .appendingPathComponent("../shared/models/smollm2-135m-instruct/golden_greedy.json").standardized
        let path = FileManager.default.fileExists(atPath: url.path) ? url.path : "/work/shared/models/smollm2-135m-instruct/golden_greedy.json"
        return try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func flags() {
        #expect(t.kind == .byteLevelBPE && t.vocabSize == 49152)
        #expect(!t.addBOS && !t.addEOS && t.bosId == 1 && t.eosId == 2)
        #expect(t.stopIds.contains(2) && t.stopIds.contains(0))  // <|im_end|>, <|endoftext|>
        #expect(t.encode("Once upon a time") == [6403, 1980, 253, 655])
    }

    @Test func goldenChatPrompt() throws {
        let chat = try #require(try golden().cases.first { $0.name == "chat_capital_france" })
        #expect(t.encode(chat.prompt_text, addSpecial: true, parseSpecial: true) == chat.prompt_ids)
        let template = try #require(try t.makeChatTemplate())
        let rendered = try template.render(messages: [ChatMessage(role: "user", content: "What is the capital of France?")],
                                           addGenerationPrompt: true)
        #expect(rendered == chat.prompt_text)
        #expect(t.decode(chat.prompt_ids, skipSpecial: false) == chat.prompt_text)
    }

    @Test func oracleIds() throws {
        let cases = try oracleCases("smollm2-135m-ids.json")
        #expect(cases.count == 8)
        for c in cases {
            #expect(t.encode(c.prompt) == c.ids, "prompt \(c.prompt.debugDescription)")
            #expect(t.decode(c.ids) == c.prompt)
        }
    }

    @Test func digitsSplitSingly() {
        let ids = t.encode("2024")
        #expect(ids.count == 4)
        #expect(ids.map { t.tokenText($0) } == ["2", "0", "2", "4"])
    }

    @Test func roundTrips() {
        for text in ["", " ", "\n\n", "a  b   c\t\td", "Ünïcödé ñ 漢字 🤖🦙", "x = [1, 2, 3]; y = {'a': 0x1F}", "  \n  lead"] {
            #expect(t.decode(t.encode(text)) == text, "\(text.debugDescription)")
        }
    }

    @Test func specialTokensOnlyWhenAsked() {
        let text = "<|im_start|>user"
        #expect(t.encode(text, parseSpecial: true).first == 1)
        #expect(!t.encode(text, parseSpecial: false).contains(1))
        #expect(t.decode(t.encode(text, parseSpecial: true), skipSpecial: true) == "user")
    }
}

/// stories260K tok512.bin, llama2.c semantics; expected ids from the oracle (see Fixtures/oracle/).
@Suite struct Llama2cTokenizerTests {
    let t = Fixtures.stories

    @Test func oracleIds() throws {
        let cases = try oracleCases("stories260K-tok512-ids.json")
        #expect(cases.count == 8)
        for c in cases {
            #expect(t.encode(c.prompt) == c.ids, "prompt \(c.prompt.debugDescription)")
            #expect(t.decode(c.ids) == c.prompt, "prompt \(c.prompt.debugDescription)")
        }
    }

    @Test func flagsAndPieces() {
        #expect(t.vocabSize == 512 && t.bosId == 1 && t.eosId == 2 && t.addBOS)
        #expect(t.tokenText(3) == "<0x00>" && t.pieceBytes(3 + 0x41) == [0x41])
        #expect(t.encode("") == [1])
        #expect(t.encode("hi", addSpecial: false).first != 1)
    }
}
