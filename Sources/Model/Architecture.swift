import Foundation
import ModelFormats
import Tensor

/// One decoder architecture: how its files describe it and which features of the shared decoder (`DecoderModel`)
/// it turns on. Each lives in its own file under `Architectures/` with its tensor-name tables; the GGUF, safetensors
/// and llama2.c loaders are format adapters over these. Adding an architecture = one new file + a registry entry.
protocol ArchitectureDefinition {
    static var architecture: Architecture { get }
    /// `general.architecture` values read as this architecture.
    static var ggufNames: [String] { get }
    /// Hugging Face `config.json` `architectures` entries read as this architecture (empty: no safetensors support).
    static var hfClasses: [String] { get }
    /// The architecture's features from GGUF metadata (`key(k)` is `<general.architecture>.k`); the common
    /// hyper-parameters are already in `c`.
    static func configure(_ c: inout ModelConfig, gguf g: GGUFFile, key: (String) -> String) throws(ModelError)
    /// The same from a Hugging Face config.json.
    static func configure(_ c: inout ModelConfig, hf: HFModelConfig) throws(ModelError)
    /// llama.cpp's tensor name of a role; nil for a role the architecture does not have.
    static func ggufTensor(_ role: TensorRole) -> String?
    /// Hugging Face's tensor name of a role.
    static func hfTensor(_ role: TensorRole) -> String?
}

extension ArchitectureDefinition {
    static var hfClasses: [String] { [] }
    static func configure(_ c: inout ModelConfig, hf: HFModelConfig) throws(ModelError) {}
    static func hfTensor(_ role: TensorRole) -> String? { nil }
}

/// The registry: every architecture the loaders accept.
enum Architectures {
    static let all: [any ArchitectureDefinition.Type] = [LlamaArchitecture.self, Qwen2Architecture.self,
                                                         Qwen3Architecture.self, Gemma3Architecture.self]

    static func definition(_ a: Architecture) -> any ArchitectureDefinition.Type {
        all.first { $0.architecture == a }!
    }

    static func gguf(_ name: String) -> (any ArchitectureDefinition.Type)? {
        all.first { $0.ggufNames.contains(name) }
    }

    static var ggufSupported: String { all.flatMap { $0.ggufNames }.joined(separator: ", ") }

    static func hf(_ classes: [String]) -> (any ArchitectureDefinition.Type)? {
        all.first { def in classes.contains { def.hfClasses.contains($0) } }
    }

    static var hfSupported: String { all.flatMap { $0.hfClasses }.joined(separator: ", ") }
}

/// llama.cpp's tensor names (`LLM_TENSOR_NAMES`), shared by the architectures that use a role.
enum GGUFNames {
    static func standard(_ role: TensorRole) -> String {
        switch role {
        case .embedding: "token_embd.weight"
        case .finalNorm: "output_norm.weight"
        case .output: "output.weight"
        case .ropeFactors: "rope_freqs.weight"
        case .attnNorm(let l): "blk.\(l).attn_norm.weight"
        case .q(let l): "blk.\(l).attn_q.weight"
        case .k(let l): "blk.\(l).attn_k.weight"
        case .v(let l): "blk.\(l).attn_v.weight"
        case .o(let l): "blk.\(l).attn_output.weight"
        case .ffnNorm(let l): "blk.\(l).ffn_norm.weight"
        case .gate(let l): "blk.\(l).ffn_gate.weight"
        case .up(let l): "blk.\(l).ffn_up.weight"
        case .down(let l): "blk.\(l).ffn_down.weight"
        case .qBias(let l): "blk.\(l).attn_q.bias"
        case .kBias(let l): "blk.\(l).attn_k.bias"
        case .vBias(let l): "blk.\(l).attn_v.bias"
        case .qNorm(let l): "blk.\(l).attn_q_norm.weight"
        case .kNorm(let l): "blk.\(l).attn_k_norm.weight"
        case .postAttnNorm(let l): "blk.\(l).post_attention_norm.weight"
        case .postFFNNorm(let l): "blk.\(l).post_ffw_norm.weight"
        }
    }
}

/// Hugging Face transformers' tensor names (`model.layers.N...`).
enum HFNames {
    static func standard(_ role: TensorRole) -> String? {
        let p = "model.layers."
        return switch role {
        case .embedding: "model.embed_tokens.weight"
        case .finalNorm: "model.norm.weight"
        case .output: "lm_head.weight"
        case .ropeFactors: nil
        case .attnNorm(let l): p + "\(l).input_layernorm.weight"
        case .q(let l): p + "\(l).self_attn.q_proj.weight"
        case .k(let l): p + "\(l).self_attn.k_proj.weight"
        case .v(let l): p + "\(l).self_attn.v_proj.weight"
        case .o(let l): p + "\(l).self_attn.o_proj.weight"
        case .ffnNorm(let l): p + "\(l).post_attention_layernorm.weight"
        case .gate(let l): p + "\(l).mlp.gate_proj.weight"
        case .up(let l): p + "\(l).mlp.up_proj.weight"
        case .down(let l): p + "\(l).mlp.down_proj.weight"
        case .qBias(let l): p + "\(l).self_attn.q_proj.bias"
        case .kBias(let l): p + "\(l).self_attn.k_proj.bias"
        case .vBias(let l): p + "\(l).self_attn.v_proj.bias"
        case .qNorm(let l): p + "\(l).self_attn.q_norm.weight"
        case .kNorm(let l): p + "\(l).self_attn.k_norm.weight"
        case .postAttnNorm, .postFFNNorm: nil
        }
    }
}

extension TensorRole {
    /// The expected shape as a matrix [rows, cols] (out features, in features; vectors have one row).
    func shape(_ c: ModelConfig) -> (rows: Int, cols: Int) {
        switch self {
        case .embedding, .output: (c.vocabSize, c.dim)
        case .finalNorm, .attnNorm, .ffnNorm, .postAttnNorm, .postFFNNorm: (1, c.dim)
        case .ropeFactors: (1, c.headDim / 2)
        case .q: (c.qDim, c.dim)
        case .k, .v: (c.kvDim, c.dim)
        case .o: (c.dim, c.qDim)
        case .gate, .up: (c.hiddenDim, c.dim)
        case .down: (c.dim, c.hiddenDim)
        case .qBias: (1, c.qDim)
        case .kBias, .vBias: (1, c.kvDim)
        case .qNorm, .kNorm: (1, c.headDim)
        }
    }
}
