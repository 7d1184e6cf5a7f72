import Synchronization

/// How the global scheduler picks an instance for a queued request.
public enum RoutingPolicyKind: String, Sendable, CaseIterable {
    /// Llumnix: the instance with the most freeness ((free blocks − waiting need) / requests).
    case freeness
    /// Fewest requests held (running + waiting + assigned but not yet reported).
    case leastRequests = "least-requests"
    case roundRobin = "round-robin"
    /// Two instances at random, the one with fewer requests.
    case powerOfTwo = "power-of-two"
    /// Rendezvous hash of the prompt's first tokens (prefix-cache reuse), unless that instance holds clearly more
    /// requests than the least loaded one.
    case prefixAffinity = "prefix-affinity"
}

/// The planning half of a scheduling round: pure apart from the round-robin cursor and the random source.
/// Requests are placed in the given (priority) order; the first that fits nowhere stops the round, so the backlog
/// stays in the queue in order.
public final class GlobalPlanner: Sendable {
    public let policy: RoutingPolicyKind
    private let cursor = Mutex<Int>(0)
    /// Round-robin turns handed back by placements that did not happen (a refused direct assignment): used
    /// before new turns, so every request still takes exactly one turn.
    private let returnedTurns = Mutex<[String]>([])
    private let rng = Mutex(SplitMix64(seed: 0x5eed))

    public init(policy: RoutingPolicyKind, seed: UInt64 = 0x5eed) {
        self.policy = policy
        rng.withLock { $0 = SplitMix64(seed: seed) }
    }

    /// Instances with headroom: alive, not draining, holding fewer requests than their capacity.
    static func hasHeadroom(_ i: InstanceRecord) -> Bool {
        !i.draining && i.inFlight < i.load.capacity
    }

    public func plan(_ requests: [PendingRequest], _ instances: [InstanceRecord]) -> [Assignment] {
        var pool = instances
        return plan(requests, &pool)
    }

    /// Places the requests in order and leaves `pool` with their load accounted for.
    public func plan(_ requests: [PendingRequest], _ pool: inout [InstanceRecord]) -> [Assignment] {
        var out: [Assignment] = []
        for r in requests {
            guard let a = place(r, &pool) else { break }
            out.append(a)
        }
        return out
    }

    /// Picks an instance with headroom for one request and counts it there at once (so the next placement sees it).
    public func place(_ r: PendingRequest, _ pool: inout [InstanceRecord]) -> Assignment? {
        let candidates = pool.indices.filter { Self.hasHeadroom(pool[$0]) }
        guard !candidates.isEmpty, let (index, reason) = pick(r, pool, candidates) else { return nil }
        let blocks = (r.contextLength + pool[index].load.blockSize) / max(1, pool[index].load.blockSize)
        pool[index].pendingRequests += 1
        pool[index].pendingBlocks += blocks
        pool[index].assigned += 1
        return Assignment(requestId: r.id, instance: pool[index].name, reason: reason)
    }

    /// A placement made by `place` did not happen: round-robin gives its turn to the next request.
    public func unplace(_ a: Assignment) {
        if policy == .roundRobin { returnedTurns.withLock { $0.append(a.instance) } }
    }

    func pick(_ r: PendingRequest, _ pool: [InstanceRecord], _ c: [Int]) -> (Int, String)? {
        switch policy {
        case .freeness:
            let best = c.max { pool[$0].freeness < pool[$1].freeness }!
            return (best, "freeness \(fmt(pool[best].freeness)) is the highest of \(describe(c, pool) { fmt($0.freeness) })")
        case .leastRequests:
            let best = c.min { (pool[$0].inFlight, $0) < (pool[$1].inFlight, $1) }!
            return (best, "fewest requests (\(pool[best].inFlight)) of \(describe(c, pool) { "\($0.inFlight)" })")
        case .roundRobin:
            if let name = returnedTurns.withLock({ t -> String? in
                guard let i = t.firstIndex(where: { n in c.contains { pool[$0].name == n } }) else { return nil }
                return t.remove(at: i)
            }), let best = c.first(where: { pool[$0].name == name }) {
                return (best, "round-robin turn of \(name) handed back by a refused direct assignment")
            }
            let k = cursor.withLock { v in defer { v &+= 1 }; return v }
            let best = c[k % c.count]
            return (best, "round-robin turn \(k % c.count + 1) of \(c.count)")
        case .powerOfTwo:
            let (a, b) = rng.withLock { g in (c[Int(g.next() % UInt64(c.count))], c[Int(g.next() % UInt64(c.count))]) }
            let best = pool[a].inFlight <= pool[b].inFlight ? a : b
            return (best, "power-of-two: \(pool[a].name)=\(pool[a].inFlight) vs \(pool[b].name)=\(pool[b].inFlight) requests")
        case .prefixAffinity:
            return affinity(r, pool, c)
        }
    }

    private func affinity(_ r: PendingRequest, _ pool: [InstanceRecord], _ c: [Int]) -> (Int, String) {
        let home = c.max { score(r.prefixHash, pool[$0].name) < score(r.prefixHash, pool[$1].name) }!
        let least = c.min { pool[$0].inFlight < pool[$1].inFlight }!
        // Give up affinity when its home holds much more than the least loaded instance.
        if pool[home].inFlight > 2 * pool[least].inFlight + 4 {
            return (least, "prefix home \(pool[home].name) overloaded (\(pool[home].inFlight) vs \(pool[least].inFlight) requests)")
        }
        return (home, "prefix hash \(String(UInt64(bitPattern: r.prefixHash) % 0xffff, radix: 16)) lives on \(pool[home].name)")
    }

    private func score(_ hash: Int64, _ name: String) -> UInt64 {
        var h = UInt64(bitPattern: hash) ^ 0x9e37_79b9_7f4a_7c15
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var g = SplitMix64(seed: h)
        return g.next()
    }

    private func describe(_ c: [Int], _ pool: [InstanceRecord], _ f: (InstanceRecord) -> String) -> String {
        "[" + c.map { "\(pool[$0].name)=\(f(pool[$0]))" }.joined(separator: ", ") + "]"
    }

    private func fmt(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return "\(r)"
    }
}

/// A tiny deterministic generator (routing tests are reproducible).
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
