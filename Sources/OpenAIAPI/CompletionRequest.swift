public import Foundation

/// `prompt` of /v1/completions: a string, strings, token ids, or lists of token ids.
public enum Prompt: Sendable, Equatable {
    case text(String)
    case texts([String])
    case tokens([Int])
    case tokenBatches([[Int]])

    /// How many prompts (each gets `n` choices).
    public var count: Int {
        switch self {
        case .text, .tokens: return 1
        case .texts(let t): return t.count
        case .tokenBatches(let b): return b.count
        }
    }

    static func read(_ v: JSONValue, param: String) throws(APIError) -> Prompt {
        let expected = "a string, an array of strings, an array of token ids or an array of arrays of token ids"
        switch v {
        case .string(let s): return .text(s)
        case .array(let items):
            guard let first = items.first else {
                throw .invalidRequest("'\(param)' must not be an empty array.", param: param, code: "invalid_value")
            }
            switch first {
            case .string: return .texts(try strings(items, param: param))
            case .int, .double: return .tokens(try tokenIds(items, param: param))
            case .array:
                var batches: [[Int]] = []
                for (i, item) in items.enumerated() {
                    guard case .array(let inner) = item, !inner.isEmpty else {
                        throw .invalidType(param: "\(param)[\(i)]", expected: "a non-empty array of token ids", got: item)
                    }
                    batches.append(try tokenIds(inner, param: "\(param)[\(i)]"))
                }
                return .tokenBatches(batches)
            default: throw .invalidType(param: "\(param)[0]", expected: "a string, a token id or an array", got: first)
            }
        default: throw .invalidType(param: param, expected: expected, got: v)
        }
    }

    private static func strings(_ items: [JSONValue], param: String) throws(APIError) -> [String] {
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else { throw .invalidType(param: "\(param)[\(i)]", expected: "a string", got: item) }
            out.append(s)
        }
        return out
    }

    private static func tokenIds(_ items: [JSONValue], param: String) throws(APIError) -> [Int] {
        let ids = try FieldReader.intArray(items, param: param)
        for (i, t) in ids.enumerated() { try checkRange(t, "\(param)[\(i)]", 0...Int(Int32.max)) }
        return ids
    }

    var json: JSONValue {
        switch self {
        case .text(let s): return .string(s)
        case .texts(let t): return .array(t.map { .string($0) })
        case .tokens(let t): return .array(t.map { .int($0) })
        case .tokenBatches(let b): return .array(b.map { .array($0.map { .int($0) }) })
        }
    }
}

/// POST /v1/completions
public struct CompletionRequest: Sendable, Equatable, Codable {
    public static let defaultMaxTokens = 16

    public var model: String?
    public var prompt: Prompt
    public var sampling: SamplingOptions
    public var stream: Bool = false
    public var streamOptions: StreamOptions?
    /// Legacy completions logprobs: how many top alternatives per token (0...20).
    public var logprobs: Int?
    public var echo: Bool = false
    public var user: String?
    public var constraint: OutputConstraint?

    public init(model: String? = nil, prompt: Prompt, sampling: SamplingOptions = SamplingOptions()) {
        self.model = model; self.prompt = prompt; self.sampling = sampling
    }

    /// Parses and validates a request body; every failure is a 400 naming its parameter.
    public static func decode(_ data: Data) throws(APIError) -> CompletionRequest {
        var r = try CompletionRequest(json: JSONValue.parseObject(data))
        r.constraint = r.constraint?.keepingKeyOrder(from: Array(data))
        return r
    }

    public init(json object: [String: JSONValue]) throws(APIError) {
        let r = FieldReader(object: object)
        model = try r.string("model")
        guard let p = r.value("prompt") else {
            throw .invalidRequest("Missing required parameter: 'prompt'.", param: "prompt", code: "missing_required_parameter")
        }
        prompt = try Prompt.read(p, param: "prompt")
        sampling = try SamplingOptions(r, maxTokensKeys: ["max_tokens"])
        stream = try r.bool("stream") ?? false
        streamOptions = try StreamOptions.read(r, stream: stream)
        logprobs = try r.int("logprobs"); try checkRange(logprobs, "logprobs", 0...Limits.maxLogprobs)
        echo = try r.bool("echo") ?? false
        user = try r.string("user")
        constraint = try OutputConstraint.read(r)
        if let suffix = try r.string("suffix"), !suffix.isEmpty {
            throw .unsupported(param: "suffix", "this server does not do fill-in-the-middle completions.")
        }
        if let bestOf = try r.int("best_of"), bestOf != sampling.n {
            throw .unsupported(param: "best_of", "best_of must equal n (\(sampling.n)); got \(bestOf).")
        }
    }

    public init(from decoder: any Decoder) throws {
        guard case .object(let o) = try JSONValue(from: decoder) else {
            throw APIError.invalidRequest("The request body must be a JSON object.")
        }
        try self.init(json: o)
    }

    public var jsonObject: [String: JSONValue] {
        var o: [String: JSONValue] = ["prompt": prompt.json]
        if let model { o["model"] = .string(model) }
        sampling.write(into: &o, maxTokensKey: "max_tokens")
        if stream { o["stream"] = .bool(true) }
        if let streamOptions { o["stream_options"] = .object(["include_usage": .bool(streamOptions.includeUsage)]) }
        if let logprobs { o["logprobs"] = .int(logprobs) }
        if echo { o["echo"] = .bool(true) }
        if let user { o["user"] = .string(user) }
        if let constraint { let (k, v) = constraint.json; o[k] = v }
        return o
    }

    public func encode(to encoder: any Encoder) throws { try JSONValue.object(jsonObject).encode(to: encoder) }
}
