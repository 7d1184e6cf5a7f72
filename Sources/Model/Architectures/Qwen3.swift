import ModelFormats
import Tensor

/// Qwen 3 dense (GGUF `qwen3`, HF Qwen3ForCausalLM): no biases, a per-head RMSNorm of Q and K before RoPE
/// (`attn_q_norm` / `attn_k_norm`, headDim weights), NeoX RoPE, head size from `attention.key_length`.
enum Qwen3Architecture: ArchitectureDefinition {
    static let architecture = Architecture.qwen3
    static let ggufNames = ["qwen3"]
    static let hfClasses = ["Qwen3ForCausalLM"]

    static func configure(_ c: inout ModelConfig, gguf g: GGUFFile, key: (String) -> String) throws(ModelError) {
        c.ropeStyle = .neox
        c.qkNorm = true
    }

    static func configure(_ c: inout ModelConfig, hf: HFModelConfig) throws(ModelError) {
        c.ropeStyle = .neox
        c.qkNorm = true
    }

    static func ggufTensor(_ role: TensorRole) -> String? {
        switch role {
        case .qBias, .kBias, .vBias, .postAttnNorm, .postFFNNorm, .ropeFactors: nil
        default: GGUFNames.standard(role)
        }
    }

    static func hfTensor(_ role: TensorRole) -> String? { ggufTensor(role) == nil ? nil : HFNames.standard(role) }
}
