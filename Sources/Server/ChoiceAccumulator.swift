import Engine
import OpenAIAPI

/// One choice of a response under construction: a small state machine that consumes the engine's outputs in
/// order and returns the chunk to stream for each (nil: nothing to send yet). The non-streaming path feeds it the
/// same outputs and reads the finished choice. Echo, logprobs and tool-call parsing live here, once.
struct ChoiceAccumulator<E: EngineClient>: Sendable {
    enum Endpoint {
        /// /v1/completions; `echo` is the prompt text to put before the completion, `prompt` its ids.
        case completion(echo: String?, prompt: [Int32])
        case chat(tools: ToolCallStream?)
    }

    let index: Int
    private var endpoint: Endpoint
    private let formatter: LogprobFormatter<E>
    private let logprobs: Bool
    private let promptLogprobs: Bool

    private(set) var started = false
    private(set) var text = ""
    private(set) var completionLogprobs: CompletionLogprobs?
    private(set) var chatLogprobs: [ChatTokenLogprob]?
    private(set) var toolCalls: [ToolCall] = []
    private(set) var completionTokens = 0
    private(set) var finishReason: EngineFinishReason?
    private(set) var stopReason: String?
    private var textOffset = 0

    init(index: Int, endpoint: Endpoint, formatter: LogprobFormatter<E>, logprobs: Bool, promptLogprobs: Bool = false) {
        self.index = index; self.endpoint = endpoint; self.formatter = formatter
        self.logprobs = logprobs; self.promptLogprobs = promptLogprobs
        if logprobs || promptLogprobs {
            if case .completion = endpoint { completionLogprobs = CompletionLogprobs() } else { chatLogprobs = [] }
        }
    }

    /// What one output adds to the choice.
    struct Delta {
        var role: String?
        var text = ""
        var completionLogprobs: CompletionLogprobs?
        var chatLogprobs: [ChatTokenLogprob]?
        var toolCalls: [ToolCall] = []
        var finishReason: String?
        var isEmpty: Bool { role == nil && text.isEmpty && toolCalls.isEmpty && finishReason == nil && chatLogprobs?.isEmpty != false }
    }

    /// The OpenAI finish reason: `tool_calls` when the choice called tools.
    var apiFinishReason: String? {
        guard let r = finishReason else { return nil }
        return !toolCalls.isEmpty && r == .stop ? "tool_calls" : r.apiName
    }

    mutating func consume(_ out: RequestOutput) -> Delta {
        var d = Delta()
        let first = !started
        started = true
        completionTokens = max(completionTokens, out.completionTokenCount)
        switch endpoint {
        case .completion(let echo, let prompt):
            if first, let echo {
                d.text = echo
                if promptLogprobs { d.completionLogprobs = formatter.prompt(prompt, out.promptLogprobs, offset: &textOffset) }
            }
            d.text += out.textDelta
            if logprobs {
                let gen = formatter.completion(out.logprobs, offset: &textOffset)
                if d.completionLogprobs == nil { d.completionLogprobs = gen } else { d.completionLogprobs!.append(gen) }
            }
            if let lp = d.completionLogprobs { completionLogprobs?.append(lp) }
        case .chat(var tools):
            if first { d.role = "assistant" }
            if tools != nil {
                var piece = tools!.push(out.textDelta)
                if out.finishReason != nil {
                    let rest = tools!.finish()
                    piece.content += rest.content
                    piece.calls += rest.calls
                }
                endpoint = .chat(tools: tools)
                d.text = piece.content
                d.toolCalls = piece.calls
                toolCalls += piece.calls
            } else {
                d.text = out.textDelta
            }
            if logprobs {
                d.chatLogprobs = formatter.chat(out.logprobs)
                chatLogprobs! += d.chatLogprobs!
            }
        }
        text += d.text
        if let r = out.finishReason {
            finishReason = r
            stopReason = r == .stop ? out.stopReason : nil
            d.finishReason = apiFinishReason
        }
        return d
    }

    /// The chunk to stream for `out` (nil when it adds nothing a client could see).
    mutating func chunk(_ out: RequestOutput, encoder enc: ChunkEncoder) -> String? {
        let d = consume(out)
        switch endpoint {
        case .completion:
            return enc.completion(index: index, text: d.text, logprobs: d.completionLogprobs, finishReason: d.finishReason)
        case .chat(let tools):
            if d.isEmpty && tools != nil { return nil }   // text held back while it may be a tool call
            var calls: [ToolCallDelta] = []
            for (k, c) in d.toolCalls.enumerated() {
                let i = toolCalls.count - d.toolCalls.count + k
                // As OpenAI streams a call: first its id and name with empty arguments, then the arguments.
                calls.append(ToolCallDelta(index: i, id: c.id, type: "function", function: FunctionDelta(name: c.name, arguments: "")))
                calls.append(ToolCallDelta(index: i, function: FunctionDelta(arguments: c.arguments)))
            }
            let content: String? = d.text.isEmpty && (d.role == nil || !calls.isEmpty) && (d.finishReason != nil || !calls.isEmpty) ? nil : d.text
            return enc.chat(index: index, role: d.role, content: content, toolCalls: calls,
                            logprobs: logprobs ? (d.chatLogprobs ?? []) : nil, finishReason: d.finishReason)
        }
    }

    var completionChoice: CompletionChoice {
        CompletionChoice(index: index, text: text, logprobs: completionLogprobs, finishReason: finishReason?.apiName,
                         stopReason: stopReason)
    }

    var chatChoice: ChatChoice {
        ChatChoice(index: index, message: ChatMessage(role: "assistant", content: text, toolCalls: toolCalls.isEmpty ? nil : toolCalls),
                   logprobs: chatLogprobs.map { ChatLogprobs(content: $0) }, finishReason: apiFinishReason, stopReason: stopReason)
    }
}
