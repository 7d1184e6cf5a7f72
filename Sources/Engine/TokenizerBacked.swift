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

extension ChatTemplate {
    /// For a file without `tokenizer.chat_template` whose vocabulary has Gemma's turn tokens (the pre-trained
    /// Gemma 3 GGUFs): Gemma's own turn format, as Google's instruction-tuned template writes it (system text goes
    /// into the first user turn, the assistant's role is `model`). Other files without a template get none.
    static func builtIn(for tokenizer: Tokenizer) -> String? {
        guard tokenizer.hasToken("<start_of_turn>"), tokenizer.hasToken("<end_of_turn>") else { return nil }
        return gemmaTemplate
    }

    static let gemmaTemplate = """
        {{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}{%- if message['role'] == 'assistant' -%}{%- set role = 'model' -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}{%- endfor -%}{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}
        """
}
