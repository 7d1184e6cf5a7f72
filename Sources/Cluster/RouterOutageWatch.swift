public import Logging
public import ServiceLifecycle
import Synchronization

/// The router's side of a queue outage (`swiftlet router --outage-limit`). While PostgreSQL cannot be reached the
/// router keeps its clients' streams open: the instances buffer and retry their appends, and once the queue answers
/// again the router's listener re-subscribes (`.resync`) and its sweep re-reads every in-flight request from the
/// stored tokens, so the streams catch up with no token lost or repeated. This watch bounds the wait: it probes the
/// queue every `probeEvery`; once it has been unreachable for longer than `limit`, every open stream ends with an
/// error event saying so (a request whose response has not started gets a non-2xx), and the router reports itself
/// not ready (new requests and /health get 503) until the queue answers again.
public final class RouterOutageWatch: Service {
    public let router: RouterEngineClient
    public let limit: Duration
    public let probeEvery: Duration
    let logger: Logger
    private let state = Mutex<(since: ContinuousClock.Instant?, lastError: String?, tripped: Bool)>((nil, nil, false))

    public init(router: RouterEngineClient, limit: Duration, probeEvery: Duration = .milliseconds(500),
                logger: Logger = Logger(label: "swiftlet.router")) {
        self.router = router; self.limit = limit; self.probeEvery = probeEvery; self.logger = logger
    }

    /// How long the queue has been unreachable (nil while it answers).
    public var outage: Duration? { state.withLock { s in s.since.map { ContinuousClock.now - $0 } } }
    /// Past the limit: streams were ended and new requests are refused.
    public var tripped: Bool { state.withLock { $0.tripped } }

    public func run() async throws {
        // Until graceful shutdown (in a service group) or cancellation.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.probe()
                try? await Task.sleep(for: self.probeEvery)
            }
        }
    }

    func probe() async {
        do {
            try await router.queue.ping()
            let was = state.withLock { s -> (Duration?, Bool) in
                defer { s = (nil, nil, false); router.outageTripped.withLock { $0 = false } }
                return (s.since.map { ContinuousClock.now - $0 }, s.tripped)
            }
            if let d = was.0 { logger.notice("request queue reachable again", metadata: ["after": "\(d)", "streams_ended": "\(was.1)"]) }
        } catch {
            if Task.isCancelled { return }
            let now = ContinuousClock.now
            let (first, trip, since) = state.withLock { s -> (Bool, Bool, ContinuousClock.Instant) in
                let first = s.since == nil
                if first { s.since = now }
                s.lastError = "\(error)"
                let trip = !s.tripped && now - s.since! > limit
                if trip { s.tripped = true; router.outageTripped.withLock { $0 = true } }
                return (first, trip, s.since!)
            }
            if first { logger.warning("request queue unreachable; keeping the streams open", metadata: ["error": "\(error)"]) }
            // Once tripped, streams that arrive meanwhile are refused at once (`isReady`); end any left over too.
            if trip || tripped { endStreams(since: since, error: "\(error)") }
        }
    }

    func endStreams(since: ContinuousClock.Instant, error: String) {
        let ids = router.flights.withLock { Array($0.keys) }
        guard !ids.isEmpty else { return }
        let seconds = Int((ContinuousClock.now - since).components.seconds)
        let why = "the request queue has been unreachable for \(seconds) s (limit \(limit)): \(error); the request ends here"
        logger.error("outage limit passed; ending the open streams", metadata: ["streams": "\(ids.count)"])
        for id in ids { router.end(id, error: why) }
    }
}
