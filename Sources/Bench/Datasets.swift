import Foundation

/// What is sent as `prompt` (completions) or as the user message (chat).
public enum PromptPayload: Sendable, Hashable {
    /// Token ids (completions only): the server sees exactly these tokens.
    case tokens([Int])
    case text(String)
}

/// One request of a benchmark: the prompt, its length in tokens as far as the client knows it, and how many
/// tokens to ask for (`max_tokens`, sent with `ignore_eos` so the server generates exactly that many).
public struct BenchRequest: Sendable, Equatable {
    public var prompt: PromptPayload
    /// Prompt tokens (the server's own count from `usage` replaces it when the server reports one).
    public var promptLength: Int
    public var outputLength: Int

    public init(prompt: PromptPayload, promptLength: Int, outputLength: Int) {
        self.prompt = prompt; self.promptLength = promptLength; self.outputLength = outputLength
    }
}

/// The tokenizer view the datasets need (the model's tokenizer through `ModelTokenizer`, or a stand-in in tests).
public protocol BenchTokenizer: Sendable {
    /// Ids of ordinary tokens (no control, byte, unknown or unused ones) from which random prompts are drawn.
    var promptTokenIds: [Int] { get }
    /// Text → ids, without BOS/EOS.
    func encode(_ text: String) -> [Int]
    func decode(_ ids: [Int]) -> String
}

/// Random token draws for prompts made of real vocabulary entries.
struct TokenDrawer {
    let ids: [Int]
    var rng: SeededGenerator

    mutating func draw(_ n: Int) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(ids[Int(rng.next() % UInt64(ids.count))]) }
        return out
    }

    /// Uniform integer in [⌊n·(1−r)⌋, ⌊n·(1+r)⌋], at least `minimum` (vLLM's random-range-ratio).
    mutating func length(_ n: Int, ratio r: Double, minimum: Int = 1) -> Int {
        let lo = max(minimum, Int((Double(n) * (1 - r)).rounded(.down)))
        let hi = max(lo, Int((Double(n) * (1 + r)).rounded(.down)))
        return lo + Int(rng.next() % UInt64(hi - lo + 1))
    }
}

public enum Datasets {
    /// Prompts of `inputLen` (±`rangeRatio`) random ordinary tokens asking for `outputLen` (±`rangeRatio`) tokens.
    /// As token ids when `asText` is false (exact lengths); otherwise decoded to text, the length re-counted.
    public static func random(count: Int, inputLen: Int, outputLen: Int, rangeRatio: Double = 0, seed: UInt64,
                              tokenizer: some BenchTokenizer, asText: Bool) throws(BenchError) -> [BenchRequest] {
        try checkRandom(inputLen: inputLen, outputLen: outputLen, rangeRatio: rangeRatio, tokenizer: tokenizer)
        var d = TokenDrawer(ids: tokenizer.promptTokenIds, rng: SeededGenerator(seed: seed))
        var out: [BenchRequest] = []
        for _ in 0..<count {
            let n = d.length(inputLen, ratio: rangeRatio)
            let m = d.length(outputLen, ratio: rangeRatio)
            out.append(request(d.draw(n), output: m, tokenizer: tokenizer, asText: asText))
        }
        return out
    }

    /// `numGroups` random prefixes of `prefixLen` tokens; request i uses prefix i mod numGroups followed by
    /// `inputLen` (±`rangeRatio`) random tokens of its own (exercises prefix caching).
    public static func prefix(count: Int, prefixLen: Int, numGroups: Int, inputLen: Int, outputLen: Int,
                              rangeRatio: Double = 0, seed: UInt64, tokenizer: some BenchTokenizer,
                              asText: Bool) throws(BenchError) -> [BenchRequest] {
        guard prefixLen >= 1, numGroups >= 1 else { throw BenchError("--prefix-len and --num-groups must be at least 1") }
        try checkRandom(inputLen: max(inputLen, 1), outputLen: outputLen, rangeRatio: rangeRatio, tokenizer: tokenizer)
        var d = TokenDrawer(ids: tokenizer.promptTokenIds, rng: SeededGenerator(seed: seed))
        let prefixes = (0..<numGroups).map { _ in d.draw(prefixLen) }  // [numGroups][prefixLen]
        var out: [BenchRequest] = []
        for i in 0..<count {
            let n = inputLen == 0 ? 0 : d.length(inputLen, ratio: rangeRatio, minimum: 0)
            let m = d.length(outputLen, ratio: rangeRatio)
            out.append(request(prefixes[i % numGroups] + d.draw(n), output: m, tokenizer: tokenizer, asText: asText))
        }
        return out
    }

    static func checkRandom(inputLen: Int, outputLen: Int, rangeRatio: Double,
                            tokenizer: some BenchTokenizer) throws(BenchError) {
        guard inputLen >= 1, outputLen >= 1 else { throw BenchError("--input-len and --output-len must be at least 1") }
        guard rangeRatio >= 0, rangeRatio < 1 else { throw BenchError("--range-ratio must be in [0, 1)") }
        guard !tokenizer.promptTokenIds.isEmpty else { throw BenchError("the tokenizer has no ordinary tokens") }
    }

    static func request(_ ids: [Int], output: Int, tokenizer: some BenchTokenizer, asText: Bool) -> BenchRequest {
        guard asText else { return BenchRequest(prompt: .tokens(ids), promptLength: ids.count, outputLength: output) }
        let text = tokenizer.decode(ids)
        return BenchRequest(prompt: .text(text), promptLength: tokenizer.encode(text).count, outputLength: output)
    }
}

extension Datasets {
    /// A ShareGPT-format file (a JSON array of `{"conversations": [{"from": "human", "value": …},
    /// {"from": "gpt", "value": …}, …]}`): the first turn is the prompt, the second one's token count the output
    /// length (or `fixedOutputLen`). Shuffled with `seed`; pairs with a prompt or output under 4 tokens, a prompt
    /// over 1024 or a total over 2048 are skipped (vLLM's filter); reused in order when there are too few.
    public static func shareGPT(path: String, count: Int, seed: UInt64, tokenizer: some BenchTokenizer,
                                fixedOutputLen: Int? = nil) throws(BenchError) -> [BenchRequest] {
        let convs = try shareGPTPairs(try readFile(path), path: path)
        var rng = SeededGenerator(seed: seed)
        var pool: [BenchRequest] = []
        for (prompt, answer) in convs.shuffled(using: &rng) where pool.count < count {
            let p = tokenizer.encode(prompt).count
            let o = fixedOutputLen ?? tokenizer.encode(answer).count
            if p < 4 || o < 4 || p > 1024 || p + o > 2048 { continue }
            pool.append(BenchRequest(prompt: .text(prompt), promptLength: p, outputLength: o))
        }
        guard !pool.isEmpty else { throw BenchError("\(path): no usable conversations") }
        return (0..<count).map { pool[$0 % pool.count] }
    }

    static func shareGPTPairs(_ data: Data, path: String) throws(BenchError) -> [(String, String)] {
        guard let items = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw BenchError("\(path): not a JSON array of conversations")
        }
        var out: [(String, String)] = []
        for case let item as [String: Any] in items {
            guard let turns = item["conversations"] as? [[String: Any]], turns.count >= 2,
                  let p = turns[0]["value"] as? String, let a = turns[1]["value"] as? String else { continue }
            out.append((p, a))
        }
        return out
    }

    /// One `{"prompt": text or [ids], "max_tokens": n}` per line; blank lines skipped. Prompt lengths from the
    /// tokenizer when given (the server's `usage` replaces them). Reused in order when `count` exceeds the lines.
    public static func jsonl(path: String, count: Int?, tokenizer: (any BenchTokenizer)?,
                             defaultMaxTokens: Int = 128) throws(BenchError) -> [BenchRequest] {
        let text = String(decoding: try readFile(path), as: UTF8.self)
        var pool: [BenchRequest] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let o = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw BenchError("\(path):\(n + 1): not a JSON object")
            }
            let maxTokens = (o["max_tokens"] as? NSNumber)?.intValue ?? defaultMaxTokens
            if let s = o["prompt"] as? String {
                pool.append(BenchRequest(prompt: .text(s), promptLength: tokenizer?.encode(s).count ?? 0, outputLength: maxTokens))
            } else if let ids = o["prompt"] as? [Int], !ids.isEmpty {
                pool.append(BenchRequest(prompt: .tokens(ids), promptLength: ids.count, outputLength: maxTokens))
            } else {
                throw BenchError("\(path):\(n + 1): \"prompt\" must be a string or a list of token ids")
            }
        }
        guard !pool.isEmpty else { throw BenchError("\(path): no requests") }
        return (0..<(count ?? pool.count)).map { pool[$0 % pool.count] }
    }

    static func readFile(_ path: String) throws(BenchError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("cannot read \(path)") }
        return data
    }
}
