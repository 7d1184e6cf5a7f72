import Foundation
import ModelFormats
import Testing

/// Paths to the repository's real model files, computed from this source file's location
/// (the repo root is three levels up from Tests/ModelFormatsTests/TestSupport.swift; symlinks resolved so
/// a dev package that links this directory finds the same files).
enum RepoFiles {
    static let root: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let smolLM2 = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let stories260K = root.appendingPathComponent("models/stories260K/stories260K.bin").path
    static let tok512 = root.appendingPathComponent("models/stories260K/tok512.bin").path
    /// The llama.cpp vocabulary fixtures, as copied into the repository (with their LICENSE and PROVENANCE).
    static let sharedFixtures = root.appendingPathComponent("Tests/TokenizerTests/Fixtures")
    static let vocabGPT2 = sharedFixtures.appendingPathComponent("ggml-vocab-gpt-2.gguf").path
    static let vocabLlamaSPM = sharedFixtures.appendingPathComponent("ggml-vocab-llama-spm.gguf").path
}

/// A fresh temporary directory, removed when the object goes away.
final class TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ModelFormatsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to `name` inside the directory and returns the path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let fileURL = url.appendingPathComponent(name)
        try Data(bytes).write(to: fileURL)
        return fileURL.path
    }
}

/// Runs `body`, expects a ModelFileError whose description starts with "<path>: " and whose message contains
/// every fragment. Returns the error for further checks.
@discardableResult
func expectFault(path: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws(ModelFileError) -> Void) -> ModelFileError? {
    do {
        try body()
        Issue.record("expected an error containing \(fragments), but it succeeded", sourceLocation: sourceLocation)
        return nil
    } catch {
        if ProcessInfo.processInfo.environment["SHOW_FAULTS"] != nil { print("FAULT", error) }
        #expect(error.path == path, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(path + ": "), sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
        }
        return error
    }
}

/// Little-endian byte building.
extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func f32(_ value: Float) { le(value.bitPattern) }

    mutating func ggufString(_ s: String) {
        le(UInt64(s.utf8.count))
        append(contentsOf: Array(s.utf8))
    }
}

/// Deterministic PRNG for fuzz tests (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
