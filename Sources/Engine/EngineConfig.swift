public import Scheduler
public import Tensor

/// Everything that shapes one engine instance.
public struct EngineConfig: Sendable {
    public var blockSize = 16
    /// KV cache budget in bytes; the number of blocks follows from the model's size per token.
    public var kvCacheMemoryBytes = 2 << 30
    /// Overrides the budget when set (tests use tiny pools).
    public var numBlocks: Int? = nil
    public var maxNumBatchedTokens = 2048
    public var maxNumSeqs = 64
    public var policy: SchedulePolicy = .mixed
    public var enablePrefixCaching = true
    /// Context limit (prompt + output); nil = the model's own, capped at 8192.
    public var maxModelLen: Int? = nil
    /// Requests allowed to wait (not yet running) before `generate` throws `queueFull`.
    public var maxQueuedRequests = 1024
    public var servedModelName: String? = nil
    /// Chat template source overriding the model's (`--chat-template FILE`).
    public var chatTemplate: String? = nil
    /// Numerics of the projections (`--precision`): see `Precision` and the README's figures.
    public var precision: Precision = .exact

    public init() {}
}

/// Parses sizes like "2GiB", "512MiB", "1.5G", "1000000".
public func parseByteSize(_ text: String) -> Int? {
    let s = text.trimmingCharacters(in: .whitespaces).lowercased()
    let gi = Double(1 << 30), mi = Double(1 << 20), ki = Double(1 << 10)
    let units: [(String, Double)] = [("gib", gi), ("mib", mi), ("kib", ki), ("gb", 1e9), ("mb", 1e6),
                                     ("kb", 1e3), ("g", gi), ("m", mi), ("k", ki), ("b", 1)]
    for (u, f) in units where s.hasSuffix(u) {
        guard let v = Double(s.dropLast(u.count).trimmingCharacters(in: .whitespaces)), v > 0 else { return nil }
        return Int(v * f)
    }
    return Int(s).flatMap { $0 > 0 ? $0 : nil }
}

import Foundation
