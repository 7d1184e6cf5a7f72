import Foundation
import ModelFormats
import Tensor

/// The fields of a Hugging Face `config.json` (LlamaForCausalLM / MistralForCausalLM) the engine uses.
struct HFModelConfig {
    let path: String
    let json: [String: Any]

    init(path: String) throws(ModelError) {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError("\(path): cannot read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw ModelError("\(path): bad JSON (expected an object)")
        }
        json = dict
    }

    func int(_ key: String) -> Int? {
        guard let n = json[key] as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return Double(n.int64Value) == n.doubleValue ? Int(n.int64Value) : nil
    }

    func float(_ key: String) -> Float? { (json[key] as? NSNumber).map { $0.floatValue } }

    func require(_ key: String) throws(ModelError) -> Int {
        guard let v = int(key) else { throw ModelError("\(path): missing or non-integer \"\(key)\"") }
        return v
    }

    /// Architecture checks, then the hyper-parameters. Q/K are in HF's rotate-half layout: NeoX RoPE.
    func modelConfig() throws(ModelError) -> ModelConfig {
        try checkSupported()
        let dim = try require("hidden_size"), heads = try require("num_attention_heads")
        var context = int("max_position_embeddings") ?? 2048
        if let window = int("sliding_window"), window > 0 { context = min(context, window) }  // Mistral
        return ModelConfig(
            architecture: "llama", dim: dim, hiddenDim: try require("intermediate_size"),
            nLayers: try require("num_hidden_layers"), nHeads: heads, nKVHeads: int("num_key_value_heads") ?? heads,
            headDim: int("head_dim") ?? dim / max(heads, 1), vocabSize: try require("vocab_size"),
            contextLength: context, ropeTheta: float("rope_theta") ?? 10000, ropeStyle: .neox,
            rmsEps: float("rms_norm_eps") ?? 1e-6, tiedOutput: (json["tie_word_embeddings"] as? Bool) ?? false)
    }

    private func checkSupported() throws(ModelError) {
        let archs = json["architectures"] as? [String] ?? []
        let type = json["model_type"] as? String
        let known = ["LlamaForCausalLM", "MistralForCausalLM"]
        guard archs.contains(where: known.contains) || (archs.isEmpty && ["llama", "mistral"].contains(type ?? "")) else {
            throw ModelError("\(path): unsupported architecture \(archs.isEmpty ? (type ?? "?") : archs.joined(separator: ", ")) "
                + "(supported: \(known.joined(separator: ", ")))")
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw ModelError("\(path): unsupported hidden_act '\(act)' (supported: silu)")
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw ModelError("\(path): rope_scaling \(scaling) is not supported")
        }
        for key in ["attention_bias", "mlp_bias"] where (json[key] as? Bool) == true {
            throw ModelError("\(path): \(key) = true is not supported")
        }
    }
}

extension LlamaModel {
    /// The directory holding config.json for a safetensors model path, or nil if `path` is not one:
    /// a directory, or a `.safetensors` / `.safetensors.index.json` file whose directory holds config.json.
    public static func safetensorsDirectory(for path: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
        guard isDir.boolValue || path.hasSuffix(".safetensors") || path.hasSuffix(".safetensors.index.json") else { return nil }
        guard FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("config.json")) else { return nil }
        return dir.isEmpty ? "." : dir
    }

    /// Reads a Hugging Face Llama/Mistral checkpoint: config.json plus safetensors weights (F32/F16/BF16).
    static func loadSafetensors(path: String, directory: String,
                                progress: LoadProgress?) throws(ModelError) -> (ModelConfig, ModelWeights) {
        let c = try HFModelConfig(path: (directory as NSString).appendingPathComponent("config.json")).modelConfig()
        try c.validate()
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        let source = path == directory || FileManager.default.fileExists(atPath: index) ? directory : path
        let ck: SafetensorsCheckpoint
        do { ck = try SafetensorsCheckpoint(path: source) } catch { throw ModelError(error.description) }
        func named(_ name: String, _ shape: [Int]) throws(ModelError) -> TensorSource {
            do {
                let t = try ck.requireTensor(name, shape: shape)
                let type: GGMLType = switch t.info.dtype { case .f32: .f32; case .f16: .f16; case .bf16: .bf16 }
                return TensorSource(type: type, bytes: t.bytes.baseAddress!, rows: shape.count > 1 ? shape[0] : 1,
                                    cols: shape.last ?? 1)
            } catch { throw ModelError(error.description) }
        }
        let w = try ModelWeights.build(c, progress: progress) { (role) throws(ModelError) -> TensorSource in
            let p = "model.layers."
            return switch role {
            case .embedding: try named("model.embed_tokens.weight", [c.vocabSize, c.dim])
            case .finalNorm: try named("model.norm.weight", [c.dim])
            case .output: try named("lm_head.weight", [c.vocabSize, c.dim])
            case .attnNorm(let l): try named(p + "\(l).input_layernorm.weight", [c.dim])
            case .q(let l): try named(p + "\(l).self_attn.q_proj.weight", [c.qDim, c.dim])
            case .k(let l): try named(p + "\(l).self_attn.k_proj.weight", [c.kvDim, c.dim])
            case .v(let l): try named(p + "\(l).self_attn.v_proj.weight", [c.kvDim, c.dim])
            case .o(let l): try named(p + "\(l).self_attn.o_proj.weight", [c.dim, c.qDim])
            case .ffnNorm(let l): try named(p + "\(l).post_attention_layernorm.weight", [c.dim])
            case .gate(let l): try named(p + "\(l).mlp.gate_proj.weight", [c.hiddenDim, c.dim])
            case .up(let l): try named(p + "\(l).mlp.up_proj.weight", [c.hiddenDim, c.dim])
            case .down(let l): try named(p + "\(l).mlp.down_proj.weight", [c.dim, c.hiddenDim])
            }
        }
        return (c, w)
    }
}
