import Foundation
import ModelFormats
import Testing
import Tokenizer

/// Gemma 3's 262k SentencePiece vocabulary (byte fallback, user-defined whitespace and HTML tokens, control turn
/// tokens) against llama.cpp: llama-server's /tokenize on 70 texts, each with and without special tokens
/// (Fixtures/gemma3-llamacpp.json, recorded from the peer build), and its chat rendering.
@Suite struct Gemma3TokenizerTests {
    struct Vectors: Decodable {
        struct Vector: Decodable { let text: String; let add_special: Bool; let parse_special: Bool; let ids: [Int32] }
        struct Chat: Decodable {
            struct Case: Decodable { let messages: [[String: String]]; let prompt: String }
            let cases: [Case]
        }
        let model: String
        let vectors: [Vector]
        let chat: [String: Chat]
    }

    static let path = Fixtures.modelsDirectory.appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path

    static func load() throws -> (Tokenizer, Vectors) {
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run models/fetch-gemma3.sh")
        let v = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Fixtures.url("gemma3-llamacpp.json")))
        return (try Tokenizer(gguf: GGUFFile(path: path)), v)
    }

    @Test func idsEqualLlamaCpp() throws {
        let (t, v) = try Self.load()
        #expect(v.vectors.count >= 60)
        for x in v.vectors {
            #expect(t.encode(x.text, addSpecial: x.add_special, parseSpecial: x.parse_special) == x.ids,
                    "\(x.text.debugDescription) add_special \(x.add_special) parse_special \(x.parse_special)")
        }
    }

    /// Decoding gives the text back (llama.cpp's detokenizer: BOS left out with skipSpecial).
    @Test func decodeRoundTrips() throws {
        let (t, v) = try Self.load()
        for x in v.vectors where x.add_special && x.parse_special && !x.text.contains("<") {
            #expect(t.decode(x.ids, skipSpecial: true) == x.text, "\(x.text.debugDescription)")
        }
    }

    /// The file has no chat template; Swiftlet serves Gemma's own turn format (llama.cpp's built-in `gemma`
    /// template renders the same text; llama-server itself falls back to ChatML, whose tokens Gemma lacks).
    @Test func builtInTemplateRendersLikeLlamaCppGemma() throws {
        let (t, v) = try Self.load()
        #expect(t.chatTemplate == nil)
        let source = try #require(ChatTemplate.builtIn(for: t))
        let template = try ChatTemplate(source: source, bosToken: "<bos>", eosToken: "<eos>")
        let gemma = try #require(v.chat["gemma_builtin"])
        for c in gemma.cases {
            let messages = c.messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
            let rendered = try template.render(messages: messages, addGenerationPrompt: true)
            #expect(rendered == "<bos>" + c.prompt)
        }
        // a file without Gemma's turn tokens gets no built-in template
        #expect(ChatTemplate.builtIn(for: Fixtures.smolLM) == nil)
    }
}
