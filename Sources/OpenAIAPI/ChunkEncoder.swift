/// Builds one streaming chunk's JSON by hand (runs once per token per stream): the fixed head
/// (`id`, `object`, `created`, `model`, `system_fingerprint`) is rendered once per stream.
public struct ChunkEncoder: Sendable {
    public enum Kind: Sendable { case completion, chat }
    public let kind: Kind
    /// `{"id":…,"object":…,"created":…,"model":…,"system_fingerprint":…,"choices":[`
    private let head: String
    /// With `stream_options.include_usage` every chunk carries `"usage":null`, the last one the totals.
    private let includeUsage: Bool

    public init(kind: Kind, id: String, created: Int, model: String, systemFingerprint: String?, includeUsage: Bool) {
        self.kind = kind
        self.includeUsage = includeUsage
        var w = JSONWriter()
        w.raw("{"); w.key("id", first: true); w.string(id)
        w.key("object"); w.string(kind == .chat ? "chat.completion.chunk" : "text_completion")
        w.key("created"); w.int(created)
        w.key("model"); w.string(model)
        w.key("system_fingerprint"); w.optionalString(systemFingerprint)
        w.key("choices"); w.raw("[")
        head = w.output
    }

    /// A completions chunk with one choice.
    public func completion(index: Int, text: String, logprobs: CompletionLogprobs?, finishReason: String?) -> String {
        var w = JSONWriter(capacity: head.utf8.count + text.utf8.count + 96)
        w.raw(head)
        w.raw("{"); w.key("index", first: true); w.int(index)
        w.key("text"); w.string(text)
        w.key("logprobs")
        if let logprobs { Self.write(logprobs, to: &w) } else { w.raw("null") }
        w.key("finish_reason"); w.optionalString(finishReason)
        w.raw("}]")
        finish(&w)
        return w.output
    }

    /// A chat chunk with one choice; `role` is set on each choice's first chunk, `content` nil = no content key.
    public func chat(index: Int, role: String?, content: String?, toolCalls: [ToolCallDelta] = [],
                     logprobs: [ChatTokenLogprob]?, finishReason: String?) -> String {
        var w = JSONWriter(capacity: head.utf8.count + (content?.utf8.count ?? 0) + 112)
        w.raw(head)
        w.raw("{"); w.key("index", first: true); w.int(index)
        w.key("delta"); w.raw("{")
        var first = true
        if let role { w.key("role", first: true); w.string(role); first = false }
        if let content { w.key("content", first: first); w.string(content); first = false }
        if !toolCalls.isEmpty {
            w.key("tool_calls", first: first); w.raw("[")
            for (i, c) in toolCalls.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{"); w.key("index", first: true); w.int(c.index)
                if let id = c.id { w.key("id"); w.string(id) }
                if let type = c.type { w.key("type"); w.string(type) }
                if let f = c.function {
                    w.key("function"); w.raw("{")
                    var ff = true
                    if let n = f.name { w.key("name", first: true); w.string(n); ff = false }
                    if let a = f.arguments { w.key("arguments", first: ff); w.string(a) }
                    w.raw("}")
                }
                w.raw("}")
            }
            w.raw("]")
        }
        w.raw("}")
        w.key("logprobs")
        if let logprobs {
            w.raw("{"); w.key("content", first: true); Self.write(logprobs, to: &w); w.raw("}")
        } else { w.raw("null") }
        w.key("finish_reason"); w.optionalString(finishReason)
        w.raw("}]")
        finish(&w)
        return w.output
    }

    /// The final `choices: []` chunk with the usage totals.
    public func usage(_ usage: Usage) -> String {
        var w = JSONWriter()
        w.raw(head); w.raw("]")
        w.key("usage"); w.raw("{")
        w.key("prompt_tokens", first: true); w.int(usage.promptTokens)
        w.key("completion_tokens"); w.int(usage.completionTokens)
        w.key("total_tokens"); w.int(usage.totalTokens)
        w.raw("}}")
        return w.output
    }

    private func finish(_ w: inout JSONWriter) {
        if includeUsage { w.key("usage"); w.raw("null") }
        w.raw("}")
    }

    static func write(_ lp: CompletionLogprobs, to w: inout JSONWriter) {
        w.raw("{"); w.key("tokens", first: true); w.raw("[")
        for (i, t) in lp.tokens.enumerated() { if i > 0 { w.raw(",") }; w.string(t) }
        w.raw("]"); w.key("token_logprobs"); w.raw("[")
        for (i, p) in lp.tokenLogprobs.enumerated() {
            if i > 0 { w.raw(",") }
            if let p { w.number(p) } else { w.raw("null") }
        }
        w.raw("]"); w.key("top_logprobs"); w.raw("[")
        for (i, top) in lp.topLogprobs.enumerated() {
            if i > 0 { w.raw(",") }
            guard let top else { w.raw("null"); continue }
            w.raw("{")
            for (j, (k, v)) in top.enumerated() { w.key(k, first: j == 0); w.number(v) }
            w.raw("}")
        }
        w.raw("]"); w.key("text_offset"); w.raw("[")
        for (i, o) in lp.textOffset.enumerated() { if i > 0 { w.raw(",") }; w.int(o) }
        w.raw("]}")
    }

    static func write(_ lps: [ChatTokenLogprob], to w: inout JSONWriter) {
        w.raw("[")
        for (i, lp) in lps.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{"); w.key("token", first: true); w.string(lp.token)
            w.key("logprob"); w.number(lp.logprob)
            w.key("bytes"); writeBytes(lp.bytes, to: &w)
            w.key("top_logprobs"); w.raw("[")
            for (j, top) in lp.topLogprobs.enumerated() {
                if j > 0 { w.raw(",") }
                w.raw("{"); w.key("token", first: true); w.string(top.token)
                w.key("logprob"); w.number(top.logprob)
                w.key("bytes"); writeBytes(top.bytes, to: &w)
                w.raw("}")
            }
            w.raw("]}")
        }
        w.raw("]")
    }

    private static func writeBytes(_ bytes: [Int]?, to w: inout JSONWriter) {
        guard let bytes else { w.raw("null"); return }
        w.raw("[")
        for (i, b) in bytes.enumerated() { if i > 0 { w.raw(",") }; w.int(b) }
        w.raw("]")
    }
}
