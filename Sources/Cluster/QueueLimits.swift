import Foundation
import Synchronization

/// How long queue operations may take and how they are retried.
///
/// Every operation on `PostgresQueue` runs under `operationTimeout`: postgres-nio's pool can strand a request
/// waiting for a connection after a PostgreSQL restart (postgres-nio issue 657: an append waited 3 minutes), and a
/// query on a connection whose peer went silent never returns by itself (queries are not cancellable). An attempt
/// past the limit is cancelled (a wait for a connection ends at once) and abandoned (a query in flight finishes or
/// fails on its own, its answer dropped); then the operation is retried with backoff while `retryFor` lasts,
/// counted from its first attempt. Failures to reach the database are retried the same way (a restart refuses
/// connections for a second or two). Errors the database answered with (a constraint, bad SQL) are not retried.
///
/// Which operations retry: the idempotent ones (reads, heartbeats, finish, release, purge, draining, scheduling
/// rounds, claims: a claim whose answer was lost is taken back by the next one, see `ClaimStatement`) and enqueue
/// (a retry that finds the row already stored counts as stored). `append` does not: its caller (the instance's
/// flush loop) retries with the tokens generated meanwhile and, knowing the attempt's fate is unknown, checks a
/// refused replay against the row. `register` does not either (a replayed registration would see its own
/// heartbeat and refuse the name).
public struct QueueLimits: Sendable {
    /// One attempt's time limit. A round trip takes milliseconds, but on a 2-core machine under `stress-ng --cpu 2`
    /// with the whole test suite beside it a registration took over 5 s (the first default), so 15 s.
    public var operationTimeout: Duration = .seconds(15)
    /// Retries go on this long from the first attempt, then the last error is thrown.
    public var retryFor: Duration = .seconds(30)
    /// First backoff; it doubles up to `maxBackoff` (with jitter).
    public var backoff: Duration = .milliseconds(50)
    public var maxBackoff: Duration = .seconds(1)
    public init() {}

    /// The defaults, or SWIFTLET_QUEUE_TIMEOUT / SWIFTLET_QUEUE_RETRY_FOR (seconds) from the environment.
    public static var fromEnvironment: QueueLimits {
        var l = QueueLimits()
        let env = ProcessInfo.processInfo.environment
        if let s = env["SWIFTLET_QUEUE_TIMEOUT"].flatMap(Double.init), s > 0 { l.operationTimeout = .milliseconds(Int(s * 1000)) }
        if let s = env["SWIFTLET_QUEUE_RETRY_FOR"].flatMap(Double.init), s >= 0 { l.retryFor = .milliseconds(Int(s * 1000)) }
        return l
    }

    /// The pause before retry number `n` (1-based).
    func pause(_ n: Int) -> Duration {
        let base = backoff * (1 << min(n - 1, 20))
        let capped = min(base, maxBackoff)
        return capped * Double.random(in: 0.5...1.0)
    }
}

/// An attempt ran past its time limit (it was cancelled and abandoned).
public struct QueueTimeout: Error, CustomStringConvertible, Sendable {
    public var limit: Duration
    public var description: String { "no answer within \(limit) (the attempt was abandoned)" }
}

/// Runs `body` in a task of its own and returns its result, or throws `QueueTimeout` once `limit` has passed: the
/// task is then cancelled and left to end by itself (a body that ignores cancellation cannot hold the caller).
/// Cancelling the caller cancels the body (and the caller waits for it, or for the limit).
func withTimeLimit<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let race = TimeLimitRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            race.arm(c)
            let timer = Task {
                try? await Task.sleep(for: limit)
                if Task.isCancelled { return }
                if race.resume(with: .failure(QueueTimeout(limit: limit))) { work.cancel() }
            }
            Task {
                let r = await work.result
                timer.cancel()
                _ = race.resume(with: r)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// The continuation both racers try to resume; the first wins.
final class TimeLimitRace<T: Sendable>: Sendable {
    private let c = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func arm(_ continuation: CheckedContinuation<T, any Error>) { c.withLock { $0 = continuation } }
    func resume(with r: Result<T, any Error>) -> Bool {
        guard let cont = c.withLock({ v -> CheckedContinuation<T, any Error>? in defer { v = nil }; return v }) else { return false }
        cont.resume(with: r)
        return true
    }
}
