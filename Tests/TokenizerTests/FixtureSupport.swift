import Foundation
import ModelFormats
import Tokenizer

/// Paths and loaders shared by the tests.
enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: url(name), encoding: .utf8)
    }

    static func gguf(_ name: String) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile(path: url(name).path))
    }

    /// Model files live in the repository's models/ folder (two levels above Tests/TokenizerTests).
    static let modelsDirectory: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<3 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("models")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("stories260K/tok512.bin").path) {
                return candidate
            }
        }
        return URL(fileURLWithPath: "/work/main/models")
    }()

    static let smolLM: Tokenizer = {
        let path = modelsDirectory.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf").path
        return try! Tokenizer(gguf: GGUFFile(path: path))
    }()

    static let stories: Tokenizer = {
        try! Tokenizer(llama2cTokenizerPath: modelsDirectory.appendingPathComponent("stories260K/tok512.bin").path)
    }()

    /// llama.cpp's vocab test format: inputs split by "\n__ggml_vocab_test__\n", one line of ids per input.
    static func vocabCases(_ name: String) throws -> [(input: String, ids: [Int32])] {
        let raw = try text(name + ".inp")
        var inputs = raw.components(separatedBy: "\n__ggml_vocab_test__\n")
        if inputs.last == "" { inputs.removeLast() }
        let lines = try text(name + ".out").split(separator: "\n", omittingEmptySubsequences: false)
        return inputs.enumerated().map { i, input in
            (input, lines[i].split(separator: " ").map { Int32($0)! })
        }
    }
}
