import Foundation
import ModelFormats
import Testing
import Tokenizer

/// tokenizer.json files written by scripts/convert-to-safetensors.py from the original vocabularies must encode
/// exactly as the originals (llama.cpp's vectors, the oracle ids, and a longer English sample).
enum HFFixtures {
    static let repoRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<3 {
            dir = dir.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("scripts/convert-to-safetensors.py").path) {
                return dir
            }
        }
        return URL(fileURLWithPath: "/work/main")
    }()
    static let storiesDir = repoRoot.appendingPathComponent("Tests/ModelTests/Fixtures/stories260K-hf").path

    /// Runs `convert-to-safetensors.py gguf <file> <tmp> --tokenizer-only` and returns the directory.
    static func convertTokenizer(_ gguf: String) throws -> HFTempDir {
        let tmp = try HFTempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repoRoot.appendingPathComponent("scripts/convert-to-safetensors.py").path,
                       "gguf", gguf, tmp.path, "--tokenizer-only"]
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch { throw TokenizerError("cannot run python3 (python3 + numpy are required): \(error)") }
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TokenizerError("convert-to-safetensors.py failed for \(gguf) (python3 + numpy are required): \(message)")
        }
        return tmp
    }

    static func sampleLines() throws -> [String] {
        try Fixtures.text("english-sample.txt").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }
}

final class HFTempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("hftok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct HFTokenizerJSONConformance {
    @Test(arguments: ["ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"])
    func llamaCppVectors(file: String) throws {
        let dir = try HFFixtures.convertTokenizer(Fixtures.url(file).path)
        let hf = try Tokenizer(huggingFace: dir.path)
        let original = try Fixtures.gguf(file)
        #expect(hf.kind == original.kind && hf.vocabSize == original.vocabSize)
        #expect(hf.bosId == original.bosId && hf.eosId == original.eosId && hf.addBOS == original.addBOS)
        #expect(hf.stopIds == original.stopIds)
        let cases = try Fixtures.vocabCases(file)
        #expect(cases.count == 46)
        for (input, expected) in cases {
            #expect(hf.encode(input, addSpecial: false, parseSpecial: false) == expected, "input \(input.debugDescription)")
            #expect(hf.encode(input) == original.encode(input), "input \(input.debugDescription)")
            #expect(hf.decode(hf.encode(input)) == input, "input \(input.debugDescription)")
        }
        for line in try HFFixtures.sampleLines() {
            #expect(hf.encode(line) == original.encode(line), "line \(line.debugDescription)")
        }
    }

    @Test func smolLM2FromItsGGUF() throws {
        let dir = try HFFixtures.convertTokenizer(Fixtures.modelsDirectory.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf").path)
        let hf = try Tokenizer(huggingFace: dir.path)
        let original = Fixtures.smolLM
        #expect(hf.kind == .byteLevelBPE && hf.vocabSize == original.vocabSize)
        #expect(hf.bosId == 1 && hf.eosId == 2 && !hf.addBOS && hf.stopIds == original.stopIds)
        #expect(hf.chatTemplate == original.chatTemplate && hf.chatTemplate != nil)
        let cases = try oracleCases("smollm2-135m-ids.json")
        #expect(!cases.isEmpty)
        for c in cases {
            #expect(hf.encode(c.prompt, parseSpecial: true) == original.encode(c.prompt, parseSpecial: true))
        }
        for (input, _) in try Fixtures.vocabCases("ggml-vocab-gpt-2.gguf") {
            #expect(hf.encode(input) == original.encode(input), "input \(input.debugDescription)")
        }
        for line in try HFFixtures.sampleLines() {
            #expect(hf.encode(line) == original.encode(line))
        }
        let text = "<|im_start|>user\nWhat is 12+30?<|im_end|>\n"
        #expect(hf.encode(text, parseSpecial: true) == original.encode(text, parseSpecial: true))
        #expect(hf.encode(text, parseSpecial: true).first == 1)
    }

    /// The committed stories260K-hf tokenizer.json (merges in the ["a", "b"] form) against tok512.bin's llama2.c encoding.
    @Test func stories260KFixture() throws {
        let hf = try Tokenizer(huggingFace: HFFixtures.storiesDir)
        let original = Fixtures.stories
        #expect(hf.kind == .sentencePiece && hf.vocabSize == 512)
        #expect(hf.bosId == 1 && hf.eosId == 2 && hf.addBOS && !hf.addEOS)
        let cases = try oracleCases("stories260K-tok512-ids.json")
        #expect(cases.count == 8)
        for c in cases {
            #expect(hf.encode(c.prompt) == c.ids, "prompt \(c.prompt.debugDescription)")
            #expect(hf.decode(c.ids) == c.prompt)
        }
        for line in try HFFixtures.sampleLines() {
            #expect(hf.encode(line) == original.encode(line), "line \(line.debugDescription)")
        }
        #expect(hf.decode(Array(0..<512).map(Int32.init)) == original.decode(Array(0..<512).map(Int32.init)))
    }
}

/// Hand-edited tokenizer.json variants: alternative spellings of the same tokenizer, side files, and faults.
@Suite struct HFTokenizerJSONVariants {
    func storiesJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: HFFixtures.storiesDir + "/tokenizer.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func write(_ json: [String: Any], sideFiles: [String: [String: Any]] = [:]) throws -> HFTempDir {
        let dir = try HFTempDir()
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir.path + "/tokenizer.json"))
        for (name, value) in sideFiles {
            try JSONSerialization.data(withJSONObject: value).write(to: URL(fileURLWithPath: dir.path + "/" + name))
        }
        return dir
    }

    @Test func metaspaceAndStringMergesEncodeTheSame() throws {
        var json = try storiesJSON()
        json["normalizer"] = NSNull()
        json["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false]
        var model = json["model"] as! [String: Any]
        model["merges"] = (model["merges"] as! [[String]]).map { $0[0] + " " + $0[1] }
        json["model"] = model
        let dir = try write(json, sideFiles: ["tokenizer_config.json": ["bos_token": ["content": "<s>"], "eos_token": "</s>",
                                                                        "chat_template": [["name": "default", "template": "T"]]],
                                              "generation_config.json": ["eos_token_id": [2, 5]]])
        let hf = try Tokenizer(huggingFace: dir.path + "/tokenizer.json")
        let original = Fixtures.stories
        for line in try HFFixtures.sampleLines() { #expect(hf.encode(line) == original.encode(line)) }
        #expect(hf.bosId == 1 && hf.eosId == 2 && hf.stopIds.isSuperset(of: [2, 5]) && hf.chatTemplate == "T")
        #expect(hf.addBOS)   // from the TemplateProcessing post-processor (no add_bos_token in tokenizer_config)
    }

    @Test func faultsNameTheFile() throws {
        func expectError(_ json: [String: Any], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = try write(json)
            do {
                _ = try Tokenizer(huggingFace: dir.path)
                Issue.record("expected an error containing \(fragment)", sourceLocation: sourceLocation)
            } catch {
                let m = "\(error)"
                #expect(m.contains(dir.path + "/tokenizer.json") && m.contains(fragment), "\(m)", sourceLocation: sourceLocation)
            }
        }
        var json = try storiesJSON()
        var model = json["model"] as! [String: Any]
        model["type"] = "Unigram"
        json["model"] = model
        try expectError(json, "unsupported model.type 'Unigram'")
        json = try storiesJSON()
        json["pre_tokenizer"] = ["type": "Whitespace"]
        try expectError(json, "unsupported pre_tokenizer [Whitespace]")
        json = try storiesJSON()
        model = json["model"] as! [String: Any]
        model["merges"] = [["a"]]
        json["model"] = model
        try expectError(json, "merge 0")
        json = try storiesJSON()
        model = json["model"] as! [String: Any]
        model["byte_fallback"] = false
        json["model"] = model
        try expectError(json, "no ByteLevel pre-tokenizer and no byte_fallback")
        try expectError(["model": ["type": "BPE", "vocab": [:], "merges": []]], "empty vocabulary")
        let missing = try HFTempDir()
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(huggingFace: missing.path) }
    }

    @Test func modelDirectoryDetection() {
        #expect(Tokenizer.huggingFaceDirectory(forModelPath: HFFixtures.storiesDir) == HFFixtures.storiesDir)
        #expect(Tokenizer.huggingFaceDirectory(forModelPath: HFFixtures.storiesDir + "/model.safetensors") == HFFixtures.storiesDir)
        #expect(Tokenizer.huggingFaceDirectory(forModelPath: Fixtures.url("ggml-vocab-gpt-2.gguf").path) == nil)
    }
}
