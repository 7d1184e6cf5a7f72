import Foundation
import ModelFormats
import Tensor

/// Llama 1/2/3 and Mistral (GGUF `llama`; HF LlamaForCausalLM, MistralForCausalLM): RMSNorm, RoPE, GQA, SwiGLU.
/// GGUF stores Q/K permuted for the adjacent-pair rotation; HF checkpoints rotate halves (NeoX).
/// Llama 3.1+ `rope_scaling` (type `llama3`) arrives in GGUF as the `rope_freqs` tensor of per-frequency divisors.
enum LlamaArchitecture: ArchitectureDefinition {
    static let architecture = Architecture.llama
    static let ggufNames = ["llama"]
    static let hfClasses = ["LlamaForCausalLM", "MistralForCausalLM"]

    static func configure(_ c: inout ModelConfig, gguf g: GGUFFile, key: (String) -> String) throws(ModelError) {
        c.ropeStyle = .adjacent
        if let type = g.string(key("rope.scaling.type")), type != "none" {
            // llama3 scaling comes as rope_freqs (read as a tensor); linear scaling as a position scale.
            if type == "linear", let f = g.float(key("rope.scaling.factor")), f > 0 { c.ropeFreqScale = 1 / f }
            else if type != "llama3" && type != "linear" {
                throw ModelError("\(g.path): \(key("rope.scaling.type")) '\(type)' is not supported (supported: linear, llama3)")
            }
        }
    }

    static func configure(_ c: inout ModelConfig, hf: HFModelConfig) throws(ModelError) {
        c.ropeStyle = .neox
        if let act = hf.json["hidden_act"] as? String, act != "silu" {
            throw ModelError("\(hf.path): unsupported hidden_act '\(act)' (supported: silu)")
        }
        if let scaling = hf.json["rope_scaling"], !(scaling is NSNull) {
            throw ModelError("\(hf.path): rope_scaling \(scaling) is not supported in safetensors checkpoints (use the GGUF)")
        }
        for key in ["attention_bias", "mlp_bias"] where (hf.json[key] as? Bool) == true {
            throw ModelError("\(hf.path): \(key) = true is not supported")
        }
        if let window = hf.int("sliding_window"), window > 0 { c.contextLength = min(c.contextLength, window) }  // Mistral
    }

    static func ggufTensor(_ role: TensorRole) -> String? {
        switch role {
        case .qBias, .kBias, .vBias, .qNorm, .kNorm, .postAttnNorm, .postFFNNorm: nil
        default: GGUFNames.standard(role)
        }
    }

    static func hfTensor(_ role: TensorRole) -> String? { ggufTensor(role) == nil ? nil : HFNames.standard(role) }
}
