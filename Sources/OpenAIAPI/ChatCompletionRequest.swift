public import Foundation

/// One chat message after parsing: `developer` is mapped to `system`, text parts are joined with "\n".
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }

    static let roles: Set<String> = ["system", "user", "assistant", "developer"]

    static func read(_ v: JSONValue, param: String) throws(APIError) -> ChatMessage {
        guard case .object(let o) = v else { throw .invalidType(param: param, expected: "an object", got: v) }
        let r = FieldReader(object: o, prefix: param + ".")
        guard let role = try r.string("role") else {
            throw .invalidRequest("Missing required parameter: '\(param).role'.", param: "\(param).role",
                                  code: "missing_required_parameter")
        }
        guard roles.contains(role) else {
            throw .outOfRange(param: "\(param).role", allowed: "one of 'system', 'developer', 'user', 'assistant'",
                              got: "'\(role)'")
        }
        let content = try readContent(r.value("content"), param: "\(param).content", optional: role == "assistant")
        return ChatMessage(role: role == "developer" ? "system" : role, content: content)
    }

    private static func readContent(_ v: JSONValue?, param: String, optional: Bool) throws(APIError) -> String {
        guard let v else {
            if optional { return "" }
            throw .invalidRequest("Missing required parameter: '\(param)'.", param: param, code: "missing_required_parameter")
        }
        switch v {
        case .string(let s): return s
        case .array(let parts):
            var texts: [String] = []
            for (i, part) in parts.enumerated() {
                let p = "\(param)[\(i)]"
                guard case .object(let po) = part else { throw .invalidType(param: p, expected: "an object", got: part) }
                let pr = FieldReader(object: po, prefix: p + ".")
                guard let type = try pr.string("type"), type == "text" else {
                    throw .unsupported(param: "\(p).type", "only content parts of type 'text' are supported.")
                }
                guard let text = try pr.string("text") else {
                    throw .invalidRequest("Missing required parameter: '\(p).text'.", param: "\(p).text",
                                          code: "missing_required_parameter")
                }
                texts.append(text)
            }
            return texts.joined(separator: "\n")
        default: throw .invalidType(param: param, expected: "a string or an array of content parts", got: v)
        }
    }
}

/// POST /v1/chat/completions
public struct ChatCompletionRequest: Sendable, Equatable, Codable {
    public var model: String?
    public var messages: [ChatMessage]
    /// `maxTokens` comes from `max_completion_tokens`, else `max_tokens`; nil = fill the context.
    public var sampling: SamplingOptions
    public var stream: Bool = false
    public var streamOptions: StreamOptions?
    public var logprobs: Bool = false
    public var topLogprobs: Int?
    public var user: String?
    /// vLLM extension: end the rendered prompt with the assistant header (default true).
    public var addGenerationPrompt: Bool = true

    public init(model: String? = nil, messages: [ChatMessage], sampling: SamplingOptions = SamplingOptions()) {
        self.model = model; self.messages = messages; self.sampling = sampling
    }

    public static func decode(_ data: Data) throws(APIError) -> ChatCompletionRequest {
        try ChatCompletionRequest(json: JSONValue.parseObject(data))
    }

    public init(json object: [String: JSONValue]) throws(APIError) {
        let r = FieldReader(object: object)
        model = try r.string("model")
        messages = try Self.readMessages(r)
        sampling = try SamplingOptions(r, maxTokensKeys: ["max_completion_tokens", "max_tokens"])
        stream = try r.bool("stream") ?? false
        streamOptions = try StreamOptions.read(r, stream: stream)
        logprobs = try r.bool("logprobs") ?? false
        topLogprobs = try r.int("top_logprobs")
        try checkRange(topLogprobs, "top_logprobs", 0...Limits.maxTopLogprobs)
        if topLogprobs != nil && !logprobs {
            throw .invalidRequest("'top_logprobs' requires 'logprobs' to be true.", param: "top_logprobs",
                                  code: "invalid_value")
        }
        user = try r.string("user")
        addGenerationPrompt = try r.bool("add_generation_prompt") ?? true
        try Self.rejectUnsupported(r)
    }

    static func readMessages(_ r: FieldReader) throws(APIError) -> [ChatMessage] {
        guard let v = r.value("messages") else {
            throw .invalidRequest("Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter")
        }
        guard case .array(let items) = v else { throw .invalidType(param: "messages", expected: "an array", got: v) }
        guard !items.isEmpty else {
            throw .invalidRequest("'messages' must contain at least one message.", param: "messages", code: "invalid_value")
        }
        var out: [ChatMessage] = []
        for (i, item) in items.enumerated() { out.append(try ChatMessage.read(item, param: "messages[\(i)]")) }
        return out
    }

    private static func rejectUnsupported(_ r: FieldReader) throws(APIError) {
        if let tools = r.value("tools"), tools != .array([]) {
            throw .unsupported(param: "tools", "this server does not support tool calls.")
        }
        if let format = try r.object("response_format"), let type = try format.string("type"), type != "text" {
            throw .unsupported(param: "response_format.type", "only 'text' is supported; got '\(type)'.")
        }
    }

    public init(from decoder: any Decoder) throws {
        guard case .object(let o) = try JSONValue(from: decoder) else {
            throw APIError.invalidRequest("The request body must be a JSON object.")
        }
        try self.init(json: o)
    }

    public var jsonObject: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
        ]
        if let model { o["model"] = .string(model) }
        sampling.write(into: &o, maxTokensKey: "max_completion_tokens")
        if stream { o["stream"] = .bool(true) }
        if let streamOptions { o["stream_options"] = .object(["include_usage": .bool(streamOptions.includeUsage)]) }
        if logprobs { o["logprobs"] = .bool(true) }
        if let topLogprobs { o["top_logprobs"] = .int(topLogprobs) }
        if let user { o["user"] = .string(user) }
        if !addGenerationPrompt { o["add_generation_prompt"] = .bool(false) }
        return o
    }

    public func encode(to encoder: any Encoder) throws { try JSONValue.object(jsonObject).encode(to: encoder) }
}
