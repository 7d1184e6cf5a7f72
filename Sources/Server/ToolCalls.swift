import Constraints
import Engine
import Foundation
import OpenAIAPI

/// Finds tool calls in a chat choice's streamed text, as the model families write them: Hermes / Qwen
/// (`<tool_call>{"name": …, "arguments": …}</tool_call>`, possibly several) and Llama 3 (the whole reply is one JSON
/// object `{"name": …, "parameters": …}`). Text that may still turn into a call is held back; the rest is content.
struct ToolCallStream: Sendable {
    static let open = "<tool_call>"
    static let close = "</tool_call>"
    let toolNames: Set<String>
    private var pending = ""
    private var inCall = false
    /// nil until the first non-blank character: does the reply start as a bare JSON object (Llama 3 style)?
    private var bareJSON: Bool?
    private(set) var callCount = 0

    init(toolNames: Set<String>) { self.toolNames = toolNames }

    struct Piece { var content = ""; var calls: [ToolCall] = [] }

    mutating func push(_ text: String) -> Piece {
        pending += text
        var piece = Piece()
        while true {
            if inCall {
                guard let r = pending.range(of: Self.close) else { break }
                let body = String(pending[..<r.lowerBound])
                pending = String(pending[r.upperBound...])
                inCall = false
                if let call = parse(body) { piece.calls.append(call) } else { add(Self.open + body + Self.close, to: &piece) }
                continue
            }
            if bareJSON == nil {
                guard let first = pending.first(where: { !$0.isWhitespace }) else { break }
                bareJSON = first == "{"
            }
            if bareJSON == true { break }   // decided at the end
            if let r = pending.range(of: Self.open) {
                add(pending[..<r.lowerBound], to: &piece)
                pending = String(pending[r.upperBound...])
                inCall = true
                continue
            }
            let keep = heldSuffix()
            add(pending.dropLast(keep), to: &piece)
            pending = String(pending.suffix(keep))
            break
        }
        callCount += piece.calls.count
        return piece
    }

    mutating func finish() -> Piece {
        var piece = Piece()
        if inCall {
            // Ended inside a call (no closing tag): a complete JSON body still counts.
            if let call = parse(pending) { piece.calls.append(call) } else { add(Self.open + pending, to: &piece) }
        } else if bareJSON == true, let call = parse(pending) {
            piece.calls.append(call)
        } else {
            add(pending[...], to: &piece)
        }
        pending = ""; inCall = false
        callCount += piece.calls.count
        return piece
    }

    /// Appends content; blank text once calls have begun is not content.
    private func add<S: StringProtocol>(_ s: S, to piece: inout Piece) {
        if callCount + piece.calls.count > 0 && s.allSatisfy(\.isWhitespace) { return }
        piece.content += s
    }

    private func heldSuffix() -> Int {
        var k = min(pending.count, Self.open.count - 1)
        while k > 0 {
            if Self.open.hasPrefix(pending.suffix(k)) { return k }
            k -= 1
        }
        return 0
    }

    private func parse(_ body: String) -> ToolCall? {
        guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)),
              case .string(let name)? = o["name"], toolNames.contains(name) else { return nil }
        let args: String
        switch o["arguments"] ?? o["parameters"] {
        case .string(let s)?: args = s
        case let v?: args = v.jsonText
        case nil: args = "{}"
        }
        return ToolCall(id: "call_" + randomHex(12), name: name, arguments: args)
    }
}

/// How a chat request's tools reach the model and what its output must look like.
struct ToolPlan: Sendable {
    let tools: [ToolDefinition]
    let choice: ToolChoice
    let parallel: Bool

    var active: Bool { !tools.isEmpty && choice != .none }

    /// The tools the model is told about (a named choice: only that one).
    var offered: [ToolDefinition] {
        if case .function(let n) = choice { return tools.filter { $0.name == n } }
        return tools
    }

    /// `required` or a named function: the output is constrained to tool calls whose arguments follow the schema.
    var constraint: ConstraintSpec? {
        switch choice {
        case .none, .auto: return nil
        case .required:
            return ConstraintSpec(.toolCalls(tools.map { ToolFunction(name: $0.name, parameters: $0.parameters) }, parallel: parallel), param: "tools")
        case .function:
            return ConstraintSpec(.toolCalls(offered.map { ToolFunction(name: $0.name, parameters: $0.parameters) }, parallel: false), param: "tools")
        }
    }

    /// The system text describing the tools and the call format (Hermes style). Used for every model: the
    /// chat templates served so far (SmolLM2's among them) have no tool support of their own.
    var preamble: String {
        let list = offered.map { t -> String in
            var f: [String: JSONValue] = ["name": .string(t.name)]
            if let d = t.description { f["description"] = .string(d) }
            f["parameters"] = (try? JSONDecoder().decode(JSONValue.self, from: Data(t.parameters.utf8))) ?? .object([:])
            return JSONValue.object(["type": .string("function"), "function": .object(f)]).jsonText
        }.joined(separator: "\n")
        let how = choice == .auto ? "You may call one or more functions to assist with the user query."
            : "You must call \(parallel && choice == .required ? "one or more of these functions" : "a function") to answer."
        return "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. \(how) Don't make assumptions about what values to plug into functions. Here are the available tools: <tools>\n\(list)\n</tools>\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
    }

    /// The conversation as the chat template sees it: the preamble in the system message, the assistant's
    /// earlier calls written back in the call format, tool results as `<tool_response>` user turns (as Qwen's
    /// template renders them; templates without a tool role accept them).
    func templateMessages(_ messages: [ChatMessage]) -> [ChatMessageInput] {
        var out: [ChatMessageInput] = []
        for m in messages {
            switch m.role {
            case "assistant" where !(m.toolCalls ?? []).isEmpty:
                let calls = m.toolCalls!.map { c -> String in
                    let args = (try? JSONDecoder().decode(JSONValue.self, from: Data(c.arguments.utf8)))?.jsonText ?? c.arguments
                    return "<tool_call>\n{\"name\": \(JSONValue.string(c.name).jsonText), \"arguments\": \(args)}\n</tool_call>"
                }.joined(separator: "\n")
                out.append(ChatMessageInput(role: "assistant", content: m.content.isEmpty ? calls : m.content + "\n" + calls))
            case "tool":
                out.append(ChatMessageInput(role: "user", content: "<tool_response>\n\(m.content)\n</tool_response>"))
            default:
                out.append(ChatMessageInput(role: m.role, content: m.content))
            }
        }
        guard active else { return out }
        if let first = out.first, first.role == "system" {
            out[0].content = first.content + "\n\n" + preamble
        } else {
            out.insert(ChatMessageInput(role: "system", content: preamble), at: 0)
        }
        return out
    }
}
