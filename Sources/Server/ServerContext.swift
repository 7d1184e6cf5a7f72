public import Hummingbird
import NIOCore
import Synchronization

/// What the access log needs from a handler that runs after the middleware returned (streaming).
final class RequestLog: Sendable {
    private let state = Mutex<(prompt: Int, completion: Int, status: Int?)>((0, 0, nil))

    func setTokens(prompt: Int, completion: Int) {
        state.withLock { $0.prompt = prompt; $0.completion = completion }
    }

    /// A status decided after the headers were sent (e.g. 499 when the client went away mid-stream).
    func setStatus(_ status: Int) { state.withLock { $0.status = status } }

    var snapshot: (prompt: Int, completion: Int, status: Int?) { state.withLock { $0 } }
}

/// The server's one request context: Hummingbird's core storage plus the request id and log box.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// From `X-Request-Id`, or generated.
    public var requestID: String = ""
    let log = RequestLog()
    /// The connection (HTTP/1) or stream (HTTP/2) the request came on.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Tells when the client goes away (nil when the transport has no watch, e.g. in-process tests).
    func disconnectWatch() async -> ConnectionWatch? { await channel.disconnectWatch() }

    /// The router does its own size check so that 413 has an OpenAI-shaped body.
    public var maxUploadSize: Int { .max }
}
