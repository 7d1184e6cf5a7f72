import Foundation

/// A parsed Hugging Face `tokenizer.json` (`model.type` "BPE"), reduced to what maps onto `Vocabulary`:
/// (a) SentencePiece-style Llama tokenizers (byte_fallback, "▁" via a Prepend/Replace normalizer or a Metaspace
/// pre-tokenizer) become `.sentencePiece`, with scores derived from merge ranks (earlier merge = higher score);
/// (b) GPT-2 style byte-level BPE (a ByteLevel pre-tokenizer) becomes `.byteLevelBPE` with the matching
/// `PreTokenizer` rules. Anything else is an error naming the file and the unsupported part.
struct HFTokenizerJSON {
    let path: String
    var tokens: [[UInt8]] = []
    var types: [TokenType] = []
    var merges: [(String, String)] = []
    var ids: [String: Int32] = [:]
    var kind: TokenizerKind = .byteLevelBPE
    var preTokenizer: PreTokenizer = .gpt2
    var addSpacePrefix = false
    var ignoreMerges = false
    var unknownId: Int32?
    var root: [String: Any] = [:]

    func fault(_ m: String) -> TokenizerError { TokenizerError("\(path): \(m)") }

    init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError("\(path): cannot read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let root = object as? [String: Any] else {
            throw TokenizerError("\(path): bad JSON (expected an object)")
        }
        self.root = root
        guard let model = root["model"] as? [String: Any] else { throw fault("no \"model\" object") }
        let type = model["type"] as? String ?? "(missing)"
        guard type == "BPE" else { throw fault("unsupported model.type '\(type)' (supported: BPE)") }
        try readVocabulary(model)
        merges = try Self.readMerges(model["merges"], fault: fault)
        ignoreMerges = (model["ignore_merges"] as? Bool) ?? false
        try classify(model)
        if let unk = model["unk_token"] as? String { unknownId = ids[unk] }
        assignTypes(model)
    }

    /// model.vocab plus added_tokens, indexed by id (holes stay empty and unused).
    private mutating func readVocabulary(_ model: [String: Any]) throws {
        guard let vocab = model["vocab"] as? [String: Any] else { throw fault("model.vocab is not an object") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (text, v) in vocab {
            guard let id = (v as? NSNumber)?.intValue, id >= 0, id < 1 << 24 else { throw fault("bad id for vocab entry '\(text)'") }
            entries.append((text, id))
        }
        for t in addedTokens() { entries.append((t.content, t.id)) }
        let count = (entries.map(\.1).max() ?? -1) + 1
        guard count > 0 else { throw fault("empty vocabulary") }
        tokens = [[UInt8]](repeating: [], count: count)
        types = [TokenType](repeating: .unused, count: count)
        for (text, id) in entries {
            tokens[id] = Array(text.utf8)
            types[id] = .normal
            if ids[text] == nil || ids[text]! > Int32(id) { ids[text] = Int32(id) }
        }
    }

    struct AddedToken { let id: Int; let content: String; let special: Bool }

    func addedTokens() -> [AddedToken] {
        (root["added_tokens"] as? [[String: Any]] ?? []).compactMap { t in
            guard let id = (t["id"] as? NSNumber)?.intValue, id >= 0, id < 1 << 24, let content = t["content"] as? String else {
                return nil
            }
            return AddedToken(id: id, content: content, special: (t["special"] as? Bool) ?? false)
        }
    }

    /// "a b" strings (older files) or ["a", "b"] pairs (newer files).
    static func readMerges(_ raw: Any?, fault: (String) -> TokenizerError) throws -> [(String, String)] {
        guard let list = raw as? [Any] else { return [] }
        var out: [(String, String)] = []
        out.reserveCapacity(list.count)
        for (i, m) in list.enumerated() {
            if let s = m as? String, let space = s.dropFirst().firstIndex(of: " ") {
                out.append((String(s[..<space]), String(s[s.index(after: space)...])))
            } else if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                out.append((a, b))
            } else {
                throw fault("merge \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return out
    }

    /// Control for special added tokens (unknown for unk_token), user-defined for the others, byte for <0xNN>.
    private mutating func assignTypes(_ model: [String: Any]) {
        if kind == .sentencePiece {
            for (i, t) in tokens.enumerated() where Tokenizer.isByteTokenText(t) { types[i] = .byte }
        }
        for t in addedTokens() { types[t.id] = t.special ? .control : .userDefined }
        if let unknownId { types[Int(unknownId)] = .unknown }
    }
}
