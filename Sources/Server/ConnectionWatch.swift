import NIOCore
import Synchronization

/// Tells a request that its client went away, without reading the request's connection itself (so that the
/// connection can be kept alive for the next request): an HTTP/1 connection whose input was closed, or an
/// HTTP/2 stream that was closed (RST_STREAM, GOAWAY, connection lost). `DisconnectWatchHandler` marks it.
final class ConnectionWatch: Sendable {
    private struct State {
        var closed = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = Mutex(State())

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Idempotent; wakes every waiter.
    func markClosed() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Returns once the client is gone, or when the calling task is cancelled.
    func closed() async {
        let id = state.withLock { s -> UInt64 in s.nextWaiter += 1; return s.nextWaiter }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.closed || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// One per HTTP/1 connection and per HTTP/2 stream, after the HTTP codec. On HTTP/1 the client closing its side
/// arrives as `ChannelEvent.inputClosed` (the server allows half-closure, so the channel stays open until the
/// response is written); an HTTP/2 stream channel never sees that event for END_STREAM — it goes inactive when
/// the stream is reset or the connection dies. Either way the request running on it is told.
final class DisconnectWatchHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any
    let watch = ConnectionWatch()

    func channelInactive(context: ChannelHandlerContext) {
        watch.markClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { watch.markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) { watch.markClosed() }
}

@available(*, unavailable)
extension DisconnectWatchHandler: Sendable {}

extension Channel {
    /// The watch of this connection or stream, nil when the channel has no `DisconnectWatchHandler`
    /// (e.g. the in-process test transport).
    func disconnectWatch() async -> ConnectionWatch? {
        try? await eventLoop.submit { [self] in
            try self.pipeline.syncOperations.handler(type: DisconnectWatchHandler.self).watch
        }.get()
    }
}

/// Runs `operation` to its end, but cancels it (and so aborts the engine requests it iterates) as soon as the
/// client's connection or stream closes; then throws `CancellationError`. The connection itself is not read,
/// so it stays usable for the next request (keep-alive).
func cancellingOnDisconnect<Value: Sendable>(_ watch: ConnectionWatch?,
                                             _ operation: () async throws -> Value) async throws -> Value {
    guard let watch else { return try await operation() }
    if watch.isClosed { throw CancellationError() }
    return try await withoutActuallyEscaping(operation) { operation in
        // The operation runs in a child task while this task only waits for it, so it is never used
        // concurrently (the same hand-over Hummingbird's consumeWithCancellationOnInboundClose does).
        let op = UncheckedTransfer(operation)
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await op.value() }
            group.addTask { await watch.closed(); return nil }
            defer { group.cancelAll() }
            guard case .some(.some(let value)) = try await group.next() else { throw CancellationError() }
            return value
        }
    }
}

struct UncheckedTransfer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
