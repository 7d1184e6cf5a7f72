public import Tokenizer

/// The text side of an `EngineClient` that owns a tokenizer and a chat template: the engine and the cluster
/// router tokenize, detokenize and render chats the same way, so they share these implementations.
public protocol TokenizerBacked: EngineClient {
    var tokenizer: Tokenizer { get }
    var chatTemplate: ChatTemplate? { get }
}

extension TokenizerBacked {
    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String { tokenizer.decode(ids, skipSpecial: skipSpecial) }

    public func tokenText(_ id: Int32) -> String { tokenizer.apiTokenText(id) }

    public func renderChat(_ messages: [ChatMessageInput], addGenerationPrompt: Bool) throws -> String {
        guard let chatTemplate else {
            throw EngineError.invalid(param: "messages", message: "this model has no chat template; use /v1/completions or start it with --chat-template")
        }
        return try chatTemplate.render(messages: messages.map { ChatMessage(role: $0.role, content: $0.content) },
                                       addGenerationPrompt: addGenerationPrompt)
    }
}

extension ChatTemplate {
    /// The template to serve: `override` (a `--chat-template` file's source) or the model's own, with the model's
    /// BOS/EOS text; nil when there is neither.
    public static func forModel(_ tokenizer: Tokenizer, override: String?) throws -> ChatTemplate? {
        try (override ?? tokenizer.chatTemplate ?? builtIn(for: tokenizer)).map {
            try ChatTemplate(source: $0, bosToken: tokenizer.bosId.map(tokenizer.tokenText) ?? "",
                             eosToken: tokenizer.eosId.map(tokenizer.tokenText) ?? "")
        }
    }
}

