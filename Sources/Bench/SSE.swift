import Foundation

/// Incremental Server-Sent Events parser: feed bytes as they arrive, get the `data` of every event completed so far.
/// Lines end in LF or CRLF; an empty line ends an event; several `data:` lines join with "\n"; comments (`:`) and
/// other fields are ignored.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        var events: [String] = []
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if let e = endLine() { events.append(e) }
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(b)
            }
        }
        return events
    }

    /// Handles one complete line; returns an event's data when the line is blank and data is pending.
    private mutating func endLine() -> String? {
        if line.isEmpty {
            guard !data.isEmpty else { return nil }
            defer { data.removeAll() }
            return data.joined(separator: "\n")
        }
        let prefix = Array("data:".utf8)
        guard line.starts(with: prefix) else { return nil }
        var value = line.dropFirst(prefix.count)
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        data.append(String(decoding: value, as: UTF8.self))
        return nil
    }
}

/// The fields of an OpenAI streaming chunk (completions or chat) that a benchmark reads.
struct StreamChunk: Decodable {
    struct Delta: Decodable { var content: String? }
    struct Choice: Decodable {
        var text: String?
        var delta: Delta?
        var finish_reason: String?
    }
    struct Usage: Decodable {
        var prompt_tokens: Int?
        var completion_tokens: Int?
    }
    struct ErrorBody: Decodable { var message: String? }

    var choices: [Choice]?
    var usage: Usage?
    var error: ErrorBody?

    /// Whether this chunk carries a generated token. Completions: any chunk with a choice (as vLLM counts them; the
    /// last token may decode to "" and come with the finish reason). Chat: a delta with content, unless it is an
    /// empty finish marker; role-only deltas do not count.
    var carriesToken: Bool {
        guard let c = choices?.first else { return false }
        if c.text != nil { return true }
        guard let content = c.delta?.content else { return false }
        return !content.isEmpty || c.finish_reason == nil
    }
}

/// Timings and counts of one streamed response, fed event by event.
struct StreamRecorder {
    let start: ContinuousClock.Instant
    var ttft: Double?
    var last: ContinuousClock.Instant?
    var itl: [Double] = []
    var tokenEvents = 0
    var usage: StreamChunk.Usage?
    var error: String?
    var done = false
    var end: ContinuousClock.Instant?

    init(start: ContinuousClock.Instant) { self.start = start }

    mutating func consume(_ event: String, at now: ContinuousClock.Instant) {
        if event == "[DONE]" { done = true; end = now; return }
        guard let chunk = try? JSONDecoder().decode(StreamChunk.self, from: Data(event.utf8)) else {
            error = error ?? "unreadable stream event: \(event.prefix(80))"
            return
        }
        if let e = chunk.error { error = "server error: \(e.message ?? "unknown")"; return }
        if let u = chunk.usage { usage = u }
        guard chunk.carriesToken else { return }
        if let last { itl.append(seconds(now - last)) } else { ttft = seconds(now - start) }
        last = now
        tokenEvents += 1
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
