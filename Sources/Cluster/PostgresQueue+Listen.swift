import Engine
import Logging
import NIOCore
import PostgresNIO
import Synchronization

extension PostgresQueue {
    /// LISTENs on a dedicated connection (reconnecting after failures, then signalling `.resync`).
    public func signals(_ channels: [QueueChannel]) -> AsyncStream<QueueSignal> {
        let (stream, continuation) = AsyncStream<QueueSignal>.makeStream(bufferingPolicy: .unbounded)
        let task = Task { [url, logger, limits] in
            while !Task.isCancelled {
                do {
                    try await Self.listen(url: url, channels: channels, logger: logger, limits: limits, into: continuation)
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("queue listener lost its connection; reconnecting",
                                   metadata: ["error": "\(describeQueueError(error, url: url))"])
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    static func listen(url: PostgresURL, channels: [QueueChannel], logger: Logger, limits: QueueLimits,
                       into out: AsyncStream<QueueSignal>.Continuation) async throws {
        let config = try url.connectionConfiguration
        let conn = try await withTimeLimit(limits.operationTimeout) {
            try await PostgresConnection.connect(configuration: config, id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        }
        do {
            try await listen(on: conn, channels: channels, limits: limits, into: out)
        } catch {
            try? await conn.close()
            throw error
        }
        try? await conn.close()
    }

    static func listen(on conn: PostgresConnection, channels: [QueueChannel], limits: QueueLimits = QueueLimits(),
                       into out: AsyncStream<QueueSignal>.Continuation) async throws {
        let (ready, readyIn) = AsyncStream<Void>.makeStream()
        let listening = ListenerReady()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The watchdog: LISTEN must be in place within the time limit, and the connection must keep answering
            // (a probe every few seconds, under the same limit): a connection that went silent (its peer gone
            // without a reset) would otherwise never deliver nor fail. Closing it fails everything waiting on it.
            group.addTask {
                try await Task.sleep(for: limits.operationTimeout)
                guard listening.value else {
                    try? await conn.close()
                    throw ClusterError("LISTEN not in place after \(limits.operationTimeout)")
                }
                while true {
                    try await Task.sleep(for: .seconds(3))
                    do {
                        _ = try await withTimeLimit(limits.operationTimeout) { try await conn.query("SELECT 1", logger: conn.logger) }
                    } catch {
                        if Task.isCancelled { throw CancellationError() }
                        try? await conn.close()
                        throw ClusterError("the listening connection stopped answering: \(describeQueueError(error, url: nil))")
                    }
                }
            }
            for ch in channels {
                let (name, kind) = Self.channelName(ch)
                group.addTask {
                    defer { readyIn.finish() }   // a failure before LISTEN must not leave the wait below hanging
                    try await conn.listen(on: name) { sequence in
                        readyIn.yield()   // LISTEN is in place
                        for try await n in sequence {
                            switch kind {
                            case .schedule: out.yield(.schedule)
                            case .work: out.yield(.work)
                            case .outputs: out.yield(.outputs(parseOutputPayload(n.payload)))
                            }
                        }
                    }
                    throw ClusterError("listen sequence ended")
                }
            }
            var count = 0
            for await _ in ready {
                count += 1
                if count == channels.count { break }
            }
            listening.set()
            // Anything that happened before LISTEN took effect is re-read by the consumer.
            out.yield(.resync)
            try await group.next()
            group.cancelAll()
        }
    }

    enum Kind { case schedule, work, outputs }

    static func channelName(_ c: QueueChannel) -> (String, Kind) {
        switch c {
        case .schedule: return (schedChannel, .schedule)
        case .work(let n): return (workChannel(n), .work)
        case .outputs(let n): return (outChannel(n), .outputs)
        }
    }
}

/// Lines of `id start finish tokens`: `finish` is `-` while running; `tokens` is comma-separated ids, or `*` when
/// the router must read the row (stop reason, error or a large delta).
func parseOutputPayload(_ payload: String) -> [OutputEvent] {
    var out: [OutputEvent] = []
    for line in payload.split(separator: "\n") {
        let f = line.split(separator: " ", omittingEmptySubsequences: false)
        guard f.count >= 3, let id = Int64(f[0]), let start = Int(f[1]) else { continue }
        let fin = f[2] == "-" ? nil : EngineFinishReason(rawValue: String(f[2]))
        let toks = f.count > 3 ? f[3] : ""
        if toks == "*" {
            out.append(OutputEvent(id: id, start: start, tokens: [], finish: fin, refetch: true))
        } else {
            let ids = toks.split(separator: ",").compactMap { Int32($0) }
            out.append(OutputEvent(id: id, start: start, tokens: ids, finish: fin))
        }
    }
    return out
}

extension PostgresURL {
    /// Plain TCP (loopback or a private network; TLS is not configured yet).
    var connectionConfiguration: PostgresConnection.Configuration {
        get throws {
            PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database,
                                             tls: try connectionTLS())
        }
    }
}

final class ListenerReady: Sendable {
    private let flag = Mutex(false)
    var value: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
