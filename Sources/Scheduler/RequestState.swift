/// Order of the waiting queue and of the running list: lower priority number first, then earlier arrival.
/// The preemption victim is the running request with the greatest key.
struct QueueKey: Comparable, Sendable {
    var priority: Int
    var arrival: UInt64
    var id: RequestID

    static func < (a: QueueKey, b: QueueKey) -> Bool {
        (a.priority, a.arrival, a.id) < (b.priority, b.arrival, b.id)
    }
}

/// A waiting-queue entry: the request's key and its storage slot.
struct WaitingEntry: Comparable, Sendable {
    var key: QueueKey
    var slot: Int

    static func < (a: WaitingEntry, b: WaitingEntry) -> Bool { a.key < b.key }
    static func == (a: WaitingEntry, b: WaitingEntry) -> Bool { a.key == b.key }
}

/// A live request as the scheduler tracks it. Its block table lives in the `KVCacheManager`.
struct RequestState: Sendable {
    enum Status: Sendable { case waiting, running }

    let key: QueueKey
    let maxTokens: Int
    let promptCount: Int
    let skipPrefixCache: Bool
    /// Prompt followed by every generated token.  // [promptCount + numOutput]
    var tokens: [Int32]
    /// Tokens whose KV is computed (a prefix of `tokens`).
    var numComputed = 0
    var status = Status.waiting
    /// True once a token was sampled since the request was last (re)admitted: it is decoding.
    var isDecoding = false

    init(_ r: SchedulerRequest) {
        key = QueueKey(priority: r.priority, arrival: r.arrival, id: r.id)
        maxTokens = r.maxTokens
        promptCount = r.promptTokenIds.count
        skipPrefixCache = r.skipPrefixCache
        tokens = r.promptTokenIds
        tokens.reserveCapacity(r.promptTokenIds.count + r.maxTokens)
    }

    var id: RequestID { key.id }
    var numOutput: Int { tokens.count - promptCount }
    var numRemaining: Int { tokens.count - numComputed }
    var outputTokens: [Int32] { Array(tokens[promptCount...]) }
}
