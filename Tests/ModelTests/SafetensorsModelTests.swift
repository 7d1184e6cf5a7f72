import Foundation
import Model
import Tensor
import Testing

/// Hugging Face safetensors checkpoints converted by scripts/convert-to-safetensors.py from the repository's
/// llama2.c and GGUF models must reproduce the same golden greedy ids (Q/K in HF rotate_half layout, NeoX RoPE).
enum SafetensorsPaths {
    static let storiesDir = Paths.fixture("stories260K-hf")
    static let script = Paths.root.appendingPathComponent("scripts/convert-to-safetensors.py").path

    /// Runs the converter with python3; a missing python3/numpy or a failed conversion is a test failure.
    static func convert(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + arguments
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch {
            throw ModelError("cannot run python3 \(script): \(error) (python3 and numpy are needed for this test)")
        }
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ModelError("convert-to-safetensors.py \(arguments) failed (status \(p.terminationStatus); python3 with "
                + "numpy is required): \(message)")
        }
    }
}

final class TempDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension ModelSuite {
@Suite("Safetensors checkpoints", .serialized)
struct SafetensorsModelTests {
    struct StoriesGolden: Decodable { let prompt_ids: [Int32]; let generated_ids: [Int32] }
    struct SmolGolden: Decodable {
        struct Case: Decodable { let name: String; let prompt_ids: [Int32]; let generated_ids: [Int32]; let stopped_on_eos: Bool? }
        let cases: [Case]
    }

    @Test func stories260KFromDirectoryAll256Tokens() throws {
        let m = try DecoderModel.load(path: SafetensorsPaths.storiesDir)
        #expect(m.config.ropeStyle == .neox && m.config.dim == 64 && m.config.nLayers == 5 && m.config.nKVHeads == 4)
        #expect(m.config.tiedOutput && m.config.vocabSize == 512 && m.config.contextLength == 512)
        try m.allocateKVCache(blockSize: 16, numBlocks: 32)
        let g = try JSONDecoder().decode(StoriesGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.storiesGolden)))
        #expect(g.generated_ids.count == 256)
        #expect(greedy(m, prompt: g.prompt_ids, steps: 256).ids == g.generated_ids)
    }

    @Test func stories260KFromSafetensorsFileMatchesLlama2cLogits() throws {
        let m = try DecoderModel.load(path: SafetensorsPaths.storiesDir + "/model.safetensors")
        try m.allocateKVCache(blockSize: 16, numBlocks: 8)
        let reference = try DecoderModel.load(path: Paths.stories)
        try reference.allocateKVCache(blockSize: 16, numBlocks: 8)
        let a = greedy(m, prompt: [1, 403, 407], steps: 40), b = greedy(reference, prompt: [1, 403, 407], steps: 40)
        #expect(a.ids == b.ids)
        for (x, y) in zip(a.logits, b.logits) {
            #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        }
    }

    /// The 135M-parameter SmolLM2, dequantized to F32 safetensors at test time (~540 MB in a temp directory).
    @Test func smolLM2ConvertedFromGGUFGoldenCases() throws {
        let tmp = try TempDirectory()
        try SafetensorsPaths.convert(["gguf", Paths.smol, tmp.path])
        let m = try DecoderModel.load(path: tmp.path)
        #expect(m.config.ropeStyle == .neox && m.config.nHeads == 9 && m.config.nKVHeads == 3 && m.config.tiedOutput)
        #expect(m.config.ropeTheta == 100000 && m.config.vocabSize == 49152)
        try m.allocateKVCache(blockSize: 16, numBlocks: 64)
        let g = try JSONDecoder().decode(SmolGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.smolGolden)))
        #expect(g.cases.count == 2)
        for c in g.cases {
            let eos = c.stopped_on_eos ?? false
            let r = greedy(m, prompt: c.prompt_ids, steps: c.generated_ids.count + (eos ? 1 : 0), stop: 2)
            #expect(r.ids == c.generated_ids, "case \(c.name)")
        }
    }
}
}

/// Faults in a safetensors model directory are reported, naming the file.
@Suite struct SafetensorsLoadErrorTests {
    /// A copy of the stories260K-hf fixture whose config.json is edited by `edit`.
    func copy(editing edit: (inout [String: Any]) -> Void) throws -> TempDirectory {
        let tmp = try TempDirectory()
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: SafetensorsPaths.storiesDir + "/" + name, toPath: tmp.path + "/" + name)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: SafetensorsPaths.storiesDir + "/config.json"))
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: tmp.path + "/config.json"))
        return tmp
    }

    func expectLoadError(_ path: String, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try DecoderModel.load(path: path)
            Issue.record("loaded, expected an error with \(fragments)", sourceLocation: sourceLocation)
        } catch {
            for f in fragments { #expect(error.message.contains(f), "\(error.message)", sourceLocation: sourceLocation) }
        }
    }

    @Test func configFaults() throws {
        let arch = try copy { $0["architectures"] = ["GPT2LMHeadModel"] }
        expectLoadError(arch.path, ["config.json", "unsupported architecture GPT2LMHeadModel"])
        let missing = try copy { $0["hidden_size"] = nil }
        expectLoadError(missing.path, ["config.json", "\"hidden_size\""])
        let scaling = try copy { $0["rope_scaling"] = ["rope_type": "llama3"] }
        expectLoadError(scaling.path, ["rope_scaling"])
        let shape = try copy { $0["intermediate_size"] = 100 }
        expectLoadError(shape.path, ["model.safetensors", "mlp.gate_proj.weight", "shape [172, 64]", "expected [100, 64]"])
        let untied = try copy { $0["tie_word_embeddings"] = false }
        expectLoadError(untied.path, ["missing tensor 'lm_head.weight'"])
    }

    @Test func brokenWeightsFile() throws {
        let tmp = try copy { _ in }
        let path = tmp.path + "/model.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        expectLoadError(tmp.path, [path, "truncated"])
    }

    @Test func safetensorsPathDetection() throws {
        #expect(DecoderModel.safetensorsDirectory(for: SafetensorsPaths.storiesDir) == SafetensorsPaths.storiesDir)
        #expect(DecoderModel.safetensorsDirectory(for: SafetensorsPaths.storiesDir + "/model.safetensors") == SafetensorsPaths.storiesDir)
        #expect(DecoderModel.safetensorsDirectory(for: Paths.stories) == nil)
        #expect(DecoderModel.safetensorsDirectory(for: Paths.smol) == nil)
    }
}
