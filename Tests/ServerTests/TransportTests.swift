import AsyncHTTPClient
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOSSL
import Server
import Testing

/// A throwaway CA, server and client certificate, made once per test process with the openssl CLI.
enum TestCerts {
    static let dir: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-certs-\(getpid())").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Paths.root.appendingPathComponent("Tests/support/make-test-certs.sh").path, dir]
        try? p.run()
        p.waitUntilExit()
        return dir
    }()
    static func path(_ name: String) -> String { dir + "/" + name }
}

/// An HTTP client of its own (so its pool is this test's), trusting the test CA; shut down after `body`.
func withClient<T: Sendable>(http2: Bool = false, clientCertificate: Bool = false,
                             _ body: (HTTPClient) async throws -> T) async throws -> T {
    var config = HTTPClient.Configuration()
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(TestCerts.path("ca.pem")))
    if clientCertificate {
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(TestCerts.path("client.pem")).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: TestCerts.path("client.key"), format: .pem))
    }
    config.tlsConfiguration = tls
    config.httpVersion = http2 ? .automatic : .http1Only
    config.decompression = .disabled
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    do {
        let v = try await body(client)
        try await client.shutdown()
        return v
    } catch {
        try? await client.shutdown()
        throw error
    }
}

struct Exchange: Sendable {
    var status: Int
    var version: HTTPVersion
    var headers: HTTPHeaders
    var body: String
    var events: [String] { HTTPResult(status: status, headers: headers, body: body).events }
}

func send(_ client: HTTPClient, _ url: String, _ body: String? = nil, method: HTTPMethod = .POST) async throws -> Exchange {
    var req = HTTPClientRequest(url: url)
    req.method = body == nil ? .GET : method
    if let body {
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(string: body))
    }
    let resp = try await client.execute(req, timeout: ServerTestTiming.request)
    let bytes = try await resp.body.collect(upTo: 16 << 20)
    return Exchange(status: Int(resp.status.code), version: resp.version, headers: resp.headers, body: String(buffer: bytes))
}

/// `swiftlet:http_connections_total` from /metrics.
func connectionsAccepted(_ client: HTTPClient, _ base: String) async throws -> Int {
    let m = try await send(client, base + "/metrics")
    let line = try #require(m.body.split(separator: "\n").first { $0.hasPrefix("swiftlet:http_connections_total ") })
    return try #require(Int(line.split(separator: " ").last ?? ""))
}

func tls(clientCA: Bool = false) throws -> ServerTLS {
    try ServerTLS(certificateFile: TestCerts.path("server.pem"), keyFile: TestCerts.path("server.key"),
                  clientCAFile: clientCA ? TestCerts.path("ca.pem") : nil)
}

@Suite(.serialized) struct TransportTests {
    static let streamed = #"{"prompt":"Once upon a time","max_tokens":3,"temperature":0,"stream":true}"#

    @Test func hundredStreamedRequestsOverOneKeepAliveConnection() async throws {
        try await withLiveServer { live in
            let base = "http://127.0.0.1:\(live.port)"
            try await withClient { client in
                let first = try await send(client, base + "/v1/completions", Self.streamed)
                #expect(first.status == 200)
                // The in-process test harness opens a connection of its own; only the difference counts.
                let before = try await connectionsAccepted(client, base)
                for i in 0..<100 {
                    let r = try await send(client, base + "/v1/completions", Self.streamed)
                    #expect(r.status == 200, "request \(i): \(r.body)")
                    #expect(r.headers["Connection"].allSatisfy { $0.lowercased() != "close" })
                    #expect(r.events.last == "[DONE]")
                }
                let whole = try await send(client, base + "/v1/completions", #"{"prompt":"Once","max_tokens":3}"#)
                #expect(whole.status == 200 && whole.headers["Connection"].isEmpty)
                let chat = try await send(client, base + "/v1/chat/completions",
                                          #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}"#)
                #expect(chat.status == 200 && chat.headers["Connection"].isEmpty)
                let bad = try await send(client, base + "/v1/completions", #"{"prompt":"x","max_tokens":-1}"#)
                #expect(bad.status == 400)
                let after = try await connectionsAccepted(client, base)
                #expect(after == before, "\(after - before) more connections for 100 streamed requests")
            }
        }
    }

    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() async throws {
        try await withLiveServer(configure: { $0.idleTimeout = 0.3 }) { live in
            // One request on a raw socket, then the server must hang up within a few idle timeouts.
            let closed = try serverClosesIdleConnection(port: live.port, within: 5)
            #expect(closed)
            // A stream longer than the idle timeout is not cut: idle means no request in progress.
            let maxLen = live.engine.modelInfo.maxModelLen
            let long = try await live.post("/v1/completions",
                                           #"{"prompt":[1],"max_tokens":\#(maxLen - 1),"ignore_eos":true,"n":4,"stream":true}"#)
            #expect(long.status == 200 && long.events.last == "[DONE]")
        }
        try await withLiveServer { live in
            // The default (60 s) keeps it open.
            let closed = try serverClosesIdleConnection(port: live.port, within: 1.5)
            #expect(!closed)
        }
    }

    @Test func httpsWithHTTP1AndH2ByALPN() async throws {
        let serverTLS = try tls()
        try await withLiveServer(configure: { $0.tls = serverTLS; $0.httpVersion = .http2 }) { live in
            let base = "https://localhost:\(live.port)"
            try await withClient(http2: false) { client in
                let r = try await send(client, base + "/v1/completions", Self.streamed)
                #expect(r.status == 200 && r.version == .http1_1)
                #expect(r.events.last == "[DONE]")
            }
            try await withClient(http2: true) { client in
                let r = try await send(client, base + "/v1/chat/completions",
                                       #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}"#)
                #expect(r.status == 200 && r.version == .http2)
                #expect(r.events.last == "[DONE]")
                #expect(r.headers["Content-Type"].first == "text/event-stream")
                let before = try await connectionsAccepted(client, base)
                // Many concurrent SSE streams multiplexed on the client's h2 connection.
                let results = try await withThrowingTaskGroup(of: Exchange.self) { group in
                    for _ in 0..<24 {
                        group.addTask { try await send(client, base + "/v1/completions", Self.streamed) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(results.count == 24)
                #expect(results.allSatisfy { $0.status == 200 && $0.version == .http2 && $0.events.last == "[DONE]" })
                #expect(try await connectionsAccepted(client, base) == before, "24 streams reused the h2 connection")
            }
        }
    }

    @Test func resetStreamAbortsOnlyThatRequest() async throws {
        let serverTLS = try tls()
        try await withLiveServer(configure: { $0.tls = serverTLS; $0.httpVersion = .http2 }) { live in
            let base = "https://localhost:\(live.port)"
            let maxLen = live.engine.modelInfo.maxModelLen
            try await withClient(http2: true) { client in
                _ = try await send(client, base + "/health")
                let before = try await connectionsAccepted(client, base)
                var req = HTTPClientRequest(url: base + "/v1/completions")
                req.method = .POST
                req.headers.add(name: "Content-Type", value: "application/json")
                req.body = .bytes(ByteBuffer(string: #"{"prompt":[1],"max_tokens":\#(maxLen - 1),"ignore_eos":true,"n":8,"stream":true}"#))
                let (gotFirst, firstSeen) = AsyncStream<Void>.makeStream()
                let doomed = Task {
                    let resp = try await client.execute(req, timeout: ServerTestTiming.request)
                    #expect(resp.version == .http2)
                    for try await _ in resp.body { firstSeen.yield() }
                }
                let sibling = Task { try await send(client, base + "/v1/completions",
                                                    #"{"prompt":[1],"max_tokens":64,"ignore_eos":true,"stream":true}"#) }
                var it = gotFirst.makeAsyncIterator()
                await it.next()
                doomed.cancel()   // AsyncHTTPClient resets the stream (RST_STREAM); the connection stays up
                _ = await doomed.result
                let other = try await sibling.value
                #expect(other.status == 200 && other.events.last == "[DONE]", "the other stream on the connection finished")
                let stats = try await live.waitUntilIdle(seconds: 30)
                #expect(stats.numRunning == 0 && stats.numWaiting == 0 && stats.kvUsage == 0)
                let metrics = try await send(client, base + "/metrics").body
                let full = metrics.split(separator: "\n").first { $0.hasPrefix("swiftlet:generation_tokens_total ") }
                let generated = Int(full?.split(separator: " ").last ?? "") ?? .max
                #expect(generated < 8 * (maxLen - 1) + 64, "generated \(generated)")
                #expect(try await connectionsAccepted(client, base) == before)
            }
        }
    }

    @Test func clientCertificatesWhenACAIsGiven() async throws {
        let serverTLS = try tls(clientCA: true)
        #expect(serverTLS.requiresClientCertificates)
        try await withLiveServer(configure: { $0.tls = serverTLS }) { live in
            let url = "https://localhost:\(live.port)/v1/models"
            let ok = try await withClient(clientCertificate: true) { try await send($0, url) }
            #expect(ok.status == 200)
            await #expect(throws: (any Error).self) {
                try await withClient(clientCertificate: false) { try await send($0, url) }
            }
        }
    }

    @Test func badCertificateFilesAreOneLineErrors() throws {
        let missing = #expect(throws: ServerSetupError.self) {
            try ServerTLS(certificateFile: "/nonexistent/cert.pem", keyFile: TestCerts.path("server.key"))
        }
        #expect(missing?.description == "--ssl-certfile /nonexistent/cert.pem: no such readable file")
        let notPEM = #expect(throws: ServerSetupError.self) {
            try ServerTLS(certificateFile: Paths.golden.path, keyFile: TestCerts.path("server.key"))
        }
        #expect(notPEM?.description.hasPrefix("--ssl-certfile \(Paths.golden.path): ") == true)
        let mismatch = #expect(throws: ServerSetupError.self) {
            try ServerTLS(certificateFile: TestCerts.path("server.pem"), keyFile: TestCerts.path("client.key"))
        }
        #expect(mismatch?.description.contains("--ssl-keyfile") == true)
        for e in [missing, notPEM, mismatch] { #expect(e?.description.contains("\n") == false) }
    }

    @Test func methodNotAllowedListsAllowAndOpenAPISecurityFollowsTheKey() async throws {
        try await withLiveServer { live in
            let r = try await live.request(.DELETE, "/v1/chat/completions")
            #expect(r.status == 405)
            #expect(r.headers["Allow"].first == "POST")
            let g = try await live.post("/health", "{}")
            #expect(g.status == 405 && g.headers["Allow"].first == "GET")
            let doc = try await live.get("/openapi.json").json()
            #expect(doc["security"] == nil)
            #expect((doc["components"] as? [String: Any])?["securitySchemes"] == nil)
        }
        try await withLiveServer(configure: { $0.apiKey = "k" }) { live in
            let open = try await live.get("/openapi.json")
            #expect(open.status == 200, "the API description needs no key")
            let doc = try open.json()
            #expect((doc["security"] as? [[String: Any]])?.first?["bearer"] != nil)
            let denied = try await live.get("/v1/models")
            #expect(denied.status == 401)
        }
    }
}

/// Sends `GET /health` on a fresh TCP connection, reads the response, then waits up to `within` seconds:
/// true if the server closed the connection, false if it was still open.
func serverClosesIdleConnection(port: Int, within seconds: Double) throws -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0, "connect: errno \(errno)")
    // The response may take a while on a loaded machine: a generous timeout for it, `seconds` only for the idle wait.
    var responseTimeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &responseTimeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    try #require(send(fd, request, request.count, 0) == request.count)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    // The response: head and its 2-byte body ("{}").
    while !(String(decoding: received, as: UTF8.self).hasSuffix("\r\n\r\n{}")) {
        let n = recv(fd, &buffer, buffer.count, 0)
        try #require(n > 0, "no complete response: \(String(decoding: received, as: UTF8.self))")
        received += buffer[..<n]
    }
    var timeout = timeval(tv_sec: .init(Int(seconds)), tv_usec: .init((seconds - Double(Int(seconds))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let start = ContinuousClock.now
    let n = recv(fd, &buffer, buffer.count, 0)
    if n == 0 { return true }
    try #require(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "unexpected bytes after the response")
    #expect(ContinuousClock.now - start >= .milliseconds(Int(seconds * 900)), "recv timed out early")
    return false
}
