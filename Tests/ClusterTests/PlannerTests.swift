@testable import Cluster
import Engine
import Testing

func instance(_ name: String, running: Int = 0, waiting: Int = 0, free: Int = 100, waitingNeed: Int = 0,
              capacity: Int = 10, draining: Bool = false) -> InstanceRecord {
    var l = InstanceLoad()
    l.numRunning = running; l.numWaiting = waiting; l.numFreeBlocks = free; l.numTotalBlocks = 100
    l.waitingBlocksNeeded = waitingNeed; l.capacity = capacity; l.active = running + waiting; l.blockSize = 16
    return InstanceRecord(name: name, address: "", load: l, heartbeatAge: 0, draining: draining, assigned: running + waiting)
}

func requests(_ n: Int, context: Int = 10) -> [PendingRequest] {
    (0..<n).map { PendingRequest(id: Int64($0), priority: 0, contextLength: context, prefixHash: Int64($0 % 3)) }
}

struct PlannerTests {
    @Test func freenessFollowsLlumnixFormula() {
        // (free − waiting need − pending blocks) / (running + waiting + pending)
        var i = instance("a", running: 3, waiting: 1, free: 50, waitingNeed: 10)
        #expect(i.freeness == 10)
        i.pendingRequests = 1; i.pendingBlocks = 5
        #expect(i.freeness == 7)
        #expect(instance("idle", free: 40).freeness == 40)
    }

    @Test func freenessPrefersTheInstanceThatCanDecodeLongest() {
        let busy = instance("busy", running: 2, waiting: 6, free: 40, waitingNeed: 30)   // (40-30)/8 = 1.25
        let calm = instance("calm", running: 6, free: 30)                                 // 30/6 = 5
        let plan = GlobalPlanner(policy: .freeness).plan(requests(1), [busy, calm])
        #expect(plan.map(\.instance) == ["calm"])
        #expect(plan.first?.reason.contains("freeness") == true)
    }

    @Test func freenessSpreadsARoundByAccountingItsOwnAssignments() {
        let plan = GlobalPlanner(policy: .freeness).plan(requests(6, context: 40), [instance("a"), instance("b")])
        let counts = Dictionary(grouping: plan, by: \.instance).mapValues(\.count)
        #expect(counts == ["a": 3, "b": 3])
    }

    @Test func backlogStaysWhenNoInstanceHasHeadroom() {
        let plan = GlobalPlanner(policy: .leastRequests).plan(requests(10), [instance("a", running: 1, capacity: 3),
                                                                              instance("b", capacity: 2)])
        #expect(plan.count == 4, "assigned \(plan.count) with 4 free slots")
        #expect(plan.map(\.requestId) == [0, 1, 2, 3], "not in queue order")
        #expect(GlobalPlanner(policy: .roundRobin).plan(requests(3), [instance("d", draining: true)]).isEmpty)
    }

    @Test func roundRobinAlternates() {
        let plan = GlobalPlanner(policy: .roundRobin).plan(requests(6), [instance("a"), instance("b", running: 5)])
        #expect(plan.map(\.instance) == ["a", "b", "a", "b", "a", "b"])
    }

    @Test func leastRequestsAndPowerOfTwoAvoidTheLoadedInstance() {
        let pool = [instance("heavy", running: 8, capacity: 100), instance("light", capacity: 100)]
        #expect(GlobalPlanner(policy: .leastRequests).plan(requests(5), pool).allSatisfy { $0.instance == "light" })
        // Power of two picks the lighter of its two samples: heavy only when both samples were heavy.
        let p2 = GlobalPlanner(policy: .powerOfTwo, seed: 42).plan(requests(8), pool)
        #expect(p2.count == 8)
        for a in p2 where a.instance == "heavy" { #expect(!a.reason.contains("light"), "\(a.reason)") }
        #expect(p2.contains { $0.instance == "light" })
    }

    @Test func prefixAffinityIsStickyUntilOverloaded() {
        let pool = [instance("a", capacity: 100), instance("b", capacity: 100), instance("c", capacity: 100)]
        let same = (0..<4).map { PendingRequest(id: Int64($0), priority: 0, contextLength: 8, prefixHash: 12345) }
        let plan = GlobalPlanner(policy: .prefixAffinity).plan(same, pool)
        #expect(Set(plan.map(\.instance)).count == 1, "one prefix went to several instances: \(plan.map(\.instance))")
        let many = (0..<40).map { PendingRequest(id: Int64($0), priority: 0, contextLength: 8, prefixHash: 777) }
        let spread = GlobalPlanner(policy: .prefixAffinity).plan(many, pool)
        #expect(Set(spread.map(\.instance)).count > 1, "affinity never yielded to load")
    }

    @Test func outputPayloadParses() {
        let events = parseOutputPayload("5 0 - 1,2,3\n6 4 length 9\n7 2 stop *\n8 3 error ")
        #expect(events == [OutputEvent(id: 5, start: 0, tokens: [1, 2, 3]),
                           OutputEvent(id: 6, start: 4, tokens: [9], finish: .length),
                           OutputEvent(id: 7, start: 2, tokens: [], finish: .stop, refetch: true),
                           OutputEvent(id: 8, start: 3, tokens: [], finish: .error)])
    }

    @Test func resumedRequestContinuesFromDeliveredTokens() {
        var p = greedy(10)
        p.minTokens = 4
        let c = ClaimedRequest(id: 1, prompt: [1, 2], params: p, priority: 0, delivered: [7, 8, 9], attempts: 2)
        #expect(c.engineRequest.promptTokenIds == [1, 2, 7, 8, 9])
        #expect(c.engineRequest.params.maxTokens == 7 && c.engineRequest.params.minTokens == 1)
    }
}
