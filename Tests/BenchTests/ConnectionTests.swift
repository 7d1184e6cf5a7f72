import AsyncHTTPClient
@testable import Bench
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// `swiftlet http_connections_total` of a live server.
func serverConnections(_ client: HTTPClient, _ base: String) async throws -> Int {
    let resp = try await client.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(30))
    let body = String(buffer: try await resp.body.collect(upTo: 1 << 22))
    let line = try #require(body.split(separator: "\n").first { $0.hasPrefix("swiftlet:http_connections_total ") })
    return try #require(Int(line.split(separator: " ").last ?? ""))
}

/// A peer that reads each request to its end and then hangs up without answering (a server that crashed or
/// closed a kept-alive connection under a request). Counts the connections it accepted.
final class HangUpPeer: Sendable {
    let channel: any Channel
    private let accepted: Counter
    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { accepted.n.load(ordering: .relaxed) }

    final class Counter: Sendable { let n = Atomic<Int>(0) }

    private init(channel: any Channel, accepted: Counter) { self.channel = channel; self.accepted = accepted }

    static func start() async throws -> HangUpPeer {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.n.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HangUpHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return HangUpPeer(channel: channel, accepted: counter)
    }

    func close() async { try? await channel.close() }
}

/// Reads a request (head, then Content-Length bytes of body) and closes the connection.
final class HangUpHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var seen = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        seen.writeBuffer(&b)
        let text = String(buffer: seen)
        guard let end = text.range(of: "\r\n\r\n") else { return }
        let head = text[..<end.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        if text.utf8.count - text[..<end.upperBound].utf8.count >= length { context.close(promise: nil) }
    }
}

/// Like llama-server: answers each request with a complete SSE stream (chunked, no `Connection: close`), then
/// closes the connection anyway. Counts the connections it accepted.
final class CloseAfterStreamPeer: Sendable {
    let channel: any Channel
    private let accepted: HangUpPeer.Counter
    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { accepted.n.load(ordering: .relaxed) }

    private init(channel: any Channel, accepted: HangUpPeer.Counter) { self.channel = channel; self.accepted = accepted }

    static func start() async throws -> CloseAfterStreamPeer {
        let counter = HangUpPeer.Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.n.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamThenCloseHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return CloseAfterStreamPeer(channel: channel, accepted: counter)
    }

    func close() async { try? await channel.close() }
}

/// Reads one request, streams two tokens and `[DONE]` as chunked SSE, and closes the connection.
final class StreamThenCloseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var seen = ByteBuffer()
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        seen.writeBuffer(&b)
        let text = String(buffer: seen)
        guard !answered, let end = text.range(of: "\r\n\r\n") else { return }
        let head = text[..<end.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        guard text.utf8.count - text[..<end.upperBound].utf8.count >= length else { return }
        answered = true
        let token = #"{"id":"c","object":"text_completion","created":0,"model":"x","choices":[{"index":0,"text":"a","finish_reason":null}]}"#
        var out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        for event in [token, token, "[DONE]"] {
            let payload = "data: \(event)\n\n"
            out += String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n"
        }
        out += "0\r\n\r\n"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: out))).whenComplete { _ in channel.close(promise: nil) }
    }
}

@Suite(.serialized) struct ConnectionTests {
    /// The llama-server case: reusing its connections races its silent close after every stream, so the run must
    /// find that out first and open a connection per request, losing none.
    @Test func aServerThatClosesAfterEachStreamGetsAConnectionPerRequest() async throws {
        let peer = try await CloseAfterStreamPeer.start()
        #expect(await KeepAliveCheck.serverClosesAfterStream(
            baseURL: "http://127.0.0.1:\(peer.port)", path: "/v1/completions", body: "{}", apiKey: nil,
            caCertificates: nil) == true)
        let client = BenchHTTPClient.make()
        let reqs = (0..<40).map { _ in BenchRequest(prompt: .tokens([1, 2]), promptLength: 2, outputLength: 2) }
        let runner = BenchmarkRunner(target: BenchTarget(baseURL: "http://127.0.0.1:\(peer.port)", model: "x", requestTimeout: 60),
                                     client: client)
        let result = try await runner.benchmark(reqs, shape: LoadShape(maxConcurrency: 8), datasetName: "fixed")
        try await client.shutdown()
        let connections = peer.connections
        await peer.close()
        #expect(result.connections == .serverClosesAfterStream)
        #expect(result.metrics.completed == 40 && result.metrics.failed == 0, "\(result.metrics.failureReasons)")
        #expect(result.metrics.totalOutputTokens == 80)
        // One for the direct check, one for the run's check, one per request.
        #expect(connections == 42, "\(connections) connections")
    }

    /// A server that accepts and never answers: the check gives up after its time limit (it once waited forever
    /// and hung the suite).
    @Test func theCheckGivesUpOnAServerThatNeverAnswers() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let t0 = ContinuousClock.now
        let r = await KeepAliveCheck.serverClosesAfterStream(
            baseURL: "http://127.0.0.1:\(listener.port)", path: "/v1/completions", body: "{}", apiKey: nil,
            caCertificates: nil, timeoutSeconds: 1)
        #expect(r == nil)
        #expect(ContinuousClock.now - t0 < .seconds(30))
    }

    @Test func aRequestTheServerReceivedIsNotSentAgain() async throws {
        let peer = try await HangUpPeer.start()
        let client = BenchHTTPClient.make()
        let reqs = (0..<3).map { _ in BenchRequest(prompt: .tokens([1, 2]), promptLength: 2, outputLength: 4) }
        let runner = BenchmarkRunner(target: BenchTarget(baseURL: "http://127.0.0.1:\(peer.port)", model: "x", requestTimeout: 20),
                                     client: client)
        let result = try await runner.benchmark(reqs, shape: LoadShape(maxConcurrency: 1), datasetName: "fixed")
        try await client.shutdown()
        let connections = peer.connections
        await peer.close()
        #expect(result.metrics.completed == 0 && result.metrics.failed == 3)
        #expect(result.metrics.failureReasons == ["remote connection closed": 3], "\(result.metrics.failureReasons)")
        // The keep-alive check's request got no answer either (so it could not tell, and the run kept connections).
        #expect(result.connections == .keepAlive)
        #expect(connections == 4, "each request was sent once, after the keep-alive check: \(connections) connections")
    }

    @Test func bodyProbeTellsWhetherAnythingWasSent() async throws {
        let probe = SendProbe()
        #expect(!probe.started)
        var it = ProbedBody(buffer: ByteBuffer(string: "{}"), probe: probe).makeAsyncIterator()
        #expect(!probe.started)
        #expect(await it.next().map { String(buffer: $0) } == "{}")
        #expect(probe.started)
        #expect(await it.next() == nil)
        #expect(isConnectionFailure(HTTPClientError.remoteConnectionClosed))
        #expect(isConnectionFailure(ChannelError.ioOnClosedChannel))
        #expect(!isConnectionFailure(HTTPClientError.deadlineExceeded))
        #expect(!isConnectionFailure(CancellationError()))
    }

    @Test func keepAliveReusesAndNoKeepaliveReconnects() async throws {
        try await withServer { server, client in
            let tok = try ModelTokenizer(path: Paths.storiesTok)
            let reqs = try DatasetSpec.random(inputLen: 8, outputLen: 4, rangeRatio: 0)
                .build(count: 20, seed: 2, tokenizer: tok, endpoint: .completions)
            let c0 = try await serverConnections(client, server.baseURL)
            let kept = BenchmarkRunner(target: BenchTarget(baseURL: server.baseURL, requestTimeout: 60), client: client)
            let a = try await kept.benchmark(reqs, shape: LoadShape(maxConcurrency: 1), datasetName: "random")
            #expect(a.metrics.completed == 20 && a.metrics.failed == 0)
            #expect(a.connections == .keepAlive, "swiftlet serve keeps its connections after a stream")
            let c1 = try await serverConnections(client, server.baseURL)
            #expect(c1 == c0 + 1, "the keep-alive check's connection, then 20 sequential requests over keep-alive: \(c1 - c0) new connections")
            let closing = BenchmarkRunner(target: BenchTarget(baseURL: server.baseURL, requestTimeout: 60, keepAlive: false),
                                          client: client)
            let b = try await closing.benchmark(reqs, shape: LoadShape(maxConcurrency: 1), datasetName: "random")
            #expect(b.metrics.completed == 20 && b.metrics.failed == 0, "\(b.metrics.failureReasons)")
            #expect(b.connections == .closePerRequest)
            let c2 = try await serverConnections(client, server.baseURL)
            // --no-keepalive: a connection per request (the first reuses the pooled one; /metrics then needs a new one).
            #expect(c2 - c1 >= 19 && c2 - c1 <= 21, "\(c2 - c1) connections for 20 requests")
        }
    }

    @Test func http2NeedsHTTPSAndTheCAMustBePEM() throws {
        #expect(throws: BenchError.self) { try BenchTransport(http2: true).validate(baseURL: "http://127.0.0.1:1") }
        try BenchTransport(http2: true).validate(baseURL: "https://127.0.0.1:1")
        #expect(throws: BenchError.self) {
            try BenchTransport(caCertificates: Paths.storiesTok).validate(baseURL: "https://127.0.0.1:1")
        }
    }
}
