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

    public init(servedModelName: String, host: String = "127.0.0.1", port: Int = 8000) {
        self.servedModelName = servedModelName; self.host = host; self.port = port
    }
}
