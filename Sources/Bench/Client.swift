public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import OpenAIAPI

/// Which OpenAI route requests go to.
public enum BenchEndpoint: String, Sendable, Codable, CaseIterable {
    case completions, chat

    public var path: String { self == .completions ? "/v1/completions" : "/v1/chat/completions" }
    /// vLLM's backend names, for `backend` in the result file.
    public var backendName: String { self == .completions ? "openai" : "openai-chat" }
}

/// One server under test.
public struct BenchTarget: Sendable {
    /// e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted).
    public var baseURL: String
    public var model: String?
    public var endpoint: BenchEndpoint
    /// Seconds one request may take from sending to the end of its stream.
    public var requestTimeout: Double
    /// Name of this server in reports and charts.
    public var label: String
    public var apiKey: String?
    /// false: each request asks the server to close its connection afterwards (`Connection: close`).
    public var keepAlive: Bool
    /// The client speaks h2 (negotiated by ALPN); connection reuse is then the protocol's.
    public var http2: Bool
    /// PEM CA certificates for https:// (the keep-alive check's own connection needs them too).
    public var caCertificates: String?
    /// Before a keep-alive run, check that the server keeps a connection open after a streamed response
    /// (`KeepAliveCheck`); if it does not, send each request on a new connection.
    public var checkKeepAlive: Bool

    public init(baseURL: String, model: String? = nil, endpoint: BenchEndpoint = .completions,
                requestTimeout: Double = 600, label: String? = nil, apiKey: String? = nil, keepAlive: Bool = true,
                http2: Bool = false, caCertificates: String? = nil, checkKeepAlive: Bool = true) {
        self.baseURL = baseURL; self.model = model; self.endpoint = endpoint
        self.requestTimeout = requestTimeout; self.label = label ?? baseURL; self.apiKey = apiKey
        self.keepAlive = keepAlive; self.http2 = http2; self.caCertificates = caCertificates
        self.checkKeepAlive = checkKeepAlive
    }

    func url(_ path: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        return base + path
    }
}

/// What happened to one request; times in seconds.
public struct RequestOutcome: Sendable, Equatable {
    public var success: Bool
    public var promptLength: Int
    /// Generated tokens: the server's `usage.completion_tokens`, else the number of token-carrying chunks.
    public var outputTokens: Int
    /// Time to the first token-carrying chunk; 0 if none arrived.
    public var ttft: Double
    /// Gaps between consecutive token-carrying chunks.
    public var itl: [Double]
    /// Send → end of stream.
    public var latency: Double
    /// When the request was sent, from the start of the run.
    public var startTime: Double
    /// Empty on success.
    public var error: String

    public init(success: Bool, promptLength: Int, outputTokens: Int, ttft: Double, itl: [Double], latency: Double,
                startTime: Double = 0, error: String = "") {
        self.success = success; self.promptLength = promptLength; self.outputTokens = outputTokens
        self.ttft = ttft; self.itl = itl; self.latency = latency; self.startTime = startTime; self.error = error
    }
}

/// How the load tester talks to the server.
public struct BenchTransport: Sendable, Equatable {
    /// Negotiate h2 by ALPN (https:// only; AsyncHTTPClient has no cleartext h2c).
    public var http2: Bool
    /// Reuse connections between requests (HTTP/1.1 keep-alive). Off: every request asks `Connection: close`.
    public var keepAlive: Bool
    /// PEM CA certificates to trust for https:// (e.g. a test CA); nil = the system's.
    public var caCertificates: String?

    public init(http2: Bool = false, keepAlive: Bool = true, caCertificates: String? = nil) {
        self.http2 = http2; self.keepAlive = keepAlive; self.caCertificates = caCertificates
    }

    public func validate(baseURL: String) throws(BenchError) {
        if http2, !baseURL.lowercased().hasPrefix("https://") {
            throw BenchError("--http2 needs an https:// --base-url (h2 is negotiated by ALPN; cleartext h2c is not supported)")
        }
        if let ca = caCertificates {
            let certs = try? NIOSSLCertificate.fromPEMFile(ca)
            guard let certs, !certs.isEmpty else { throw BenchError("--ssl-ca-certs \(ca): no PEM certificate in the file") }
        }
    }
}

/// An `HTTPClient` set up for load tests: a connection per in-flight request (the pool must not cap concurrency),
/// idle pooled connections dropped after 4 s (below the 5 s keep-alive timeout common servers use, so that a
/// request is not sent on a connection the server is closing), and no silent connect retries so a dead server
/// fails requests at once.
public enum BenchHTTPClient {
    /// Seconds an idle pooled connection is kept for reuse.
    public static let poolIdleSeconds: Int64 = 4

    public static func make(maxConnections: Int = 4096, connectTimeout: Double = 10,
                            transport: BenchTransport = BenchTransport()) -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(poolIdleSeconds),
                                      concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        config.connectionPool.retryConnectionEstablishment = false
        config.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)))
        config.httpVersion = transport.http2 ? .automatic : .http1Only
        config.decompression = .disabled
        if let ca = transport.caCertificates {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(ca)   // checked by BenchTransport.validate
            config.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }
}

extension BenchHTTPClient {
    /// Shuts a client made by `make` down (for callers that do not import AsyncHTTPClient).
    public static func shutdown(_ client: HTTPClient) async throws {
        try await client.shutdown()
    }
}
