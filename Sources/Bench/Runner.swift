public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// How requests arrive.
public struct LoadShape: Sendable, Equatable {
    /// Requests per second; `.infinity` sends all at once.
    public var requestRate: Double
    /// Gamma shape of the inter-arrival gaps (1 = Poisson; lower = burstier).
    public var burstiness: Double
    /// Most requests in flight at once; nil = unlimited.
    public var maxConcurrency: Int?
    public var seed: UInt64

    public init(requestRate: Double = .infinity, burstiness: Double = 1, maxConcurrency: Int? = nil, seed: UInt64 = 0) {
        self.requestRate = requestRate; self.burstiness = burstiness; self.maxConcurrency = maxConcurrency; self.seed = seed
    }

    public func validate() throws(BenchError) {
        guard requestRate > 0 else { throw BenchError("--request-rate must be positive (or inf)") }
        guard burstiness > 0, burstiness.isFinite else { throw BenchError("--burstiness must be a positive number") }
        if let c = maxConcurrency, c < 1 { throw BenchError("--max-concurrency must be at least 1") }
    }
}

/// Runs a list of requests against one server on a load shape and collects the outcomes.
public struct BenchmarkRunner: Sendable {
    public let target: BenchTarget
    public let client: HTTPClient

    public init(target: BenchTarget, client: HTTPClient) {
        self.target = target; self.client = client
    }

    /// Sends every request at its arrival time (waiting for a free slot under `maxConcurrency`), and returns when
    /// all have finished or failed. `progress(done, total)` is called after each request.
    public func run(_ requests: [BenchRequest], shape: LoadShape,
                    progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) async -> (outcomes: [RequestOutcome], duration: Double) {
        let offsets = ArrivalSchedule.offsets(count: requests.count, rate: shape.requestRate,
                                              burstiness: shape.burstiness, seed: shape.seed)  // [n] s
        let sender = RequestSender(target: target, client: client)
        let results = OutcomeStore(count: requests.count)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for (i, request) in requests.enumerated() {
                let due = start + .milliseconds(Int64(offsets[i] * 1000))
                if due > ContinuousClock.now { try? await Task.sleep(until: due) }
                if let limit = shape.maxConcurrency, inFlight >= limit {
                    await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                group.addTask {
                    let o = await sender.send(request, startTime: seconds(ContinuousClock.now - start))
                    let done = results.record(o, at: i)
                    progress?(done, requests.count)
                }
            }
            await group.waitForAll()
        }
        let duration = seconds(ContinuousClock.now - start)
        let outcomes = results.all()
        return (outcomes, duration)
    }

    /// The first model id the server lists at /v1/models (used when no model is given).
    public func servedModel() async throws -> String {
        var req = HTTPClientRequest(url: target.url("/v1/models"))
        if let key = target.apiKey { req.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let resp = try await client.execute(req, timeout: .seconds(30))
        let body = try await resp.body.collect(upTo: 1 << 20)
        let o = (try? JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8))) as? [String: Any]
        guard resp.status == .ok, let first = (o?["data"] as? [[String: Any]])?.first?["id"] as? String else {
            throw BenchError("\(target.url("/v1/models")): no model listed (HTTP \(resp.status.code)); pass --model")
        }
        return first
    }
}

/// Outcomes filled in by the request tasks as they finish.
final class OutcomeStore: Sendable {
    private let state: Mutex<(outcomes: [RequestOutcome?], done: Int)>

    init(count: Int) { state = Mutex(([RequestOutcome?](repeating: nil, count: count), 0)) }

    /// Stores one outcome; returns how many are done.
    func record(_ o: RequestOutcome, at i: Int) -> Int {
        state.withLock { s in
            s.outcomes[i] = o
            s.done += 1
            return s.done
        }
    }

    /// Every outcome (call after all tasks have finished).
    func all() -> [RequestOutcome] {
        state.withLock { $0.outcomes.map { $0! } }
    }
}
