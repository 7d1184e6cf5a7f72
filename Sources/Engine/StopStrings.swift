import Foundation

/// Holds back streamed text that might be the start of a stop string, and finds a completed one.
/// Text is released only when no stop string can begin inside it, so no part of a stop string reaches the stream.
/// Used by the engine and by the cluster router (which matches on its own detokenized stream, so a stop string
/// spanning an instance failure is still found).
public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private var pending = ""
    private let longest: Int

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        longest = self.stops.map(\.count).max() ?? 0
    }

    public enum Outcome: Equatable, Sendable {
        /// Text that is safe to emit now.
        case emit(String)
        /// A stop string matched: emit the text before it, then finish.
        case stopped(before: String, stop: String)
    }

    public mutating func push(_ text: String) -> Outcome {
        if stops.isEmpty { return .emit(text) }
        pending += text
        // Earliest match wins (as vLLM / OpenAI do).
        var first: (Range<String.Index>, String)?
        for s in stops {
            if let r = pending.range(of: s), first == nil || r.lowerBound < first!.0.lowerBound { first = (r, s) }
        }
        if let (r, s) = first {
            let before = String(pending[..<r.lowerBound])
            pending = ""
            return .stopped(before: before, stop: s)
        }
        // Keep the longest suffix that is a proper prefix of some stop string.
        let keep = heldSuffixLength()
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let out = String(pending[..<cut])
        pending = String(pending[cut...])
        return .emit(out)
    }

    /// Text still held back (released when the request ends for another reason).
    public mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }

    private func heldSuffixLength() -> Int {
        let chars = Array(pending)
        let maxKeep = min(chars.count, max(longest - 1, 0))
        var k = maxKeep
        while k > 0 {
            let suffix = String(chars[(chars.count - k)...])
            if stops.contains(where: { $0.hasPrefix(suffix) }) { return k }
            k -= 1
        }
        return 0
    }
}
