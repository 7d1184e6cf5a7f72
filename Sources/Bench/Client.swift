public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
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

    public init(baseURL: String, model: String? = nil, endpoint: BenchEndpoint = .completions,
                requestTimeout: Double = 600, label: String? = nil, apiKey: String? = nil) {
        self.baseURL = baseURL; self.model = model; self.endpoint = endpoint
        self.requestTimeout = requestTimeout; self.label = label ?? baseURL; self.apiKey = apiKey
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

/// An `HTTPClient` set up for load tests: a connection per in-flight request (the pool must not cap concurrency;
/// servers that answer `Connection: close` get a fresh connection each time), and no silent connect retries so a
/// dead server fails requests at once.
public enum BenchHTTPClient {
    public static func make(maxConnections: Int = 4096, connectTimeout: Double = 10) -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        config.connectionPool.retryConnectionEstablishment = false
        config.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)))
        config.httpVersion = .http1Only
        config.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }
}

extension BenchHTTPClient {
    /// Shuts a client made by `make` down (for callers that do not import AsyncHTTPClient).
    public static func shutdown(_ client: HTTPClient) async throws {
        try await client.shutdown()
    }
}
