public import Engine
import Foundation

/// One line of `swiftlet router --record-trace FILE`: a finished request, for replaying the router's load
/// (the cluster simulator reads this format; the field names are fixed).
public struct RequestTraceRecord: Sendable, Equatable, Codable {
    /// Seconds from the router's start to the request's arrival.
    public var arrival: Double
    public var promptTokens: Int
    public var outputTokens: Int
    /// `QueuedRequest.prefixHash` of the prompt.
    public var prefixHash: Int64
    /// stop, length, abort or error.
    public var finish: EngineFinishReason

    public init(arrival: Double, promptTokens: Int, outputTokens: Int, prefixHash: Int64, finish: EngineFinishReason) {
        self.arrival = arrival; self.promptTokens = promptTokens; self.outputTokens = outputTokens
        self.prefixHash = prefixHash; self.finish = finish
    }

    enum CodingKeys: String, CodingKey {
        case arrival, promptTokens = "prompt_tokens", outputTokens = "output_tokens", prefixHash = "prefix_hash", finish
    }

    /// The JSONL line (with its newline), fields in the documented order.
    public var jsonLine: String {
        #"{"arrival": \#(arrival), "prompt_tokens": \#(promptTokens), "output_tokens": \#(outputTokens), "#
            + #""prefix_hash": \#(prefixHash), "finish": "\#(finish.rawValue)"}"# + "\n"
    }
}

/// The trace file: opened (appending) when the router is made, written by the one task that drains the
/// router's finished-request stream, a line per `write(2)` (so each line is on disk as soon as it is written).
struct RequestTraceFile: Sendable {
    let fd: Int32
    let path: String

    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClusterError("--record-trace \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd; self.path = path
    }

    /// Writes every record the stream yields until it ends, then closes the file.
    func drain(_ records: AsyncStream<RequestTraceRecord>) async {
        defer { close(fd) }
        for await r in records {
            let bytes = Array(r.jsonLine.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 { if errno == EINTR { continue }; break }
                done += n
            }
        }
    }
}
