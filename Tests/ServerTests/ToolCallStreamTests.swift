import OpenAIAPI
@testable import Server
import Testing

@Suite struct ToolCallStreamTests {
    /// Feeds `text` in pieces of every size; content and calls must come out the same whatever the split.
    func run(_ text: String, names: Set<String> = ["get_weather", "f"], piece: Int) -> (String, [ToolCall]) {
        var s = ToolCallStream(toolNames: names)
        var content = "", calls: [ToolCall] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let p = s.push(String(rest.prefix(piece)))
            rest = rest.dropFirst(piece)
            content += p.content; calls += p.calls
        }
        let p = s.finish()
        return (content + p.content, calls + p.calls)
    }

    @Test(arguments: [1, 2, 3, 5, 8, 100])
    func hermesBlocks(piece: Int) throws {
        let text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"f\", \"arguments\": \"{}\"}\n</tool_call>"
        let (content, calls) = run(text, piece: piece)
        #expect(content == "Let me check.\n")
        try #require(calls.map(\.name) == ["get_weather", "f"])
        #expect(calls[0].arguments == #"{"city":"Paris"}"#)
        #expect(calls[1].arguments == "{}")
        #expect(calls.allSatisfy { $0.id.hasPrefix("call_") } && Set(calls.map(\.id)).count == 2)
    }

    @Test(arguments: [1, 4, 100])
    func llama3BareJSON(piece: Int) {
        let (content, calls) = run(#" {"name": "get_weather", "parameters": {"city": "Oslo"}}"#, piece: piece)
        #expect(content == "")
        #expect(calls.count == 1 && calls[0].arguments == #"{"city":"Oslo"}"#)
    }

    @Test(arguments: [1, 3, 100])
    func textStaysText(piece: Int) {
        #expect(run("a <tool b> <tool_cal", piece: piece) == ("a <tool b> <tool_cal", []))
        #expect(run("<tool_call>{\"name\": \"unknown\", \"arguments\": {}}</tool_call>", piece: piece).0
                == "<tool_call>{\"name\": \"unknown\", \"arguments\": {}}</tool_call>")
        #expect(run(#"{"not": "a call"}"#, piece: piece) == (#"{"not": "a call"}"#, []))
        #expect(run("<tool_call>\n{\"name\": \"f\", \"arguments\": {}", piece: piece).1.isEmpty)   // unfinished JSON
    }
}
