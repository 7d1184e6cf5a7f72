/// Limits shared by both endpoints.
public enum Limits {
    public static let maxN = 16
    public static let maxLogprobs = 20
    public static let maxTopLogprobs = 20
}

/// The sampling fields both /v1/completions and /v1/chat/completions accept (OpenAI + vLLM extensions).
/// All optional: the server applies defaults that depend on the model (e.g. max_tokens).
public struct SamplingOptions: Sendable, Equatable {
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var n: Int = 1
    public var stop: [String] = []
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    /// Token id → bias in [-100, 100].
    public var logitBias: [Int: Double] = [:]
    public var seed: Int?
    // vLLM extensions
    public var topK: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?
    public var minTokens: Int?
    public var ignoreEOS: Bool?
    public var priority: Int?
    public var stopTokenIds: [Int] = []
    public var skipSpecialTokens: Bool?

    public init() {}

    /// Reads and range-checks the shared fields. `maxTokensKeys` lists the accepted names, first wins
    /// (chat accepts `max_completion_tokens` before `max_tokens`).
    init(_ r: FieldReader, maxTokensKeys: [String]) throws(APIError) {
        // Every accepted name is checked, also when an earlier one is given (schemathesis: a string `max_tokens`
        // beside a valid `max_completion_tokens` was accepted).
        for key in maxTokensKeys {
            let v = try r.int(key)
            try checkRange(v, key, 1...Int.max)
            if maxTokens == nil { maxTokens = v }
        }
        temperature = try r.number("temperature"); try checkRange(temperature, "temperature", 0...2)
        topP = try r.number("top_p")
        if let p = topP, !(p > 0 && p <= 1) {
            throw .outOfRange(param: "top_p", allowed: "a number in (0, 1]", got: fmt(p))
        }
        n = try r.int("n") ?? 1; try checkRange(n, "n", 1...Limits.maxN)
        stop = try r.stringOrStrings("stop") ?? []
        presencePenalty = try r.number("presence_penalty"); try checkRange(presencePenalty, "presence_penalty", -2...2)
        frequencyPenalty = try r.number("frequency_penalty"); try checkRange(frequencyPenalty, "frequency_penalty", -2...2)
        logitBias = try Self.readLogitBias(r)
        seed = try r.int("seed")
        try readExtensions(r)
    }

    private mutating func readExtensions(_ r: FieldReader) throws(APIError) {
        topK = try r.int("top_k")
        if let k = topK, k < -1 { throw .outOfRange(param: "top_k", allowed: "-1 (off), 0 (off) or a positive integer", got: String(k)) }
        minP = try r.number("min_p"); try checkRange(minP, "min_p", 0...1)
        repetitionPenalty = try r.number("repetition_penalty")
        if let p = repetitionPenalty, !(p > 0 && p <= 2) {
            throw .outOfRange(param: "repetition_penalty", allowed: "a number in (0, 2]", got: fmt(p))
        }
        minTokens = try r.int("min_tokens"); try checkRange(minTokens, "min_tokens", 0...Int.max)
        if let lo = minTokens, let hi = maxTokens, lo > hi {
            throw .outOfRange(param: "min_tokens", allowed: "at most max_tokens (\(hi))", got: String(lo))
        }
        ignoreEOS = try r.bool("ignore_eos")
        priority = try r.int("priority")
        stopTokenIds = try r.ints("stop_token_ids") ?? []
        for (i, t) in stopTokenIds.enumerated() { try checkRange(t, "stop_token_ids[\(i)]", 0...Int(Int32.max)) }
        skipSpecialTokens = try r.bool("skip_special_tokens")
    }

    private static func readLogitBias(_ r: FieldReader) throws(APIError) -> [Int: Double] {
        guard let obj = try r.object("logit_bias") else { return [:] }
        var out: [Int: Double] = [:]
        for (k, _) in obj.object {
            guard let id = Int(k), id >= 0 else {
                throw .invalidRequest("Invalid key in 'logit_bias': '\(k)' is not a token id (a non-negative integer).",
                                      param: "logit_bias", code: "invalid_value")
            }
            let bias = try obj.number(k) ?? 0
            try checkRange(bias, "logit_bias.\(k)", -100...100)
            out[id] = bias
        }
        return out
    }

    /// The fields as JSON (for clients that build requests, e.g. the benchmark).
    func write(into o: inout [String: JSONValue], maxTokensKey: String) {
        func put(_ k: String, _ v: JSONValue?) { if let v { o[k] = v } }
        put(maxTokensKey, maxTokens.map { .int($0) })
        put("temperature", temperature.map { .double($0) })
        put("top_p", topP.map { .double($0) })
        if n != 1 { o["n"] = .int(n) }
        if !stop.isEmpty { o["stop"] = .array(stop.map { .string($0) }) }
        put("presence_penalty", presencePenalty.map { .double($0) })
        put("frequency_penalty", frequencyPenalty.map { .double($0) })
        if !logitBias.isEmpty {
            o["logit_bias"] = .object(Dictionary(uniqueKeysWithValues: logitBias.map { (String($0.key), .double($0.value)) }))
        }
        put("seed", seed.map { .int($0) })
        put("top_k", topK.map { .int($0) })
        put("min_p", minP.map { .double($0) })
        put("repetition_penalty", repetitionPenalty.map { .double($0) })
        put("min_tokens", minTokens.map { .int($0) })
        put("ignore_eos", ignoreEOS.map { .bool($0) })
        put("priority", priority.map { .int($0) })
        if !stopTokenIds.isEmpty { o["stop_token_ids"] = .array(stopTokenIds.map { .int($0) }) }
        put("skip_special_tokens", skipSpecialTokens.map { .bool($0) })
    }
}

public struct StreamOptions: Sendable, Equatable {
    public var includeUsage: Bool
    public init(includeUsage: Bool = false) { self.includeUsage = includeUsage }

    static func read(_ r: FieldReader, stream: Bool) throws(APIError) -> StreamOptions? {
        guard let o = try r.object("stream_options") else { return nil }
        guard stream else {
            throw .invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                  param: "stream_options", code: "invalid_value")
        }
        return StreamOptions(includeUsage: try o.bool("include_usage") ?? false)
    }
}
