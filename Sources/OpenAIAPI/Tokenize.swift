public import Foundation

/// POST /tokenize (vLLM): either `prompt` or `messages`.
public struct TokenizeRequest: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        case prompt(String)
        case messages([ChatMessage])
    }
    public var model: String?
    public var input: Input
    /// nil = the default for the input kind (true for a prompt, false for rendered messages).
    public var addSpecialTokens: Bool?
    public var addGenerationPrompt: Bool = true

    public init(model: String? = nil, input: Input, addSpecialTokens: Bool? = nil) {
        self.model = model; self.input = input; self.addSpecialTokens = addSpecialTokens
    }

    public static func decode(_ data: Data) throws(APIError) -> TokenizeRequest {
        let r = FieldReader(object: try JSONValue.parseObject(data))
        let model = try r.string("model")
        let input: Input
        // messages are validated whenever given, even when a prompt (which wins) is given too
        let messages = r.value("messages") != nil ? try ChatCompletionRequest.readMessages(r) : nil
        if let prompt = try r.string("prompt") {
            input = .prompt(prompt)
        } else if let messages {
            input = .messages(messages)
        } else {
            throw .invalidRequest("Either 'prompt' or 'messages' is required.", param: "prompt",
                                  code: "missing_required_parameter")
        }
        var req = TokenizeRequest(model: model, input: input, addSpecialTokens: try r.bool("add_special_tokens"))
        req.addGenerationPrompt = try r.bool("add_generation_prompt") ?? true
        return req
    }
}

public struct TokenizeResponse: Sendable, Codable, Equatable {
    public var count: Int
    public var maxModelLen: Int
    public var tokens: [Int]
    public init(count: Int, maxModelLen: Int, tokens: [Int]) { self.count = count; self.maxModelLen = maxModelLen; self.tokens = tokens }
    enum CodingKeys: String, CodingKey { case count, maxModelLen = "max_model_len", tokens }
}

/// POST /detokenize (vLLM)
public struct DetokenizeRequest: Sendable, Equatable {
    public var model: String?
    public var tokens: [Int]
    public init(model: String? = nil, tokens: [Int]) { self.model = model; self.tokens = tokens }

    public static func decode(_ data: Data) throws(APIError) -> DetokenizeRequest {
        let r = FieldReader(object: try JSONValue.parseObject(data))
        guard let tokens = try r.ints("tokens") else {
            throw .invalidRequest("Missing required parameter: 'tokens'.", param: "tokens", code: "missing_required_parameter")
        }
        for (i, t) in tokens.enumerated() { try checkRange(t, "tokens[\(i)]", 0...Int(Int32.max)) }
        return DetokenizeRequest(model: try r.string("model"), tokens: tokens)
    }
}

public struct DetokenizeResponse: Sendable, Codable, Equatable {
    public var prompt: String
    public init(prompt: String) { self.prompt = prompt }
}
