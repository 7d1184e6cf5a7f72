import Foundation
import ModelFormats
import Tensor

/// Gemma 3 text decoder (GGUF `gemma3`), as llama.cpp's gemma3 graph and HF Gemma3ForCausalLM:
/// token embedding × √dim; per-head Q/K RMSNorm; RMSNorm before and after attention and FFN ("sandwich");
/// GeGLU with the tanh GELU; NeoX RoPE; sliding-window local layers (every 6th layer global by default) with their
/// own RoPE base (10 000); tied output. The norm weights are used as stored: llama.cpp's converter already added
/// the +1 of Gemma's RMSNorm.
enum Gemma3Architecture: ArchitectureDefinition {
    static let architecture = Architecture.gemma3
    static let ggufNames = ["gemma3"]

    static func configure(_ c: inout ModelConfig, gguf g: GGUFFile, key: (String) -> String) throws(ModelError) {
        c.ropeStyle = .neox
        c.qkNorm = true
        c.postNorms = true
        c.activation = .geluTanh
        c.embeddingScale = Float(Double(c.dim).squareRoot())
        if g.metadata[key("attn_logit_softcapping")] != nil {
            throw ModelError("\(g.path): \(key("attn_logit_softcapping")) (Gemma 2 attention soft-capping) is not supported")
        }
        c.finalLogitSoftcap = g.float(key("final_logit_softcapping")) ?? 0
        // llama.cpp: 1/√head_dim (HF query_pre_attn_scalar = head_dim), except the 27B (62 layers): n_embd/n_head.
        c.attentionScale = 1 / Float(c.nLayers == 62 ? Double(c.dim / c.nHeads) : Double(c.headDim)).squareRoot()
        c.ropeThetaLocal = g.float(key("rope.freq_base_swa")) ?? 10_000
        if let type = g.string(key("rope.scaling.type")), type != "none", type != "linear" {
            throw ModelError("\(g.path): \(key("rope.scaling.type")) '\(type)' is not supported (supported: linear)")
        }
        if let f = g.float(key("rope.scaling.factor")), f > 0 { c.ropeFreqScale = 1 / f }
        let window = g.int(key("attention.sliding_window")) ?? 0
        if window > 0 {
            c.slidingWindow = window
            // A per-layer bool array if the file has one, else every `pattern`-th layer is global (llama.cpp
            // set_swa_pattern: layer l is local iff l % n < n - 1).
            if let flags = g.metadata[key("attention.sliding_window_pattern")]?.arrayValue {
                c.localLayers = flags.map { $0.boolValue ?? (($0.intValue ?? 0) != 0) }
            } else {
                let n = g.int(key("attention.sliding_window_pattern")) ?? 6
                c.localLayers = (0..<c.nLayers).map { n == 0 || $0 % n < n - 1 }
            }
        }
    }

    static func ggufTensor(_ role: TensorRole) -> String? {
        switch role {
        case .qBias, .kBias, .vBias, .ropeFactors: nil
        default: GGUFNames.standard(role)
        }
    }
}
