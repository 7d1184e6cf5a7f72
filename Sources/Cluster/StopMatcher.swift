import Foundation
/// Holds back streamed text that might begin a stop string and finds a completed one — the router's copy of the
/// engine's `StopStringMatcher` (internal to Engine). The router matches on its own detokenized stream, so a stop
/// string that spans an instance failure is still found, and no part of it reaches the client.
struct StopMatcher: Sendable {
    let stops: [String]
    private var pending = ""
    private let longest: Int

    init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        longest = self.stops.map(\.count).max() ?? 0
    }

    enum Outcome: Equatable {
        case emit(String)
        case stopped(before: String, stop: String)
    }

    mutating func push(_ text: String) -> Outcome {
        if stops.isEmpty { return .emit(text) }
        pending += text
        var first: (Range<String.Index>, String)?
        for s in stops {
            if let r = pending.range(of: s), first == nil || r.lowerBound < first!.0.lowerBound { first = (r, s) }
        }
        if let (r, s) = first {
            let before = String(pending[..<r.lowerBound])
            pending = ""
            return .stopped(before: before, stop: s)
        }
        let keep = heldSuffixLength()
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let out = String(pending[..<cut])
        pending = String(pending[cut...])
        return .emit(out)
    }

    mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }

    private func heldSuffixLength() -> Int {
        let chars = Array(pending)
        var k = min(chars.count, max(longest - 1, 0))
        while k > 0 {
            let suffix = String(chars[(chars.count - k)...])
            if stops.contains(where: { $0.hasPrefix(suffix) }) { return k }
            k -= 1
        }
        return 0
    }
}
