public import Engine
import Foundation

/// A request as the router puts it in the queue: already tokenized, with its sampling parameters.
public struct QueuedRequest: Sendable, Equatable {
    public var id: Int64
    /// The router holding the client's stream; token notifications go to its channel.
    public var origin: String
    public var prompt: [Int32]
    public var params: SamplingParams
    /// Lower number first (as the engine's scheduler), then arrival.
    public var priority: Int
    /// Hash of the prompt's first tokens, for prefix affinity.
    public var prefixHash: Int64

    public init(id: Int64, origin: String, prompt: [Int32], params: SamplingParams, priority: Int = 0) {
        self.id = id; self.origin = origin; self.prompt = prompt; self.params = params; self.priority = priority
        prefixHash = Self.prefixHash(prompt)
    }

    /// FNV-1a over the first 32 prompt tokens (two prompts sharing them likely share cached KV blocks).
    public static func prefixHash(_ prompt: [Int32]) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in prompt.prefix(32) {
            h = (h ^ UInt64(UInt32(bitPattern: t))) &* 0x100_0000_01b3
        }
        return Int64(bitPattern: h & 0x7fff_ffff_ffff_ffff)
    }
}

public enum RequestState: String, Sendable, Codable {
    case queued, assigned, done, failed
}

/// Work an instance has claimed: the original request plus the tokens already delivered to the client.
public struct ClaimedRequest: Sendable, Equatable {
    public var id: Int64
    public var prompt: [Int32]
    public var params: SamplingParams
    public var priority: Int
    public var delivered: [Int32]
    public var attempts: Int

    public init(id: Int64, prompt: [Int32], params: SamplingParams, priority: Int, delivered: [Int32], attempts: Int) {
        self.id = id; self.prompt = prompt; self.params = params; self.priority = priority
        self.delivered = delivered; self.attempts = attempts
    }

    /// What the engine runs: prompt + delivered tokens as the prompt, the budget reduced by what was delivered.
    /// Greedy continuation is exact; so is seeded sampling (the generator skips the delivered tokens' draws and
    /// the penalties count them as output).
    public var engineRequest: EngineRequest {
        var p = params
        p.maxTokens = params.maxTokens - delivered.count
        p.minTokens = max(0, params.minTokens - delivered.count)
        p.promptLogprobs = delivered.isEmpty ? params.promptLogprobs : false
        return EngineRequest(promptTokenIds: prompt + delivered, params: p, priority: priority, externalId: "\(id)",
                             resumedOutputTokens: delivered.count)
    }
}

/// Tokens an instance appends to a request. `start` is the number of tokens the queue must already hold
/// (appends are exactly-once: a mismatch or a lost lease rejects the delta).
public struct TokenDelta: Sendable, Equatable {
    public var id: Int64
    public var start: Int
    public var tokens: [Int32]
    public var finish: EngineFinishReason?
    /// Why it stopped (matched stop string, EOS text).
    public var stopReason: String?
    /// Set when the request failed on the instance; the request ends with this error.
    public var error: String?
    /// One per token when the request asked for logprobs, else empty.
    public var logprobs: [TokenLogprob]
    /// The prompt's logprobs (first delta of a request that asked for them).
    public var promptLogprobs: [TokenLogprob]?

    public init(id: Int64, start: Int, tokens: [Int32], finish: EngineFinishReason? = nil,
                stopReason: String? = nil, error: String? = nil, logprobs: [TokenLogprob] = [],
                promptLogprobs: [TokenLogprob]? = nil) {
        self.id = id; self.start = start; self.tokens = tokens; self.finish = finish
        self.stopReason = stopReason; self.error = error; self.logprobs = logprobs; self.promptLogprobs = promptLogprobs
    }
}

/// What the router learns about one of its requests. `tokens` start at offset `start` of the request's output.
/// `refetch` means the notification was too large to carry the data: read the request with `progress`.
public struct OutputEvent: Sendable, Equatable {
    public var id: Int64
    public var start: Int
    public var tokens: [Int32]
    public var finish: EngineFinishReason?
    public var refetch: Bool

    public init(id: Int64, start: Int, tokens: [Int32], finish: EngineFinishReason? = nil, refetch: Bool = false) {
        self.id = id; self.start = start; self.tokens = tokens; self.finish = finish; self.refetch = refetch
    }
}

/// A request's full state as stored.
public struct RequestProgress: Sendable, Equatable {
    public var id: Int64
    public var state: RequestState
    public var tokens: [Int32]
    public var finish: EngineFinishReason?
    public var stopReason: String?
    public var error: String?
    public var instance: String?
    public var attempts: Int
    /// Aligned with `tokens` when the request asked for logprobs, else empty.
    public var logprobs: [TokenLogprob]
    public var promptLogprobs: [TokenLogprob]?

    public init(id: Int64, state: RequestState, tokens: [Int32], finish: EngineFinishReason? = nil,
                stopReason: String? = nil, error: String? = nil, instance: String? = nil, attempts: Int = 0,
                logprobs: [TokenLogprob] = [], promptLogprobs: [TokenLogprob]? = nil) {
        self.id = id; self.state = state; self.tokens = tokens; self.finish = finish; self.stopReason = stopReason
        self.error = error; self.instance = instance; self.attempts = attempts
        self.logprobs = logprobs; self.promptLogprobs = promptLogprobs
    }
}

/// The load an instance publishes with every heartbeat.
public struct InstanceLoad: Sendable, Codable, Equatable {
    public var numRunning = 0
    public var numWaiting = 0
    public var numFreeBlocks = 0
    public var numTotalBlocks = 0
    public var blockSize = 16
    /// KV blocks the waiting requests need to start (their prompts).
    public var waitingBlocksNeeded = 0
    /// Requests the agent holds (claimed, not finished).
    public var active = 0
    /// Most requests the agent takes at once.
    public var capacity = 64
    public var maxModelLen = 0
    public var model = ""

    public init() {}

    /// Llumnix's freeness: (free blocks − blocks the waiting requests need) / requests; roughly the decode
    /// steps left before the instance has to preempt. Extra pending (assigned, not yet reported) work counts too.
    public func freeness(pendingRequests: Int = 0, pendingBlocks: Int = 0) -> Double {
        let free = Double(numFreeBlocks - waitingBlocksNeeded - pendingBlocks)
        return free / Double(max(1, numRunning + numWaiting + pendingRequests))
    }
}

/// An instance as the queue sees it.
public struct InstanceRecord: Sendable, Equatable {
    public var name: String
    public var address: String
    public var load: InstanceLoad
    /// Seconds since its last heartbeat.
    public var heartbeatAge: Double
    public var draining: Bool
    /// Requests assigned to it that its last load report does not yet include, and the blocks they need.
    public var pendingRequests: Int
    public var pendingBlocks: Int
    /// Requests assigned to it (claimed or not).
    public var assigned: Int

    public init(name: String, address: String, load: InstanceLoad, heartbeatAge: Double, draining: Bool,
                pendingRequests: Int = 0, pendingBlocks: Int = 0, assigned: Int = 0) {
        self.name = name; self.address = address; self.load = load; self.heartbeatAge = heartbeatAge
        self.draining = draining; self.pendingRequests = pendingRequests; self.pendingBlocks = pendingBlocks
        self.assigned = assigned
    }

    public var freeness: Double { load.freeness(pendingRequests: pendingRequests, pendingBlocks: pendingBlocks) }
    /// Requests it holds or will hold.
    public var inFlight: Int { max(assigned, load.active + pendingRequests) }
}

/// A queued request as the global scheduler sees it.
public struct PendingRequest: Sendable, Equatable {
    public var id: Int64
    public var priority: Int
    /// Prompt + delivered tokens: what the instance will have to prefill.
    public var contextLength: Int
    public var prefixHash: Int64
    public var attempts: Int
    public init(id: Int64, priority: Int, contextLength: Int, prefixHash: Int64, attempts: Int = 0) {
        self.id = id; self.priority = priority; self.contextLength = contextLength; self.prefixHash = prefixHash
        self.attempts = attempts
    }
}

/// One routing decision.
public struct Assignment: Sendable, Equatable {
    public var requestId: Int64
    public var instance: String
    public var reason: String
}

/// A request the lease reaper ended or put back.
public struct ReapedRequest: Sendable, Equatable {
    public var id: Int64
    public var origin: String
    public var failed: Bool
    public var instance: String
}

/// Queue depth and instances, for `swiftlet cluster status` and /metrics.
public struct ClusterStatus: Sendable, Equatable {
    public var instances: [InstanceRecord]
    /// Queued requests by priority, ascending.
    public var queuedByPriority: [(priority: Int, count: Int)]
    public var assigned: Int
    public var done: Int
    public var failed: Int

    public init(instances: [InstanceRecord], queuedByPriority: [(priority: Int, count: Int)], assigned: Int, done: Int, failed: Int) {
        self.instances = instances; self.queuedByPriority = queuedByPriority
        self.assigned = assigned; self.done = done; self.failed = failed
    }

    public var queued: Int { queuedByPriority.reduce(0) { $0 + $1.count } }

    public static func == (a: Self, b: Self) -> Bool {
        a.instances == b.instances && a.queuedByPriority.map(\.priority) == b.queuedByPriority.map(\.priority)
            && a.queuedByPriority.map(\.count) == b.queuedByPriority.map(\.count)
            && a.assigned == b.assigned && a.done == b.done && a.failed == b.failed
    }
}

/// Timing knobs shared by routers and instances.
public struct ClusterTiming: Sendable {
    /// Instance heartbeat period.
    public var heartbeat: Duration = .milliseconds(500)
    /// A lease lives this long without renewal; an instance whose heartbeat is older is dead.
    /// Outages and leases: while PostgreSQL is down nothing can expire (the reaper runs in the database), and after
    /// it (re)starts no lease expires until it has been up for a whole lease, so instances that kept their work
    /// through the outage get one lease to heartbeat again. A database that stays up while one instance cannot reach
    /// it (a network cut, its connections terminated) is an instance failure: its leases expire as usual.
    public var leaseSeconds: Double = 2.5
    /// Attempts (assignments) after which a request whose instance died fails.
    public var maxAttempts = 3
    /// Fallback period of the router's scheduling round and progress sweep (notifications do the real work).
    public var sweep: Duration = .milliseconds(500)
    /// Finished requests stay in the queue this long (seconds) for inspection, then routers delete them.
    public var retainFinished: Double = 600
    public init() {}
}

public struct ClusterError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Channel and instance names: lowercase letters, digits, '_' and '-', at most 40 characters.
public func validClusterName(_ name: String) -> Bool {
    !name.isEmpty && name.count <= 40 && name.allSatisfy { ($0.isLetter && $0.isASCII && $0.isLowercase) || $0.isNumber || $0 == "_" || $0 == "-" }
}

func encodeParams(_ p: SamplingParams) -> String {
    (try? String(decoding: JSONEncoder().encode(p), as: UTF8.self)) ?? "{}"
}

func decodeParams(_ s: String) throws -> SamplingParams {
    try JSONDecoder().decode(SamplingParams.self, from: Data(s.utf8))
}
