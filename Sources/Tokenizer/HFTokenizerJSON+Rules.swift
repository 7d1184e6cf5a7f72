import Foundation

extension HFTokenizerJSON {
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Decides byte-level vs SentencePiece style from the pre-tokenizer, normalizer and byte_fallback.
    mutating func classify(_ model: [String: Any]) throws {
        let pre = Self.flatten(root["pre_tokenizer"], key: "pretokenizers")
        let norm = Self.flatten(root["normalizer"], key: "normalizers")
        if pre.contains(where: { $0["type"] as? String == "ByteLevel" }) {
            kind = .byteLevelBPE
            preTokenizer = try byteLevelRules(pre)
            try checkNormalizers(norm, allowed: ["NFC"])
            return
        }
        guard (model["byte_fallback"] as? Bool) == true else {
            throw fault("unsupported tokenizer: no ByteLevel pre-tokenizer and no byte_fallback "
                + "(supported: GPT-2 style byte-level BPE, SentencePiece-style BPE with byte fallback)")
        }
        kind = .sentencePiece
        if let meta = pre.first(where: { $0["type"] as? String == "Metaspace" }) {
            guard pre.count == 1, (meta["split"] as? Bool) != true else {
                throw fault("unsupported pre_tokenizer \(Self.describe(pre)) (supported: Metaspace without split)")
            }
            let scheme = meta["prepend_scheme"] as? String ?? ((meta["add_prefix_space"] as? Bool) == false ? "never" : "always")
            addSpacePrefix = scheme != "never"
            try checkNormalizers(norm, allowed: [])
        } else {
            guard pre.isEmpty else { throw fault("unsupported pre_tokenizer \(Self.describe(pre)) for a byte_fallback BPE") }
            guard norm.contains(where: Self.isSpaceToMetaspace) else {
                throw fault("SentencePiece-style tokenizer without a Replace(' ' -> '▁') normalizer or Metaspace pre-tokenizer")
            }
            addSpacePrefix = norm.contains { $0["type"] as? String == "Prepend" && $0["prepend"] as? String == "▁" }
            try checkNormalizers(norm.filter { !Self.isSpaceToMetaspace($0) && $0["type"] as? String != "Prepend" }, allowed: [])
        }
    }

    /// ByteLevel alone = GPT-2; Digits(individual) + ByteLevel = SmolLM/StarCoder; Split(Llama 3 / Qwen 2 regex) + ByteLevel.
    private func byteLevelRules(_ pre: [[String: Any]]) throws -> PreTokenizer {
        let types = pre.map { $0["type"] as? String ?? "?" }
        let byteLevel = pre.last { $0["type"] as? String == "ByteLevel" }!
        let regex = (byteLevel["use_regex"] as? Bool) ?? true
        if types == ["ByteLevel"] && regex { return .gpt2 }
        if types == ["Digits", "ByteLevel"] && regex && (pre[0]["individual_digits"] as? Bool) == true { return .smollm }
        if types == ["Split", "ByteLevel"] && !regex, let pattern = (pre[0]["pattern"] as? [String: Any])?["Regex"] as? String {
            if pattern == Self.llama3Pattern { return .llama3 }
            if pattern == Self.qwen2Pattern { return .qwen2 }
            if pattern == Self.gpt2Pattern { return .gpt2 }
        }
        throw fault("unsupported pre_tokenizer \(Self.describe(pre)) (supported: ByteLevel, Digits+ByteLevel, "
            + "Split(Llama 3 / Qwen 2 regex)+ByteLevel)")
    }

    private func checkNormalizers(_ norm: [[String: Any]], allowed: Set<String>) throws {
        // NFC is accepted and not applied: the inputs the engine sees are almost always NFC already.
        let bad = norm.filter { !allowed.contains($0["type"] as? String ?? "?") }
        if !bad.isEmpty { throw fault("unsupported normalizer \(Self.describe(bad))") }
    }

    static func isSpaceToMetaspace(_ n: [String: Any]) -> Bool {
        n["type"] as? String == "Replace" && (n["pattern"] as? [String: Any])?["String"] as? String == " "
            && n["content"] as? String == "▁"
    }

    /// A component, or the members of a Sequence, as a flat list (null -> []).
    static func flatten(_ value: Any?, key: String) -> [[String: Any]] {
        guard let dict = value as? [String: Any] else { return [] }
        if dict["type"] as? String == "Sequence" {
            return (dict[key] as? [Any] ?? []).flatMap { flatten($0, key: key) }
        }
        return [dict]
    }

    static func describe(_ parts: [[String: Any]]) -> String {
        "[" + parts.map { $0["type"] as? String ?? "?" }.joined(separator: ", ") + "]"
    }

    /// SentencePiece scores from merge ranks: the first merge producing a token gives it -(rank + 1);
    /// tokens no merge produces keep 0 (as SentencePiece's byte and control pieces do).
    func scoresFromMerges() -> [Float] {
        var scores = [Float](repeating: 0, count: tokens.count)
        var seen = [Bool](repeating: false, count: tokens.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let id = ids[a + b], !seen[Int(id)] else { continue }
            seen[Int(id)] = true
            scores[Int(id)] = -Float(rank + 1)
        }
        return scores
    }

    /// The special-token post-processor's single-sequence template: (adds BOS, adds EOS) given their texts.
    func templateAdds(bos: String?, eos: String?) -> (bos: Bool, eos: Bool)? {
        let procs = Self.flatten(root["post_processor"], key: "processors")
        guard let t = procs.first(where: { $0["type"] as? String == "TemplateProcessing" }),
              let single = t["single"] as? [[String: Any]] else { return nil }
        func special(_ item: [String: Any]?) -> String? { (item?["SpecialToken"] as? [String: Any])?["id"] as? String }
        let first = special(single.first), last = special(single.last)
        return (first != nil && first == bos, last != nil && last == eos)
    }
}
