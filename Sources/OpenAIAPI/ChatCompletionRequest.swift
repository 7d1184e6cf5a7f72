public import Foundation

/// One chat message after parsing: `developer` is mapped to `system`, text parts are joined with "\n".
/// Assistant messages may carry `tool_calls`; `tool` messages answer one by `tool_call_id`.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public var toolCalls: [ToolCall]?
    public var toolCallId: String?
    public init(role: String, content: String, toolCalls: [ToolCall]? = nil, toolCallId: String? = nil) {
        self.role = role; self.content = content; self.toolCalls = toolCalls; self.toolCallId = toolCallId
    }

    enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls", toolCallId = "tool_call_id" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        content = try c.decodeIfPresent(String.self, forKey: .content) ?? ""
        toolCalls = try c.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
        toolCallId = try c.decodeIfPresent(String.self, forKey: .toolCallId)
    }

    /// `content` is null in an assistant message that only calls tools, as OpenAI writes it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        if let toolCalls, !toolCalls.isEmpty {
            if content.isEmpty { try c.encodeNil(forKey: .content) } else { try c.encode(content, forKey: .content) }
            try c.encode(toolCalls, forKey: .toolCalls)
        } else {
            try c.encode(content, forKey: .content)
        }
        try c.encodeIfPresent(toolCallId, forKey: .toolCallId)
    }

    static let roles: Set<String> = ["system", "user", "assistant", "developer", "tool"]

    static func read(_ v: JSONValue, param: String) throws(APIError) -> ChatMessage {
        guard case .object(let o) = v else { throw .invalidType(param: param, expected: "an object", got: v) }
        let r = FieldReader(object: o, prefix: param + ".")
        guard let role = try r.string("role") else {
            throw .invalidRequest("Missing required parameter: '\(param).role'.", param: "\(param).role",
                                  code: "missing_required_parameter")
        }
        guard roles.contains(role) else {
            throw .outOfRange(param: "\(param).role", allowed: "one of 'system', 'developer', 'user', 'assistant', 'tool'",
                              got: "'\(role)'")
        }
        var calls: [ToolCall]? = nil
        if role == "assistant", let v = r.value("tool_calls") {
            guard case .array(let items) = v else { throw .invalidType(param: "\(param).tool_calls", expected: "an array", got: v) }
            var out: [ToolCall] = []
            for (i, item) in items.enumerated() { out.append(try ToolCall.read(item, param: "\(param).tool_calls[\(i)]")) }
            calls = out
        }
        let content = try readContent(r.value("content"), param: "\(param).content", optional: role == "assistant")
        var m = ChatMessage(role: role == "developer" ? "system" : role, content: content, toolCalls: calls)
        if role == "tool" { m.toolCallId = try r.string("tool_call_id") }
        return m
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
    public var constraint: OutputConstraint?
    public var tools: [ToolDefinition] = []
    public var toolChoice: ToolChoice = .none
    public var parallelToolCalls: Bool = true

    public init(model: String? = nil, messages: [ChatMessage], sampling: SamplingOptions = SamplingOptions()) {
        self.model = model; self.messages = messages; self.sampling = sampling
    }

    public static func decode(_ data: Data) throws(APIError) -> ChatCompletionRequest {
        var r = try ChatCompletionRequest(json: JSONValue.parseObject(data))
        let bytes = Array(data)
        r.constraint = r.constraint?.keepingKeyOrder(from: bytes)
        for i in r.tools.indices {
            if let text = RawJSON.text(in: bytes, at: [.key("tools"), .index(i), .key("function"), .key("parameters")]) {
                r.tools[i].parameters = text
            }
        }
        return r
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
        constraint = try OutputConstraint.read(r)
        tools = try Self.readTools(r)
        toolChoice = try ToolChoice.read(r, tools: tools)
        parallelToolCalls = try r.bool("parallel_tool_calls") ?? true
        if constraint != nil, toolChoice == .required || { if case .function = toolChoice { return true }; return false }() {
            throw .invalidRequest("'tool_choice' \(toolChoice == .required ? "'required'" : "naming a function") cannot be combined with an output constraint ('\(constraint!.param)').",
                                  param: "tool_choice", code: "invalid_value")
        }
    }

    static func readTools(_ r: FieldReader) throws(APIError) -> [ToolDefinition] {
        guard let v = r.value("tools") else { return [] }
        guard case .array(let items) = v else { throw .invalidType(param: "tools", expected: "an array", got: v) }
        var out: [ToolDefinition] = []
        for (i, item) in items.enumerated() {
            let t = try ToolDefinition.read(item, param: "tools[\(i)]")
            if out.contains(where: { $0.name == t.name }) {
                throw .invalidRequest("Two tools are named '\(t.name)'.", param: "tools[\(i)].function.name", code: "invalid_value")
            }
            out.append(t)
        }
        return out
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

    public init(from decoder: any Decoder) throws {
        guard case .object(let o) = try JSONValue(from: decoder) else {
            throw APIError.invalidRequest("The request body must be a JSON object.")
        }
        try self.init(json: o)
    }

    public var jsonObject: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "messages": .array(messages.map { m in
                var e: [String: JSONValue] = ["role": .string(m.role), "content": .string(m.content)]
                if let calls = m.toolCalls {
                    e["tool_calls"] = .array(calls.map { .object(["id": .string($0.id), "type": .string("function"),
                        "function": .object(["name": .string($0.name), "arguments": .string($0.arguments)])]) })
                }
                if let id = m.toolCallId { e["tool_call_id"] = .string(id) }
                return .object(e)
            })
        ]
        if let model { o["model"] = .string(model) }
        sampling.write(into: &o, maxTokensKey: "max_completion_tokens")
        if stream { o["stream"] = .bool(true) }
        if let streamOptions { o["stream_options"] = .object(["include_usage": .bool(streamOptions.includeUsage)]) }
        if logprobs { o["logprobs"] = .bool(true) }
        if let topLogprobs { o["top_logprobs"] = .int(topLogprobs) }
        if let user { o["user"] = .string(user) }
        if !addGenerationPrompt { o["add_generation_prompt"] = .bool(false) }
        if let constraint { let (k, v) = constraint.json; o[k] = v }
        if !tools.isEmpty {
            o["tools"] = .array(tools.map(\.json))
            o["tool_choice"] = toolChoice.json
            if !parallelToolCalls { o["parallel_tool_calls"] = .bool(false) }
        }
        return o
    }

    public func encode(to encoder: any Encoder) throws { try JSONValue.object(jsonObject).encode(to: encoder) }
}
