@testable import Cluster
import Engine
import Foundation
import Logging
import Synchronization
import Testing

/// Queue operations end within their time limits, and a claim whose answer was lost does not strand its requests.
@Suite(.serialized, .timeLimit(.minutes(5))) struct QueueLimitsTests {
    /// A body that ignores cancellation cannot hold the caller past the limit; a quick body returns its value.
    @Test func timeLimitAbandonsABodyThatIgnoresCancellation() async throws {
        let began = ContinuousClock.now
        let released = Mutex(false)
        do {
            _ = try await withTimeLimit(.milliseconds(200)) {
                // Not cancellable (like a query on a connection whose peer went silent).
                while !released.withLock({ $0 }) { usleep(10_000) }
                return 1
            }
            Issue.record("no timeout")
        } catch is QueueTimeout {}
        released.withLock { $0 = true }
        #expect(ContinuousClock.now - began < .seconds(10 * TestTiming.scale), "held for \(ContinuousClock.now - began)")
        #expect(try await withTimeLimit(.seconds(30)) { 42 } == 42)
        await #expect(throws: QueueError.self) {
            try await withTimeLimit(.seconds(30)) { throw QueueError("x", unreachable: false) }
        }
    }

    /// A server that accepts connections and never answers (a hung pool or a silent peer, as the operation sees
    /// it): every attempt is abandoned at the time limit and retried until `retryFor`, then the operation fails
    /// as unreachable, naming the time limit; operations without retries fail after one attempt.
    @Test func operationsOnASilentServerEndWithinTheirLimits() async throws {
        let silent = try SilentServer()
        defer { silent.close() }
        var limits = QueueLimits()
        limits.operationTimeout = .milliseconds(300)
        limits.retryFor = .milliseconds(1500)
        let q = PostgresQueue(url: try PostgresURL("postgres://u@127.0.0.1:\(silent.port)/x"), logger: quietLogger, limits: limits)
        await q.started()
        defer { q.close() }
        let slack = Duration.seconds(10 * TestTiming.scale)
        var began = ContinuousClock.now
        do {
            _ = try await q.progress(ids: [1])
            Issue.record("no error")
        } catch let e as QueueError {
            #expect(e.unreachable, "\(e)")
            #expect(e.description.contains("no answer within"), "\(e)")
        }
        let retried = ContinuousClock.now - began
        #expect(retried >= .milliseconds(1000) && retried < limits.retryFor + slack, "took \(retried)")
        began = ContinuousClock.now
        await #expect(throws: QueueError.self) { _ = try await q.append(instance: "i1", [TokenDelta(id: 1, start: 0, tokens: [1])]) }
        #expect(ContinuousClock.now - began < limits.operationTimeout + slack)
    }

    /// A claim whose answer was lost left its requests started on the instance; the next claim that says what the
    /// instance holds takes them back (with their tokens), and one that holds them does not.
    @Test(arguments: QueueKind.allCases)
    func aLostClaimIsTakenBackByTheNextOne(_ kind: QueueKind) async throws {
        let q = try await makeQueue(kind)
        defer { close(q) }
        let timing = fastTiming()
        try await q.register(name: "i1", address: "-", load: load(), timing: timing)
        try await q.enqueue(QueuedRequest(id: 5, origin: "r", prompt: [1, 2], params: greedy(8)))
        let planner = GlobalPlanner(policy: .leastRequests)
        let a = try await q.scheduleRound(limit: 10, timing: timing) { planner.plan($0, $1) }.assigned
        try #require(a.map(\.requestId) == [5])
        let lost = try await q.claim(instance: "i1", limit: 4, holding: [], timing: timing)
        try #require(lost.map(\.id) == [5])
        #expect(try await q.append(instance: "i1", [TokenDelta(id: 5, start: 0, tokens: [9, 9])]).isEmpty)
        // The answer never reached the agent: it holds nothing.
        #expect(try await q.claim(instance: "i1", limit: 4, timing: timing).isEmpty, "a plain claim takes started work")
        let back = try await q.claim(instance: "i1", limit: 4, holding: [], timing: timing)
        try #require(back.map(\.id) == [5])
        #expect(back[0].delivered == [9, 9])
        #expect(try await q.claim(instance: "i1", limit: 4, holding: [5], timing: timing).isEmpty, "claimed what it holds")
    }
}

/// A TCP listener that never accepts: the kernel completes the handshake and the client waits forever.
final class SilentServer: Sendable {
    let fd: Int32
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { throw ClusterError("cannot listen: errno \(errno)") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }
    func close() { _ = Glibc.close(fd) }
}
