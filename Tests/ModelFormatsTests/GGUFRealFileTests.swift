import Foundation
import ModelFormats
import Tensor
import Testing

/// Parsing the real files in the repository. Expected values were read independently with the Python reader in
/// /work/shared/tools/reference/oracle.py (class GGUF) plus numpy, in a one-off script
/// (`GGUF(path).kv[...]`, `.info[name]`, `.base`, `.tensor(name)`), and pasted here.
@Suite struct GGUFRealFileTests {
    @Test func smolLM2HeaderAndMetadata() throws {
        let g = try GGUFFile(path: RepoFiles.smolLM2)
        #expect(g.version == 3)
        #expect(g.tensorInfos.count == 272)
        #expect(g.metadata.count == 33)
        #expect(g.alignment == 32)
        #expect(g.dataOffset == 1_785_664)  // oracle: GGUF.base
        #expect(g.architecture == "llama")
        #expect(g.string("general.name") == "Smollm2 135M 8k Lc100K Mix1 Ep2")
        #expect(g.int("llama.block_count") == 30)
        #expect(g.int("llama.embedding_length") == 576)
        #expect(g.int("llama.attention.head_count") == 9)
        #expect(g.int("llama.attention.head_count_kv") == 3)
        #expect(g.float("llama.rope.freq_base") == 100_000)
        #expect(g.float("llama.attention.layer_norm_rms_epsilon") == Float(9.999999747378752e-06))
        #expect(g.float("llama.block_count") == 30)  // numeric accessors accept any numeric type
        #expect(g.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(g.int("tokenizer.ggml.bos_token_id") == 1)
        #expect(g.int("tokenizer.ggml.eos_token_id") == 2)
        #expect(g.metadata["tokenizer.ggml.bos_token_id"] == .uint32(1))  // stored as type 4 (uint32)
        #expect(g.string("tokenizer.ggml.model") == "gpt2")
        #expect(g.string("tokenizer.chat_template")?.hasPrefix("{% for message in messages %}") == true)
        #expect(g.stringArray("general.languages") == ["en"])
        // wrong kinds give nil, not a crash
        #expect(g.int("general.architecture") == nil)
        #expect(g.string("llama.block_count") == nil)
        #expect(g.stringArray("tokenizer.ggml.token_type") == nil)
        #expect(g.int("no.such.key") == nil)
    }

    @Test func smolLM2Vocabulary() throws {
        let g = try GGUFFile(path: RepoFiles.smolLM2)
        let tokens = try #require(g.stringArray("tokenizer.ggml.tokens"))
        #expect(tokens.count == 49152)
        #expect(Array(tokens[0..<3]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        #expect(Array(tokens[100..<103]) == ["t", "u", "v"])
        #expect(tokens.last == "ectable")
        let merges = try #require(g.stringArray("tokenizer.ggml.merges"))
        #expect(merges.count == 48900)
        #expect(merges.first == "Ġ t")
        #expect(merges.last == "ect able")
        let types = try #require(g.intArray("tokenizer.ggml.token_type"))
        #expect(types.count == 49152)
        #expect(Array(types[0..<3]) == [3, 3, 3])
    }

    @Test func smolLM2Tensors() throws {
        let g = try GGUFFile(path: RepoFiles.smolLM2)
        var counts: [GGMLType: Int] = [:]
        for t in g.tensorInfos { counts[t.type, default: 0] += 1 }
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        #expect(g.tensorInfos.first?.name == "token_embd.weight")
        #expect(g.tensorInfos.last?.name == "output_norm.weight")

        let emb = try g.requireTensor("token_embd.weight", type: [.q8_0], dims: [576, 49152])
        #expect(emb.offset == 0)
        #expect(emb.elementCount == 576 * 49152)
        #expect(emb.byteCount == 576 * 49152 / 32 * 34)
        let down = try g.requireTensor("blk.29.ffn_down.weight", type: [.q4_1], dims: [1536, 576])
        #expect(down.offset == 78_845_184)
        #expect(down.byteCount == 1536 * 576 / 32 * 20)
        #expect(g.tensorInfo("blk.0.attn_k.weight")?.dims == [576, 192])
        #expect(g.tensorInfo("blk.0.attn_k.weight")?.offset == 31_744_512)
        #expect(g.tensorInfo("output.weight") == nil)  // tied embeddings
    }

    @Test func smolLM2TensorBytes() throws {
        let g = try GGUFFile(path: RepoFiles.smolLM2)
        // output_norm.weight is F32; oracle: g.tensor('output_norm.weight')[:3]
        let norm = try g.tensorBytes("output_norm.weight")
        #expect(norm.count == 576 * 4)
        let firstNorm = (0..<3).map { norm.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        #expect(firstNorm == [1.7578125, 1.8203125, 1.78125])
        // first Q8_0 block of token_embd: f16 scale then int8s; oracle: raw bytes d[base:base+6].hex()
        let emb = try g.tensorBytes("token_embd.weight")
        #expect(Array(emb[0..<6]) == [0x32, 0x19, 0xd6, 0x0d, 0x13, 0xf7])
        #expect(emb.baseAddress == g.file.bytes.baseAddress.map { $0 + g.dataOffset })
    }

    @Test func vocabOnlyFixtures() throws {
        let gpt2 = try GGUFFile(path: RepoFiles.vocabGPT2)
        #expect(gpt2.version == 3)
        #expect(gpt2.tensorInfos.isEmpty)
        #expect(gpt2.architecture == "gpt2")
        #expect(gpt2.stringArray("tokenizer.ggml.tokens")?.count == 50257)
        #expect(gpt2.stringArray("tokenizer.ggml.tokens")?.first == "!")
        #expect(gpt2.stringArray("tokenizer.ggml.merges")?.count == 50000)
        #expect(gpt2.int("tokenizer.ggml.bos_token_id") == 50256)
        #expect(gpt2.dataOffset > gpt2.file.bytes.count)  // 1766816 > 1766807: no padding after the infos

        let spm = try GGUFFile(path: RepoFiles.vocabLlamaSPM)
        #expect(spm.architecture == "llama")
        #expect(spm.stringArray("tokenizer.ggml.tokens")?.prefix(3) == ["<unk>", "<s>", "</s>"])
        #expect(spm.floatArray("tokenizer.ggml.scores")?.count == 32000)
        #expect(spm.intArray("tokenizer.ggml.token_type")?.prefix(3) == [2, 3, 3])
        #expect(spm.bool("tokenizer.ggml.add_bos_token") == true)
        #expect(spm.int("llama.vocab_size") == 32000)
        expectFault(path: spm.path, ["missing tensor token_embd.weight"]) { () throws(ModelFileError) in
            _ = try spm.tensorBytes("token_embd.weight")
        }
    }

    @Test func smolLM2ParsesQuickly() throws {
        // Runs at every model load; the 49k-token vocabulary plus 49k merges must parse fast.
        let clock = ContinuousClock()
        var g: GGUFFile?
        let elapsed = try clock.measure { g = try GGUFFile(path: RepoFiles.smolLM2) }
        print("GGUFFile(SmolLM2) parsed in \(elapsed)")
        #expect(g?.tensorInfos.count == 272)
        #expect(elapsed < .seconds(5))  // generous bound for a debug build on a loaded 2-core machine
    }
}
