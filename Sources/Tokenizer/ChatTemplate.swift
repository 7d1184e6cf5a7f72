/// One chat turn.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A template failure: unsupported syntax (the message names it), a runtime fault, or the template's own
/// `raise_exception(...)` (then `raisedByTemplate` is true and `message` is the template's text).
public struct ChatTemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public let raisedByTemplate: Bool

    init(_ message: String) {
        self.message = message
        raisedByTemplate = false
    }

    init(raised message: String) {
        self.message = message
        raisedByTemplate = true
    }

    public var description: String { raisedByTemplate ? "chat template raised: \(message)" : "chat template: \(message)" }
}

/// A chat template (the Jinja source in GGUF `tokenizer.chat_template`), parsed once and rendered per request.
/// Renders with Hugging Face's settings (`trim_blocks`, `lstrip_blocks`); the context holds `messages`,
/// `add_generation_prompt`, `bos_token` and `eos_token`.
public struct ChatTemplate: Sendable {
    public let source: String
    public let bosToken: String
    public let eosToken: String
    private let nodes: [JinjaNode]

    public init(source: String, bosToken: String, eosToken: String) throws {
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
        nodes = try JinjaTemplateParser.parse(source)
    }

    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        let list: [JinjaValue] = messages.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) }
        var renderer = JinjaRenderer(context: [
            "messages": .array(list),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ])
        try renderer.run(nodes)
        return renderer.output
    }
}

extension Tokenizer {
    /// The model's chat template with its BOS/EOS token texts, if the file has one.
    public func makeChatTemplate() throws -> ChatTemplate? {
        guard let source = chatTemplate else { return nil }
        return try ChatTemplate(source: source, bosToken: bosId.map(tokenText) ?? "", eosToken: eosId.map(tokenText) ?? "")
    }
}
