/// Service-level bounds for goodput (`--goodput ttft:500 tpot:50 e2el:2000`, milliseconds): a completed request
/// counts as good only when it meets every bound given (value ≤ bound).
public struct GoodputBounds: Sendable, Equatable, Codable {
    public var ttftMs: Double?
    public var tpotMs: Double?
    public var e2elMs: Double?

    public init(ttftMs: Double? = nil, tpotMs: Double? = nil, e2elMs: Double? = nil) {
        self.ttftMs = ttftMs; self.tpotMs = tpotMs; self.e2elMs = e2elMs
    }

    /// Parses `name:milliseconds` items (names ttft, tpot, e2el); throws on anything else.
    public init(parsing items: [String]) throws(BenchError) {
        for item in items {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let ms = Double(parts[1]), ms >= 0, ms.isFinite else {
                throw BenchError("--goodput: expected name:milliseconds (e.g. ttft:500), got '\(item)'")
            }
            switch parts[0].lowercased() {
            case "ttft": ttftMs = ms
            case "tpot": tpotMs = ms
            case "e2el": e2elMs = ms
            default: throw BenchError("--goodput: unknown metric '\(parts[0])' (use ttft, tpot or e2el)")
            }
        }
    }

    public var isEmpty: Bool { ttftMs == nil && tpotMs == nil && e2elMs == nil }

    /// Whether one request's values (milliseconds) meet every bound given.
    public func isGood(ttftMs ttft: Double, tpotMs tpot: Double, e2elMs e2el: Double) -> Bool {
        (ttftMs.map { ttft <= $0 } ?? true) && (tpotMs.map { tpot <= $0 } ?? true) && (e2elMs.map { e2el <= $0 } ?? true)
    }

    /// The bounds as vLLM prints them: {"ttft": 500, ...}.
    public var dictionary: [String: Double] {
        var d: [String: Double] = [:]
        if let ttftMs { d["ttft"] = ttftMs }
        if let tpotMs { d["tpot"] = tpotMs }
        if let e2elMs { d["e2el"] = e2elMs }
        return d
    }
}

/// A usage or configuration error with a message for the user.
public struct BenchError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
