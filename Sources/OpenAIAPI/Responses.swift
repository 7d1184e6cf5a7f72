public import Foundation

public struct Usage: Sendable, Codable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens; self.completionTokens = completionTokens
        self.totalTokens = promptTokens + completionTokens
    }
    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }
}

// MARK: - logprobs in each API's shape

/// Legacy completions logprobs. `tokenLogprobs[i]` / `topLogprobs[i]` are null for the first echoed prompt token.
public struct CompletionLogprobs: Sendable, Codable, Equatable {
    public var tokens: [String] = []
    public var tokenLogprobs: [Double?] = []
    public var topLogprobs: [[String: Double]?] = []
    public var textOffset: [Int] = []
    public init() {}
    public init(tokens: [String], tokenLogprobs: [Double?], topLogprobs: [[String: Double]?], textOffset: [Int]) {
        self.tokens = tokens; self.tokenLogprobs = tokenLogprobs; self.topLogprobs = topLogprobs; self.textOffset = textOffset
    }
    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }
    public mutating func append(_ other: CompletionLogprobs) {
        tokens += other.tokens; tokenLogprobs += other.tokenLogprobs
        topLogprobs += other.topLogprobs; textOffset += other.textOffset
    }
}

public struct ChatTopLogprob: Sendable, Codable, Equatable {
    public var token: String
    public var logprob: Double
    public var bytes: [Int]?
    public init(token: String, logprob: Double, bytes: [Int]?) { self.token = token; self.logprob = logprob; self.bytes = bytes }
}

public struct ChatTokenLogprob: Sendable, Codable, Equatable {
    public var token: String
    public var logprob: Double
    public var bytes: [Int]?
    public var topLogprobs: [ChatTopLogprob]
    public init(token: String, logprob: Double, bytes: [Int]?, topLogprobs: [ChatTopLogprob]) {
        self.token = token; self.logprob = logprob; self.bytes = bytes; self.topLogprobs = topLogprobs
    }
    enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
}

public struct ChatLogprobs: Sendable, Codable, Equatable {
    public var content: [ChatTokenLogprob]
    public init(content: [ChatTokenLogprob]) { self.content = content }
}

// MARK: - full responses

public struct CompletionChoice: Sendable, Codable, Equatable {
    public var index: Int
    public var text: String
    public var logprobs: CompletionLogprobs?
    public var finishReason: String?
    /// vLLM: the stop string or token id that ended the choice, if any.
    public var stopReason: String?
    public init(index: Int, text: String, logprobs: CompletionLogprobs?, finishReason: String?, stopReason: String? = nil) {
        self.index = index; self.text = text; self.logprobs = logprobs; self.finishReason = finishReason; self.stopReason = stopReason
    }
    enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason", stopReason = "stop_reason" }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index); try c.encode(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs); try c.encode(finishReason, forKey: .finishReason)
        try c.encode(stopReason, forKey: .stopReason)
    }
}

public struct CompletionResponse: Sendable, Codable, Equatable {
    public var id: String
    public var object: String = "text_completion"
    public var created: Int
    public var model: String
    public var systemFingerprint: String?
    public var choices: [CompletionChoice]
    public var usage: Usage
    public init(id: String, created: Int, model: String, systemFingerprint: String?, choices: [CompletionChoice], usage: Usage) {
        self.id = id; self.created = created; self.model = model; self.systemFingerprint = systemFingerprint
        self.choices = choices; self.usage = usage
    }
    enum CodingKeys: String, CodingKey {
        case id, object, created, model, systemFingerprint = "system_fingerprint", choices, usage
    }
}

public struct ChatChoice: Sendable, Codable, Equatable {
    public var index: Int
    public var message: ChatMessage
    public var logprobs: ChatLogprobs?
    public var finishReason: String?
    public var stopReason: String?
    public init(index: Int, message: ChatMessage, logprobs: ChatLogprobs?, finishReason: String?, stopReason: String? = nil) {
        self.index = index; self.message = message; self.logprobs = logprobs; self.finishReason = finishReason; self.stopReason = stopReason
    }
    enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason", stopReason = "stop_reason" }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index); try c.encode(message, forKey: .message)
        try c.encode(logprobs, forKey: .logprobs); try c.encode(finishReason, forKey: .finishReason)
        try c.encode(stopReason, forKey: .stopReason)
    }
}

public struct ChatCompletionResponse: Sendable, Codable, Equatable {
    public var id: String
    public var object: String = "chat.completion"
    public var created: Int
    public var model: String
    public var systemFingerprint: String?
    public var choices: [ChatChoice]
    public var usage: Usage
    public init(id: String, created: Int, model: String, systemFingerprint: String?, choices: [ChatChoice], usage: Usage) {
        self.id = id; self.created = created; self.model = model; self.systemFingerprint = systemFingerprint
        self.choices = choices; self.usage = usage
    }
    enum CodingKeys: String, CodingKey {
        case id, object, created, model, systemFingerprint = "system_fingerprint", choices, usage
    }
}

// MARK: - streaming chunks (decodable shapes; the server writes them with `ChunkEncoder`)

public struct CompletionChunkChoice: Sendable, Codable, Equatable {
    public var index: Int
    public var text: String
    public var logprobs: CompletionLogprobs?
    public var finishReason: String?
    enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason = "finish_reason" }
}

public struct CompletionChunk: Sendable, Codable, Equatable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var systemFingerprint: String?
    public var choices: [CompletionChunkChoice]
    public var usage: Usage?
    enum CodingKeys: String, CodingKey {
        case id, object, created, model, systemFingerprint = "system_fingerprint", choices, usage
    }
}

public struct ChatDelta: Sendable, Codable, Equatable {
    public var role: String?
    public var content: String?
    public var toolCalls: [ToolCallDelta]?
    enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }
}

/// One piece of a streamed tool call: the first names it (`id`, `type`, `function.name`), the rest add arguments.
public struct ToolCallDelta: Sendable, Codable, Equatable {
    public var index: Int
    public var id: String?
    public var type: String?
    public var function: FunctionDelta?
    public init(index: Int, id: String? = nil, type: String? = nil, function: FunctionDelta? = nil) {
        self.index = index; self.id = id; self.type = type; self.function = function
    }
}

public struct FunctionDelta: Sendable, Codable, Equatable {
    public var name: String?
    public var arguments: String?
    public init(name: String? = nil, arguments: String? = nil) { self.name = name; self.arguments = arguments }
}

public struct ChatChunkChoice: Sendable, Codable, Equatable {
    public var index: Int
    public var delta: ChatDelta
    public var logprobs: ChatLogprobs?
    public var finishReason: String?
    enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
}

public struct ChatCompletionChunk: Sendable, Codable, Equatable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var systemFingerprint: String?
    public var choices: [ChatChunkChoice]
    public var usage: Usage?
    enum CodingKeys: String, CodingKey {
        case id, object, created, model, systemFingerprint = "system_fingerprint", choices, usage
    }
}

// MARK: - models

public struct ModelCard: Sendable, Codable, Equatable {
    public var id: String
    public var object: String = "model"
    public var created: Int
    public var ownedBy: String
    public var root: String?
    public var maxModelLen: Int?
    public init(id: String, created: Int, ownedBy: String = "swiftlet", root: String? = nil, maxModelLen: Int? = nil) {
        self.id = id; self.created = created; self.ownedBy = ownedBy; self.root = root; self.maxModelLen = maxModelLen
    }
    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by", root, maxModelLen = "max_model_len" }
}

public struct ModelList: Sendable, Codable, Equatable {
    public var object: String = "list"
    public var data: [ModelCard]
    public init(data: [ModelCard]) { self.data = data }
}

// MARK: - encoding

public enum APIJSON {
    /// Compact JSON, slashes unescaped, floats as JSON numbers.
    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Encoding these plain structs cannot fail (no non-finite floats: logprobs are clamped by the server).
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }
}

/// Server-Sent Events framing.
public enum SSE {
    public static let done = "data: [DONE]\n\n"
    public static func event(_ json: String) -> String { "data: " + json + "\n\n" }
}
