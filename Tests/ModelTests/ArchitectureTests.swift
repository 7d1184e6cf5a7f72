import Foundation
import Model
import Tensor
import Testing

/// Small random-weight GGUFs of the architectures without real weights here (scripts/make-arch-models.py), against
/// an independent numpy forward written from the published model definitions (scripts/arch_reference.py): greedy ids
/// and top logits.
private struct ArchGolden: Decodable {
    struct Case: Decodable {
        let name: String
        let prompt_ids: [Int32]
        let generated_ids: [Int32]
        let top_logits: [[[Double]]]
    }
    struct Config: Decodable { let arch: String; let head_dim: Int; let tied_output: Bool; let eos: Int32? }
    let model: String
    let config: Config
    let cases: [Case]
}

extension ModelSuite {
@Suite("Architectures against an independent reference", .serialized)
struct ArchitectureTests {
    static let fixtures = ["llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny"]

    @Test(arguments: fixtures)
    func greedyMatchesTheReference(_ name: String) throws {
        let g = try JSONDecoder().decode(ArchGolden.self, from: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("arch/\(name).json"))))
        let path = Paths.root.appendingPathComponent("models/test-arch/\(g.model)").path
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run scripts/make-arch-models.py")
        let m = try DecoderModel.load(path: path)
        try m.allocateKVCache(blockSize: 16, numBlocks: 32)
        let c = m.config
        #expect(c.architecture.rawValue == g.config.arch)
        #expect(c.headDim == g.config.head_dim && c.tiedOutput == g.config.tied_output)
        switch c.architecture {
        case .qwen2: #expect(c.attentionBias && !c.qkNorm && c.ropeStyle == .neox)
        case .qwen3: #expect(c.qkNorm && !c.attentionBias && c.ropeStyle == .neox)
        case .llama: #expect(c.ropeStyle == .adjacent && !c.qkNorm && !c.attentionBias)
        case .gemma3: Issue.record("no gemma3 fixture expected here")
        }
        if name.hasPrefix("llama3") { #expect(m.weights.ropeFactors.count == c.headDim / 2, "rope_freqs loaded") }
        for k in g.cases {
            let r = greedy(m, prompt: k.prompt_ids, steps: k.top_logits.count, stop: g.config.eos)
            #expect(r.ids == k.generated_ids, "\(name) \(k.name)")
            for (step, tops) in k.top_logits.enumerated() where step < r.logits.count {
                let scale = max(1, tops.map { abs($0[1]) }.max()!)
                for pair in tops {
                    let id = Int(pair[0])
                    #expect(abs(Double(r.logits[step][id]) - pair[1]) <= 1e-3 * scale, "\(name) \(k.name) step \(step) token \(id)")
                }
            }
        }
    }

    /// An architecture the registry does not know and a tensor type the kernels do not run: one error each,
    /// naming the file and what is supported.
    @Test func unsupportedArchitectureAndTypeAreNamed() throws {
        let src = Paths.root.appendingPathComponent("models/test-arch/qwen3-tiny.gguf").path
        try #require(FileManager.default.fileExists(atPath: src))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src)))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-arch-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // general.architecture = "qwen3" -> "zork3" (the value follows the key, its type and its length)
        var arch = bytes
        let key = Array("general.architecture".utf8)
        let at = try #require(find(key, in: arch)) + key.count + 4 + 8
        #expect(Array(arch[at..<at + 5]) == Array("qwen3".utf8))
        arch.replaceSubrange(at..<at + 5, with: Array("zork3".utf8))
        let archPath = dir.appendingPathComponent("zork.gguf").path
        try Data(arch).write(to: URL(fileURLWithPath: archPath))
        do {
            _ = try DecoderModel.load(path: archPath)
            Issue.record("an unknown architecture loaded")
        } catch {
            #expect(error.description.contains(archPath))
            #expect(error.description.contains("unsupported architecture 'zork3'"))
            #expect(error.description.contains("llama, qwen2, qwen3, gemma3"))
        }

        // blk.0.attn_q.weight's type -> 20 (IQ4_NL): name, n_dims, dims, then the type
        let name = Array("blk.0.attn_q.weight".utf8)
        let info = try #require(find(name, in: bytes)) + name.count
        let nDims = Int(bytes[info]) | Int(bytes[info + 1]) << 8
        let typeAt = info + 4 + 8 * nDims
        bytes.replaceSubrange(typeAt..<typeAt + 4, with: [20, 0, 0, 0])
        let typePath = dir.appendingPathComponent("iq4.gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: typePath))
        do {
            _ = try DecoderModel.load(path: typePath)
            Issue.record("an unsupported tensor type loaded")
        } catch {
            #expect(error.description.contains(typePath))
            #expect(error.description.contains("blk.0.attn_q.weight"))
            #expect(error.description.contains("Q4_K"), "lists the supported types: \(error.description)")
        }
    }

    private func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle {
            return i
        }
        return nil
    }
}
}
