import Foundation
import Testing
import Tokenizer

@Suite struct IncrementalDetokenizerTests {
    static let texts = ["Hello 世界! Emoji: 😀🚀👍🏽 and 👨‍👩‍👧, Ελληνικά, 한국어 텍스트", "日本語のテキストです。", "plain ascii text"]

    func stream(_ t: Tokenizer, _ ids: [Int32], promptTail: [Int32] = []) -> (pieces: [String], text: String) {
        var detok = IncrementalDetokenizer(tokenizer: t, promptTail: promptTail)
        var pieces = ids.map { detok.push($0) }
        pieces.append(detok.finish())
        return (pieces, pieces.joined())
    }

    @Test(arguments: [0, 1, 2])
    func concatenationEqualsDecode(which: Int) throws {
        for t in [Fixtures.smolLM, Fixtures.stories, try Fixtures.gguf("ggml-vocab-llama-spm.gguf")] {
            let ids = t.encode(Self.texts[which])
            let (pieces, text) = stream(t, ids)
            #expect(text == t.decode(ids))
            #expect(text == Self.texts[which])
            for piece in pieces { #expect(!piece.contains("\u{FFFD}")) }  // never a split character
        }
    }

    @Test func multibyteCharactersWaitForTheirLastByte() {
        let t = Fixtures.stories  // CJK falls back to <0xNN> byte tokens here
        let ids = t.encode("日本", addSpecial: false)
        #expect(ids.count > 2)
        var detok = IncrementalDetokenizer(tokenizer: t)
        var outputs = ids.map { detok.push($0) }
        outputs.append(detok.finish())
        #expect(outputs.filter { !$0.isEmpty } == ["日", "本"])
    }

    @Test func leadingSpaceAfterBOSAndPromptTail() throws {
        let t = try Fixtures.gguf("ggml-vocab-llama-spm.gguf")
        let ids = t.encode("Hello world")                           // [BOS, ▁Hello, ▁world]
        #expect(stream(t, ids).text == "Hello world")
        #expect(stream(t, Array(ids.dropFirst(2)), promptTail: Array(ids.prefix(2))).text == " world")
    }

    @Test func invalidBytesBecomeReplacement() {
        let t = Fixtures.stories
        // <0xE4> <0xB8> then 'A' (byte tokens at 3...258): an unfinished sequence interrupted.
        var detok = IncrementalDetokenizer(tokenizer: t, promptTail: [1])
        #expect(detok.push(3 + 0xE4) == "")
        #expect(detok.push(3 + 0xB8) == "")
        #expect(detok.push(3 + 0x41) == "\u{FFFD}A")
        #expect(detok.push(3 + 0xE4) == "")
        #expect(detok.finish() == "\u{FFFD}")
    }
}
