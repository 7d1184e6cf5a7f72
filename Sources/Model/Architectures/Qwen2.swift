import ModelFormats
import Tensor

/// Qwen 2 / 2.5 (GGUF `qwen2`, HF Qwen2ForCausalLM): Llama's block with biases on Q, K and V, NeoX RoPE
/// (Q/K are not permuted in the GGUF), usually a tied output for the small models.
enum Qwen2Architecture: ArchitectureDefinition {
    static let architecture = Architecture.qwen2
    static let ggufNames = ["qwen2"]
    static let hfClasses = ["Qwen2ForCausalLM"]

    static func configure(_ c: inout ModelConfig, gguf g: GGUFFile, key: (String) -> String) throws(ModelError) {
        c.ropeStyle = .neox
        c.attentionBias = true
        if let type = g.string(key("rope.scaling.type")), type != "none" {
            guard type == "linear" || type == "yarn" else {
                throw ModelError("\(g.path): \(key("rope.scaling.type")) '\(type)' is not supported (supported: none, linear)")
            }
            // YaRN only changes positions beyond the original context, which the engine caps at context_length.
            if type == "linear", let f = g.float(key("rope.scaling.factor")), f > 0 { c.ropeFreqScale = 1 / f }
        }
    }

    static func configure(_ c: inout ModelConfig, hf: HFModelConfig) throws(ModelError) {
        c.ropeStyle = .neox
        c.attentionBias = true
    }

    static func ggufTensor(_ role: TensorRole) -> String? {
        switch role {
        case .qNorm, .kNorm, .postAttnNorm, .postFFNNorm, .ropeFactors: nil
        default: GGUFNames.standard(role)
        }
    }

    static func hfTensor(_ role: TensorRole) -> String? { ggufTensor(role) == nil ? nil : HFNames.standard(role) }
}
