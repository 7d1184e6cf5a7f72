import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// How the run's HTTP/1.1 connections were used, as found before the run (see `KeepAliveCheck`).
public enum ConnectionReuse: String, Sendable, Codable, Equatable {
    /// Connections were kept open and reused between requests.
    case keepAlive = "keep-alive"
    /// `--no-keepalive`: every request asked for its connection to be closed.
    case closePerRequest = "close-per-request"
    /// The server closed its connection after a complete streamed response without saying so
    /// (no `Connection: close`), so each request was sent on a new connection.
    case serverClosesAfterStream = "server-closes-after-stream"
    /// HTTP/2: one multiplexed connection per server.
    case http2 = "h2"

    public var description: String {
        switch self {
        case .keepAlive: return "kept alive"
        case .closePerRequest: return "one per request (--no-keepalive)"
        case .serverClosesAfterStream:
            return "one per request (the server closes its connection after each streamed response)"
        case .http2: return "HTTP/2"
        }
    }
}

/// Finds out whether a server closes a kept-alive connection right after a streamed response.
///
/// HTTP/1.1 lets a server close a persistent connection at any time, but one that does so after every response
/// without a `Connection: close` header races every client that reuses connections: the next request is written
/// before the server's FIN arrives, the server never reads it, and the client sees the connection closed under a
/// request it may not send again (some of it was written). llama.cpp's `llama-server` does this after each streamed
/// response (its chunked content provider reports "cancelled" after its last chunk, so cpp-httplib drops the
/// connection). A load tester cannot reuse connections to such a server without losing requests, so before a run
/// it sends one short streamed request on a fresh connection, reads the response to its end and waits a moment:
/// if the server then closes the connection, the run opens a connection per request instead.
public enum KeepAliveCheck {
    /// How long to wait after the end of the response for the server to close the connection.
    public static let graceMilliseconds: Int64 = 1500

    /// true: the server closed the connection after a complete streamed response that did not announce it;
    /// false: the connection stayed open (or the response announced `Connection: close`, which clients honour);
    /// nil: the check could not tell (no connection, a non-200 answer, no complete response within `timeoutSeconds`:
    /// a server that never answers must not hold the run up longer than one of its requests could).
    public static func serverClosesAfterStream(baseURL: String, path: String, body: String, apiKey: String?,
                                               caCertificates: String?, timeoutSeconds: Double = 60,
                                               graceMilliseconds: Int64 = graceMilliseconds) async -> Bool? {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), let host = url.host else { return nil }
        let tls = scheme == "https"
        let port = url.port ?? (tls ? 443 : 80)
        var sslContext: NIOSSLContext?
        if tls {
            var config = TLSConfiguration.makeClientConfiguration()
            config.applicationProtocols = ["http/1.1"]
            if let caCertificates { config.trustRoots = .file(caCertificates) }
            guard let ctx = try? NIOSSLContext(configuration: config) else { return nil }
            sslContext = ctx
        }
        let serverName = host.first.map { $0.isNumber || $0 == "[" } == true ? nil : host
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(min(max(timeoutSeconds, 0.1), 10) * 1000)))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
            let underlying = channel.channel
            let timedOut = Flag()
            let abandoned = Flag()
            let deadline = underlying.eventLoop.scheduleTask(in: .milliseconds(Int64(max(timeoutSeconds, 0.1) * 1000))) {
                abandoned.set()
                underlying.close(promise: nil)
            }
            defer { deadline.cancel() }
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Accept", value: "text/event-stream")
                head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                if let apiKey { head.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
                // One write: a server that answers and closes at once must not find half a request to refuse, and
                // a failed write (it answered and closed already) still leaves its answer to read.
                try? await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(string: body))), .end(nil)])
                var parts = inbound.makeAsyncIterator()
                var keepAliveAnnounced = false
                var ok = false
                var ended = false
                while !ended, let part = try await parts.next() {
                    switch part {
                    case .head(let h): ok = h.status == .ok; keepAliveAnnounced = h.isKeepAlive
                    case .body: break
                    case .end: ended = true
                    }
                }
                guard ended, ok, !abandoned.isSet else { return nil }
                guard keepAliveAnnounced else { return false }
                // The response is complete. A server that keeps the connection sends nothing more; one that drops
                // it closes now. After the grace period the check closes the connection itself.
                let timer = underlying.eventLoop.scheduleTask(in: .milliseconds(graceMilliseconds)) {
                    timedOut.set()
                    underlying.close(promise: nil)
                }
                defer { timer.cancel() }
                do {
                    while try await parts.next() != nil {}
                } catch {
                    // A reset counts as the server closing; the check's own close ends the stream too.
                }
                return !timedOut.isSet && !abandoned.isSet
            }
        } catch {
            return nil
        }
    }
}

/// A one-way flag shared between the event loop's timer and the checking task.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
