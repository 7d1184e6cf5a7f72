/// Everything the HTTP server needs to know; the CLI fills it from flags.
public struct ServerConfig: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 = an ephemeral port (tests).
    public var port: Int = 8000
    /// The name clients must send as `model` (omitted `model` is accepted too).
    public var servedModelName: String
    /// When set, every route except /health and /metrics needs `Authorization: Bearer <apiKey>`.
    public var apiKey: String? = nil
    /// Requests waiting for their first token, above which new ones get 429.
    public var maxQueuedRequests: Int = 256
    /// Bytes; larger bodies get 413.
    public var maxBodySize: Int = 4 << 20
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT before they are aborted.
    public var shutdownTimeout: Double = 30
    /// Reported as `system_fingerprint`.
    public var systemFingerprint: String? = "fp_swiftlet"
    /// Seconds sent in `Retry-After` with 429.
    public var retryAfterSeconds: Int = 1
    /// Seconds a connection may sit idle (no request in progress) before the server closes it; nil or 0 = never.
    public var idleTimeout: Double? = 60
    /// TLS (`--ssl-certfile`, `--ssl-keyfile`, `--ssl-ca-certs`); nil = cleartext.
    public var tls: ServerTLS? = nil
    /// HTTP/1.1 only, or HTTP/2 too (over TLS via ALPN; without TLS as h2c with prior knowledge).
    public var httpVersion: HTTPVersionMode = .http1

    public init(servedModelName: String, host: String = "127.0.0.1", port: Int = 8000) {
        self.servedModelName = servedModelName; self.host = host; self.port = port
    }
}
