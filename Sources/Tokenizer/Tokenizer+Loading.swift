public import ModelFormats

extension Vocabulary {
    /// The tokenizer of a GGUF file, with llama.cpp's defaults for keys the file leaves out.
    public init(gguf: GGUFFile) throws {
        let model = gguf.string("tokenizer.ggml.model") ?? "(missing)"
        guard let strings = gguf.stringArray("tokenizer.ggml.tokens") else {
            throw TokenizerError("\(gguf.path): no tokenizer.ggml.tokens array")
        }
        let tokens = strings.map { Array($0.utf8) }
        let rawTypes = gguf.intArray("tokenizer.ggml.token_type") ?? []
        let types = rawTypes.map { TokenType(rawValue: $0) ?? .undefined }
        let scores = gguf.floatArray("tokenizer.ggml.scores") ?? []
        switch model {
        case "llama":
            self.init(kind: .sentencePiece, tokens: tokens, scores: scores, types: types,
                      bosId: 1, eosId: 2, unknownId: 0, addBOS: true, addEOS: false, addSpacePrefix: true)
        case "gpt2":
            let pre = gguf.string("tokenizer.ggml.pre")
            guard let preTokenizer = PreTokenizer(ggufName: pre) else {
                throw TokenizerError("\(gguf.path): unsupported tokenizer.ggml.pre '\(pre ?? "")'")
            }
            guard let merges = gguf.stringArray("tokenizer.ggml.merges") else {
                throw TokenizerError("\(gguf.path): gpt2 tokenizer without tokenizer.ggml.merges")
            }
            let llama3 = preTokenizer == .llama3
            self.init(kind: .byteLevelBPE, tokens: tokens, types: types, merges: merges, preTokenizer: preTokenizer,
                      bosId: 11, eosId: 11, addBOS: llama3, ignoreMerges: llama3)
        default:
            throw TokenizerError("\(gguf.path): unsupported tokenizer.ggml.model '\(model)' (supported: llama, gpt2)")
        }
        try applyOverrides(from: gguf)
    }

    /// Explicit ids and flags from the file win over the per-model defaults.
    private mutating func applyOverrides(from gguf: GGUFFile) throws {
        let count = tokens.count
        func id(_ key: String) -> Int32? {
            guard let v = gguf.int("tokenizer.ggml.\(key)"), v >= 0, v < count else { return nil }
            return Int32(v)
        }
        if let v = id("bos_token_id") { bosId = v }
        if let v = id("eos_token_id") { eosId = v }
        if let v = id("unknown_token_id") { unknownId = v }
        extraStopIds = ["eot_token_id", "eom_token_id"].compactMap(id)
        if let v = gguf.bool("tokenizer.ggml.add_bos_token") { addBOS = v }
        if let v = gguf.bool("tokenizer.ggml.add_eos_token") { addEOS = v }
        if let v = gguf.bool("tokenizer.ggml.add_space_prefix") { addSpacePrefix = v }
        chatTemplate = gguf.string("tokenizer.chat_template")
        for (name, id) in [("bos", bosId), ("eos", eosId)] {
            if let id, Int(id) >= count { throw TokenizerError("\(gguf.path): \(name) id \(id) >= vocab size \(count)") }
        }
    }

    /// llama2.c `tokenizer.bin`: BOS 1, EOS 2, add BOS, dummy-prefix space, `<0xNN>` byte tokens at 3...258.
    public init(llama2c file: Llama2cTokenizerFile) {
        self.init(kind: .llama2c, tokens: file.pieces, scores: file.scores, bosId: 1, eosId: 2, unknownId: 0,
                  addBOS: true, addEOS: false, addSpacePrefix: true)
    }
}

extension Tokenizer {
    public convenience init(gguf: GGUFFile) throws {
        try self.init(vocabulary: Vocabulary(gguf: gguf))
    }

    public convenience init(llama2cTokenizerPath path: String, vocabSize: Int? = nil) throws {
        let file = try Llama2cTokenizerFile(path: path, vocabSize: vocabSize)
        guard file.pieces.count > 258 else {
            throw TokenizerError("\(path): \(file.pieces.count) tokens; a llama2.c vocabulary needs the 256 byte tokens at 3...258")
        }
        try self.init(vocabulary: Vocabulary(llama2c: file))
    }
}
