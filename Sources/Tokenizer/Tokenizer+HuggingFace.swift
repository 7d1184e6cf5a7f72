import Foundation

extension Vocabulary {
    /// A Hugging Face tokenizer: `tokenizer.json`, with BOS/EOS, add_bos/add_eos and chat_template from
    /// `tokenizer_config.json`, `config.json` and `generation_config.json` beside it when present.
    public init(huggingFaceTokenizerJSON path: String) throws {
        let hf = try HFTokenizerJSON(path: path)
        let dir = (path as NSString).deletingLastPathComponent
        let settings = HFSideFiles(directory: dir.isEmpty ? "." : dir)
        let bosText = settings.tokenText("bos_token"), eosText = settings.tokenText("eos_token")
        let bos = bosText.flatMap { hf.ids[$0] } ?? settings.ids("bos_token_id").first
        let eosIds = settings.ids("eos_token_id")
        let eos = eosText.flatMap { hf.ids[$0] } ?? eosIds.first
        let template = hf.templateAdds(bos: bosText ?? bos.map { String(decoding: hf.tokens[Int($0)], as: UTF8.self) },
                                       eos: eosText ?? eos.map { String(decoding: hf.tokens[Int($0)], as: UTF8.self) })
        let sentencePiece = hf.kind == .sentencePiece
        self.init(kind: hf.kind, tokens: hf.tokens, scores: sentencePiece ? hf.scoresFromMerges() : [], types: hf.types,
                  merges: sentencePiece ? [] : hf.merges.map { $0.0 + " " + $0.1 }, preTokenizer: hf.preTokenizer,
                  bosId: bos, eosId: eos, unknownId: hf.unknownId,
                  extraStopIds: eosIds.filter { $0 != eos && Int($0) < hf.tokens.count },
                  addBOS: settings.bool("add_bos_token") ?? template?.bos ?? false,
                  addEOS: settings.bool("add_eos_token") ?? template?.eos ?? false,
                  addSpacePrefix: hf.addSpacePrefix, ignoreMerges: hf.ignoreMerges, chatTemplate: settings.chatTemplate())
        for (name, id) in [("bos", bosId), ("eos", eosId)] {
            if let id, id < 0 || Int(id) >= tokens.count { throw TokenizerError("\(path): \(name) id \(id) outside the vocabulary") }
        }
    }
}

extension Tokenizer {
    /// Loads `tokenizer.json` (plus its side files) from a Hugging Face model directory or a path to the file.
    public convenience init(huggingFace path: String) throws {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let file = isDir.boolValue ? (path as NSString).appendingPathComponent("tokenizer.json") : path
        try self.init(vocabulary: Vocabulary(huggingFaceTokenizerJSON: file))
    }

    /// The directory of a Hugging Face model path (a directory, or a file in one) if it holds tokenizer.json.
    public static func huggingFaceDirectory(forModelPath path: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
        let file = ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent("tokenizer.json")
        guard isDir.boolValue || path.hasSuffix(".safetensors") || path.hasSuffix(".json") else { return nil }
        return FileManager.default.fileExists(atPath: file) ? (dir.isEmpty ? "." : dir) : nil
    }
}

/// tokenizer_config.json, config.json and generation_config.json of a model directory (each optional).
struct HFSideFiles {
    let tokenizerConfig: [String: Any]
    let config: [String: Any]
    let generation: [String: Any]

    init(directory: String) {
        func load(_ name: String) -> [String: Any] {
            let p = (directory as NSString).appendingPathComponent(name)
            guard let d = FileManager.default.contents(atPath: p),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
            return o
        }
        tokenizerConfig = load("tokenizer_config.json")
        config = load("config.json")
        generation = load("generation_config.json")
    }

    /// `bos_token` / `eos_token`: a string or an AddedToken object with "content".
    func tokenText(_ key: String) -> String? {
        if let s = tokenizerConfig[key] as? String { return s }
        return (tokenizerConfig[key] as? [String: Any])?["content"] as? String
    }

    func bool(_ key: String) -> Bool? { tokenizerConfig[key] as? Bool }

    /// An id or list of ids from generation_config.json, else config.json.
    func ids(_ key: String) -> [Int32] {
        for source in [generation, config] {
            if let n = source[key] as? NSNumber { return [Int32(truncatingIfNeeded: n.intValue)] }
            if let list = source[key] as? [NSNumber], !list.isEmpty { return list.map { Int32(truncatingIfNeeded: $0.intValue) } }
        }
        return []
    }

    /// A string, or a list of {name, template} (the "default" one, else the first).
    func chatTemplate() -> String? {
        if let s = tokenizerConfig["chat_template"] as? String { return s }
        guard let list = tokenizerConfig["chat_template"] as? [[String: Any]] else { return nil }
        let pick = list.first { $0["name"] as? String == "default" } ?? list.first
        return pick?["template"] as? String
    }
}
