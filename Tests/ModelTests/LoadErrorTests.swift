import Foundation
import Model
import Testing

/// Broken model files end in a `ModelError` naming the file and the fault, never a crash.
@Suite("Model load errors")
struct LoadErrorTests {
    func temp(_ name: String, _ data: Data) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = dir.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    /// The load must fail with a message that starts with the path and names one of the `faults`.
    func expectError(_ path: String, oneOf faults: [String]) {
        do {
            _ = try DecoderModel.load(path: path)
            Issue.record("\(path) loaded")
        } catch {
            let m = error.description.lowercased()
            #expect(error.description.hasPrefix(path), "\(error.description)")
            #expect(faults.contains { m.contains($0) }, "\(error.description)")
        }
    }

    static let truncation = ["truncated", "past the end", "out of range", "bytes remain"]

    @Test func truncatedGGUF() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Paths.smol), options: .mappedIfSafe)
        for cut in [3, 100, 4096, 2_000_000, whole.count - 1000] {
            expectError(try temp("cut\(cut).gguf", whole.prefix(cut)), oneOf: Self.truncation)
        }
    }

    @Test func truncatedLlama2c() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Paths.stories))
        for cut in [0, 10, 28, 5000, whole.count - 4] {
            expectError(try temp("cut\(cut).bin", whole.prefix(cut)), oneOf: Self.truncation)
        }
    }

    @Test func garbageAndMissingFile() throws {
        expectError(try temp("garbage.bin", Data(repeating: 0xFF, count: 64)), oneOf: ["bad llama2.c header"])
        expectError(try temp("zero.gguf", Data("GGUF".utf8) + Data(repeating: 0, count: 60)), oneOf: ["version"])
        expectError("/nonexistent/dir/model.gguf", oneOf: ["cannot open"])
    }

    /// A GGUF whose architecture is not llama is refused by name.
    @Test func vocabOnlyGGUFIsNotAModel() throws {
        let p = Paths.root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/tokenizer/ggml-vocab-gpt-2.gguf").path
        let local = try temp("vocab.gguf", try Data(contentsOf: URL(fileURLWithPath: FileManager.default.fileExists(atPath: p) ? p : Paths.smol)))
        do {
            _ = try DecoderModel.load(path: local)
            if FileManager.default.fileExists(atPath: p) { Issue.record("a vocabulary-only GGUF loaded as a model") }
        } catch {
            #expect(error.description.contains(local))
        }
    }
}
