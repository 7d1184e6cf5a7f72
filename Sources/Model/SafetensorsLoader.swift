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

    /// The architecture (from the registry), then the hyper-parameters. Q/K are in HF's rotate-half layout (NeoX).
    func modelConfig() throws(ModelError) -> ModelConfig {
        let archs = json["architectures"] as? [String] ?? []
        let type = json["model_type"] as? String
        let classes = archs.isEmpty ? [["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                                        "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"][type ?? ""] ?? ""] : archs
        guard let def = Architectures.hf(classes) else {
            throw ModelError("\(path): unsupported architecture \(archs.isEmpty ? (type ?? "?") : archs.joined(separator: ", ")) "
                + "(supported: \(Architectures.hfSupported))")
        }
        let dim = try require("hidden_size"), heads = try require("num_attention_heads")
        var c = ModelConfig(
            architecture: def.architecture, dim: dim, hiddenDim: try require("intermediate_size"),
            nLayers: try require("num_hidden_layers"), nHeads: heads, nKVHeads: int("num_key_value_heads") ?? heads,
            headDim: int("head_dim") ?? dim / max(heads, 1), vocabSize: try require("vocab_size"),
            contextLength: int("max_position_embeddings") ?? 2048, ropeTheta: float("rope_theta") ?? 10000,
            ropeStyle: .neox, rmsEps: float("rms_norm_eps") ?? 1e-6,
            tiedOutput: (json["tie_word_embeddings"] as? Bool) ?? false)
        try def.configure(&c, hf: self)
        return c
    }
}

extension DecoderModel {
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

    /// Reads a Hugging Face checkpoint of a registered architecture (Llama, Mistral, Qwen 2, Qwen 3): config.json plus safetensors weights (F32/F16/BF16).
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
        let def = Architectures.definition(c.architecture)
        func roleTensor(_ role: TensorRole) throws(ModelError) -> TensorSource {
            guard let name = def.hfTensor(role) else {
                throw ModelError("\(path): architecture \(c.architecture.rawValue) has no tensor for \(role)")
            }
            let (rows, cols) = role.shape(c)
            return try named(name, rows == 1 ? [cols] : [rows, cols])
        }
        let w = try ModelWeights.build(c, progress: progress, tensor: roleTensor)
        return (c, w)
    }
}
