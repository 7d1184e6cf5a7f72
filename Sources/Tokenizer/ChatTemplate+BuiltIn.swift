extension ChatTemplate {
    /// For a file without `tokenizer.chat_template` whose vocabulary has Gemma's turn tokens (the pre-trained
    /// Gemma 3 GGUFs): Gemma's own turn format, as Google's instruction-tuned template writes it (system text goes
    /// into the first user turn, the assistant's role is `model`). Other files without a template get none.
    public static func builtIn(for tokenizer: Tokenizer) -> String? {
        guard tokenizer.hasToken("<start_of_turn>"), tokenizer.hasToken("<end_of_turn>") else { return nil }
        return gemmaTemplate
    }

    public static let gemmaTemplate = """
        {{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}{%- if message['role'] == 'assistant' -%}{%- set role = 'model' -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}{%- endfor -%}{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}
        """
}
