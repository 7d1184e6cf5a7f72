public import Bench
import Cluster
public import Foundation

/// One request of a workload: when it arrives, its prompt (token ids, or only a length and a prefix hash as a
/// router records them) and how many tokens it generates.
public struct TraceRequest: Sendable, Equatable {
    /// Seconds from the start of the trace.
    public var arrival: Double
    public var promptTokens: Int
    public var outputTokens: Int
    /// The router's hash of the prompt's first tokens (prefix affinity); requests sharing it share those tokens.
    public var prefixHash: Int64?
    /// The prompt's ids when known (bench datasets); otherwise `SimulatedPrompt` makes ids that share the first
    /// 32 tokens exactly when the prefix hashes are equal.
    public var prompt: [Int32]?

    public init(arrival: Double, promptTokens: Int, outputTokens: Int, prefixHash: Int64? = nil, prompt: [Int32]? = nil) {
        self.arrival = arrival; self.promptTokens = promptTokens; self.outputTokens = outputTokens
        self.prefixHash = prefixHash; self.prompt = prompt
    }

    /// The ids the simulated scheduler sees.
    public func promptIds(index: Int) -> [Int32] {
        if let prompt { return prompt }
        return SimulatedPrompt.ids(length: promptTokens, prefixHash: prefixHash, index: index)
    }
}

enum SimulatedPrompt {
    /// Ids in 1..<32000: the first min(32, length) drawn from the prefix hash (or the index when there is none),
    /// the rest from the index alone.
    static func ids(length: Int, prefixHash: Int64?, index: Int) -> [Int32] {
        var shared = SeededGenerator(seed: UInt64(bitPattern: prefixHash ?? Int64(index)) ^ 0x5117_ab1e)
        var own = SeededGenerator(seed: UInt64(index) &* 0x9e37_79b9 &+ 17)
        return (0..<max(1, length)).map { i in
            Int32(1 + (i < 32 ? shared.next() : own.next()) % 31999)
        }
    }
}

public enum Traces {
    /// A recorded trace: one JSON object per line with `arrival` (seconds), `prompt_tokens`, `output_tokens`, and
    /// optionally `prefix_hash` and `prompt` (ids). What `swiftlet router --record-trace` writes. Sorted by arrival.
    public static func read(path: String) throws(SimulatorError) -> [TraceRequest] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SimulatorError("cannot read the trace \(path)") }
        var out: [TraceRequest] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            let object = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any]
            // A request that ended before its first token (an abort or an error, as a router records them) put no
            // load on an engine worth simulating.
            if (object?["output_tokens"] as? NSNumber)?.intValue == 0 { continue }
            guard let o = object,
                  let arrival = (o["arrival"] as? NSNumber)?.doubleValue, arrival.isFinite, arrival >= 0,
                  let p = (o["prompt_tokens"] as? NSNumber)?.intValue, p >= 1,
                  let m = (o["output_tokens"] as? NSNumber)?.intValue, m >= 1 else {
                throw SimulatorError("\(path):\(n + 1): expected {\"arrival\": seconds, \"prompt_tokens\": n >= 1, \"output_tokens\": n >= 1}")
            }
            let hash = (o["prefix_hash"] as? NSNumber)?.int64Value
            let ids = (o["prompt"] as? [NSNumber])?.map { Int32(truncatingIfNeeded: $0.intValue) }
            out.append(TraceRequest(arrival: arrival, promptTokens: ids?.count ?? p, outputTokens: m, prefixHash: hash, prompt: ids))
        }
        guard !out.isEmpty else { throw SimulatorError("\(path): no requests") }
        return out.enumerated().sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }.map(\.element)
    }

    /// One JSON line per request (the format `read` takes).
    public static func line(_ r: TraceRequest, withPrompt: Bool = false) -> String {
        var s = "{\"arrival\":\(r.arrival),\"prompt_tokens\":\(r.promptTokens),\"output_tokens\":\(r.outputTokens)"
        if let h = r.prefixHash { s += ",\"prefix_hash\":\(h)" }
        if withPrompt, let p = r.prompt { s += ",\"prompt\":[" + p.map(String.init).joined(separator: ",") + "]" }
        return s + "}"
    }

    /// Bench requests (token-id prompts) at the bench's arrival times: the same workload `swiftlet bench serve`
    /// sends with this rate, burstiness and seed.
    public static func fromBench(_ requests: [BenchRequest], rate: Double, burstiness: Double, seed: UInt64) -> [TraceRequest] {
        let offsets = ArrivalSchedule.offsets(count: requests.count, rate: rate, burstiness: burstiness, seed: seed)
        return zip(requests, offsets).map { r, t in
            var ids: [Int32]? = nil
            if case .tokens(let t) = r.prompt { ids = t.map { Int32($0) } }
            return TraceRequest(arrival: t, promptTokens: ids?.count ?? r.promptLength, outputTokens: r.outputLength,
                                prefixHash: ids.map(prefixHash), prompt: ids)
        }
    }

    /// The router's prefix hash (`QueuedRequest.prefixHash`).
    public static func prefixHash(_ prompt: [Int32]) -> Int64 { QueuedRequest.prefixHash(prompt) }

    /// The same requests at other arrival times (a rate sweep over one workload).
    public static func retimed(_ trace: [TraceRequest], rate: Double, burstiness: Double, seed: UInt64) -> [TraceRequest] {
        let offsets = ArrivalSchedule.offsets(count: trace.count, rate: rate, burstiness: burstiness, seed: seed)
        return zip(trace, offsets).map { r, t in var r = r; r.arrival = t; return r }
    }
}
