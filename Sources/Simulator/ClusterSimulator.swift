public import Bench
public import Cluster
import Foundation
import HeapModule
import KVBlocks
public import Scheduler

/// One simulated instance: an engine (its scheduler settings and step-time model) and the agent's capacity.
public struct SimInstanceSpec: Sendable {
    public var name: String
    public var scheduler: SchedulerConfig
    public var cost: StepCostModel
    /// Most requests the agent holds (the instance command's default: twice --max-num-seqs).
    public var capacity: Int

    public init(name: String, scheduler: SchedulerConfig, cost: StepCostModel, capacity: Int? = nil) {
        self.name = name; self.scheduler = scheduler; self.cost = cost
        self.capacity = capacity ?? 2 * scheduler.maxNumSeqs
    }

    /// An instance as profiled (its engine settings and cost model).
    public init(name: String, profile: EngineProfile, capacity: Int? = nil) {
        self.init(name: name, scheduler: profile.engine.schedulerConfig, cost: profile.cost, capacity: capacity)
    }
}

/// What lies between the client and the engines, in seconds.
public struct ClusterOverhead: Sendable, Equatable {
    /// Arrival → the instance's engine has the request (HTTP, tokenizing, enqueue, routing, claim).
    public var dispatch: Double
    /// A generated token → the client has it (append, notify, relay, SSE).
    public var relay: Double
    /// Added to every step per sampled token (output handling beside the model: detokenizing, streaming).
    public var perToken: Double
    /// Added to every step (the engine loop's own work and waits beside the model).
    public var perStep: Double = 0
    /// Instance heartbeat period (load reports the router plans on) and lease (a dead instance's work waits this
    /// long before another instance gets it).
    public var heartbeat: Double
    public var lease: Double
    /// The host the instances share with the control plane (off by default: instances have their cores to themselves
    /// and the control plane costs only the fixed delays above).
    public var host = HostCPU()
    /// The instances' group commit (off by default: each step's tokens go out as the step ends).
    public var flush = FlushModel()

    public init(dispatch: Double = 0, relay: Double = 0, perToken: Double = 0, perStep: Double = 0, heartbeat: Double = 0.5,
                lease: Double = 2.5, host: HostCPU = HostCPU()) {
        self.perStep = perStep
        self.dispatch = dispatch; self.relay = relay; self.perToken = perToken; self.heartbeat = heartbeat; self.lease = lease
        self.host = host
    }
}

/// The instance agent's group commit (`InstanceAgent`): one append to the queue at a time carries every token
/// generated since the previous one was sent, and the next is sent as soon as it lands. A step's tokens reach the
/// client when the append carrying them lands (plus `ClusterOverhead.relay`), so under load an append carries more
/// tokens and the control plane's fixed cost per append is shared by more of them: what per-token CPU alone misses
/// (measured on stories260K's cluster here: 5 tokens per append one request at a time, 45 at 64).
///   - An append takes `latency` plus, with the shared-host model on, the wait for its control-plane CPU
///     (`hostCPU` + `HostCPU.perToken` per token it carries) behind the backlog ahead of it;
///   - `instanceCPU` per append is taken from the instance's own core (encoding it, the client's I/O): it lengthens
///     the instance's next step.
/// Calibrate with the instance's `swiftlet:cluster_appends_total` and `swiftlet:cluster_append_seconds`
/// (`scripts/validate-simulator.sh`). Deterministic: arithmetic on the simulation's own events.
public struct FlushModel: Sendable, Equatable {
    /// An append's round trip on an idle host, seconds (0 with the rest 0: the model is off).
    public var latency: Double
    /// Control-plane core-seconds per append (PostgreSQL running it and notifying, the router reading and relaying).
    public var hostCPU: Double
    /// The instance's own core-seconds per append.
    public var instanceCPU: Double

    public init(latency: Double = 0, hostCPU: Double = 0, instanceCPU: Double = 0) {
        self.latency = latency; self.hostCPU = hostCPU; self.instanceCPU = instanceCPU
    }

    public var isOn: Bool { latency > 0 || hostCPU > 0 || instanceCPU > 0 }
}

/// Shared-host CPU: the instances and the cluster's control plane (router, PostgreSQL, and a load generator if it
/// runs there) on the same cores, as when a small cluster is deployed on one machine.
///
/// The model is a fluid processor-sharing one. Each instance with work keeps one core busy (its step loop runs
/// back to back). The control plane is one FIFO queue of CPU work: `perRequest` core-seconds when a request arrives
/// (HTTP, tokenizing, enqueue, claim, finish) and `perToken` per generated token (the append to the queue, the
/// notification, the relay, the client reading it). It is served first on idle cores (the cores no busy instance
/// occupies) and then takes up to `maxShare` of each busy instance's core: the Linux scheduler gives threads that
/// wake and sleep (the control plane) the CPU promptly, up to a fair share against a thread that never sleeps (the
/// step loop). So
///   - a step that starts at t lasts (modelled time) / (1 - f), where f is the share of a busy core the control
///     plane took over the last `window` seconds (its served CPU rate, exponentially averaged, less what the idle
///     cores absorbed, per busy instance);
///   - work the control plane cannot serve at once waits: a token (or a dispatch) is delayed by the backlog ahead of
///     it divided by the control plane's current capacity (idle cores + `maxShare` of each busy one).
/// With `cores == 0` the model is off. Deterministic: it is arithmetic on the simulation's own events.
public struct HostCPU: Sendable, Equatable {
    /// Cores the instances and the control plane share (0: no shared-host model).
    public var cores: Double
    /// Control-plane CPU seconds per request and per generated token.
    public var perRequest: Double
    public var perToken: Double
    /// The most of a busy instance's core the control plane takes (0.5: a fair share against the step loop).
    public var maxShare: Double
    /// Averaging time of the control plane's CPU rate, seconds.
    public var window: Double
    /// How much longer an instance's step takes per other instance stepping at the same time on this host, as a
    /// fraction of its profiled time (the instances share memory bandwidth and the last-level cache; their cores
    /// are their own). Measured as a profile taken beside a second engine stepping on another core, against one
    /// taken alone (scripts/validate-simulator.sh). Applies whether or not `cores` is set.
    public var coRun: Double
    /// The control plane's latency hops (`ClusterOverhead.dispatch`, `FlushModel.latency`) stretch by its
    /// utilization (`HostCPUState.hop`): measured on stories260K here, a first token's path grew ×11 from 10 to
    /// 40 req/s while no CPU queue built up. Needs `cores`.
    public var hopQueueing = false

    public init(cores: Double = 0, perRequest: Double = 0, perToken: Double = 0, maxShare: Double = 0.5, window: Double = 0.1,
                coRun: Double = 0, hopQueueing: Bool = false) {
        self.cores = cores; self.perRequest = perRequest; self.perToken = perToken; self.maxShare = maxShare; self.window = window
        self.coRun = coRun; self.hopQueueing = hopQueueing
    }

    public var isOn: Bool { cores > 0 && (perRequest > 0 || perToken > 0) }
}

/// The control plane's CPU queue of `HostCPU` (a fluid queue with a capacity that changes with the instances' load).
struct HostCPUState {
    let host: HostCPU
    /// Core-seconds of control-plane work not yet served.
    var backlog = 0.0
    /// Its served CPU rate (cores), exponentially averaged over `host.window`.
    var rate = 0.0
    /// What it could use (`capacity`), averaged the same way (nil until the first `advance`).
    var capacityAverage: Double?
    var at = 0.0
    /// Instances with work, as of the last `advance`.
    var busy = 0

    init(host: HostCPU) { self.host = host }

    /// Cores the busy instances occupy and the idle rest.
    func cores(busy n: Int) -> (occupied: Double, idle: Double) {
        let occupied = min(Double(n), host.cores)
        return (occupied, host.cores - occupied)
    }

    /// What the control plane can use now: the idle cores and its share of the busy ones.
    var capacity: Double {
        let c = cores(busy: busy)
        return c.idle + host.maxShare * c.occupied
    }

    /// Serves the backlog from `at` to `now` at the capacity of the load that held since (`busy` instances; the
    /// caller sets `busy` after every change of the instances' load).
    mutating func advance(to now: Double) {
        let dt = now - at
        if dt > 0 {
            let cap = capacity
            // The backlog drains at `cap` for tau seconds, then the control plane idles: the average rate decays.
            let tau = cap > 0 ? min(dt, backlog / cap) : 0
            let w = max(host.window, 1e-9)
            if tau > 0 {
                let k = exp(-tau / w)
                rate = rate * k + cap * (1 - k)
                backlog = max(0, backlog - cap * tau)
            }
            rate *= exp(-(dt - tau) / w)
            let k = exp(-dt / w)
            capacityAverage = (capacityAverage ?? cap) * k + cap * (1 - k)
            at = now
        }
    }

    /// Adds control-plane work; returns how long it waits until it is served (its own and the backlog ahead).
    mutating func add(_ seconds: Double) -> Double {
        backlog += seconds
        let cap = capacity
        return cap > 0 ? backlog / cap : 0
    }

    /// How much longer a latency hop of the control plane takes (the dispatch, an append's round trip): with
    /// `HostCPU.hopQueueing`, 1 / (1 − ρ), ρ the control plane's CPU rate over what it could use, both averaged
    /// over `host.window` (at most 0.95): the processes on the hop's path wait for a CPU behind the rest of the
    /// control plane (processor sharing). Averaged, not the capacity of the instant: a hop lasts milliseconds,
    /// over which the instances' steps come and go.
    var hop: Double {
        guard host.hopQueueing else { return 1 }
        let rho = min(0.95, rate / max(capacityAverage ?? capacity, 1e-9))
        return 1 / (1 - rho)
    }

    /// How much longer a step takes: 1 / (the share of its core a busy instance keeps).
    var stretch: Double {
        let n = max(busy, 1)
        let c = cores(busy: n)
        let stolen = min(host.maxShare * c.occupied, max(0, rate - c.idle))
        return Double(n) / max(c.occupied - stolen, 1e-9)
    }
}

/// Faults and operations during a run.
public struct SimScenario: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        /// The instance dies (kill -9): its requests go elsewhere once their leases expire.
        case fail(instance: Int, at: Double)
        /// The instance takes no more work and leaves once its requests are done.
        case drain(instance: Int, at: Double)
    }
    public var events: [Event]
    public init(_ events: [Event] = []) { self.events = events }

    /// "fail:1@30,drain:0@60" → events (instance index @ seconds).
    public init(parsing text: String) throws(SimulatorError) {
        var ev: [Event] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            let at = parts.count == 2 ? parts[1].split(separator: "@") : []
            guard parts.count == 2, at.count == 2, let i = Int(at[0]), i >= 0, let t = Double(at[1]), t >= 0 else {
                throw SimulatorError("--scenario: expected fail:INSTANCE@SECONDS or drain:INSTANCE@SECONDS, got '\(item)'")
            }
            switch parts[0] {
            case "fail": ev.append(.fail(instance: i, at: t))
            case "drain": ev.append(.drain(instance: i, at: t))
            default: throw SimulatorError("--scenario: unknown event '\(parts[0])' (fail or drain)")
            }
        }
        events = ev
    }
}

public struct SimulationConfig: Sendable {
    public var instances: [SimInstanceSpec]
    public var policy: RoutingPolicyKind
    public var overhead: ClusterOverhead
    public var scenario: SimScenario
    public var seed: UInt64
    /// Assignments after which a request whose instance died fails (ClusterTiming.maxAttempts).
    public var maxAttempts: Int
    /// Most requests in flight from the client (bench's --max-concurrency): a request due while the limit is
    /// reached is sent when one finishes, and its latencies count from then, as the load tester counts them.
    public var maxConcurrency: Int?
    /// The router's admission limit (`swiftlet router --max-queued-requests`): a request arriving while this many
    /// are waiting for their first token is answered 429 at once and counts as failed. nil: no limit.
    public var maxQueuedRequests: Int?

    public init(instances: [SimInstanceSpec], policy: RoutingPolicyKind, overhead: ClusterOverhead = ClusterOverhead(),
                scenario: SimScenario = SimScenario(), seed: UInt64 = 0x5eed, maxAttempts: Int = 3) {
        self.instances = instances; self.policy = policy; self.overhead = overhead; self.scenario = scenario
        self.seed = seed; self.maxAttempts = maxAttempts
    }

    public init(instances: [SimInstanceSpec], policy: RoutingPolicyKind, overhead: ClusterOverhead = ClusterOverhead(),
                scenario: SimScenario = SimScenario(), seed: UInt64 = 0x5eed, maxAttempts: Int = 3, maxConcurrency: Int?) {
        self.init(instances: instances, policy: policy, overhead: overhead, scenario: scenario, seed: seed, maxAttempts: maxAttempts)
        self.maxConcurrency = maxConcurrency
    }
}

/// Per instance: what it did.
public struct SimInstanceSummary: Sendable, Equatable {
    public var name: String
    public var served: Int
    public var steps: Int
    public var busySeconds: Double
    public var preemptions: Int
    public var prefixCacheHits: Int
    public var prefixCacheQueries: Int
    /// Appends to the queue (with `ClusterOverhead.flush` on; else 0).
    public var appends: Int = 0
}

/// The message of a request the router's admission limit turned away (`SimulationConfig.maxQueuedRequests`), as
/// `swiftlet bench serve` records a 429.
public let simulatedRateLimitError = "HTTP 429: too many requests are waiting for their first token"

public struct SimulationResult: Sendable, Equatable {
    /// In trace order, as `swiftlet bench serve` reports them.
    public var outcomes: [RequestOutcome]
    /// First arrival to last token, simulated seconds.
    public var duration: Double
    public var instances: [SimInstanceSummary]
    /// Every step's shape in order, per instance (for tests comparing with the real engine); empty unless asked.
    public var stepLog: [[StepShape]]
    public var events: Int
}

/// Discrete-event simulation of a cluster: each instance runs the real `Scheduler` (and so the real KV block
/// manager with prefix caching and preemption) with a modelled step time instead of a model; the real
/// `GlobalPlanner` routes, on instance load reports that are as stale as heartbeats make them.
public struct ClusterSimulator {
    public let config: SimulationConfig
    public init(config: SimulationConfig) { self.config = config }

    struct Event: Comparable {
        var time: Double
        var seq: Int
        var kind: Kind
        enum Kind {
            case arrival(Int)
            case admit(instance: Int, request: Int, epoch: Int)
            case stepDone(instance: Int, epoch: Int)
            case heartbeat(instance: Int)
            case fail(instance: Int)
            case drain(instance: Int)
            case requeue([Int])
            /// Start a step if idle: queued behind the admissions of the same instant, so that they all join the
            /// first step as the engine's inbox does.
            case kick(instance: Int)
            /// The instance's append in flight landed (FlushModel).
            case flushDone(instance: Int, epoch: Int)
            /// The request's first token reached the client: it no longer counts against the admission limit.
            case firstToken(Int)
        }
        static func < (a: Event, b: Event) -> Bool { (a.time, a.seq) < (b.time, b.seq) }
        static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.seq == b.seq }
    }

    struct Req {
        var arrival: Double
        let prompt: [Int32]
        let output: Int
        let prefixHash: Int64
        var delivered = 0
        var tokenTimes: [Double] = []
        var attempts = 0
        var instance = -1
        var assignedAt = 0.0
        var admitted = false
        var produced = false
        var doneAt: Double?
        var failed: String?
        /// Counted against the admission limit (arrived, admitted, no first token yet).
        var waiting = false
    }

    struct Inst {
        let spec: SimInstanceSpec
        var scheduler: Scheduler
        var alive = true
        var draining = false
        /// Bumped on failure: events of the dead incarnation are ignored.
        var epoch = 0
        var plan: SchedulerOutput?
        var held: Set<Int> = []
        var report = InstanceLoad()
        var reportedAt = -1.0
        var served = 0, steps = 0
        var busy = 0.0
        var log: [StepShape] = []
        /// FlushModel: tokens generated since the append in flight was sent (request, tokens, finished), the append
        /// in flight, and instance CPU owed to the next step.
        var buffer: [(request: Int, tokens: Int, finished: Bool)] = []
        var inFlight: [(request: Int, tokens: Int, finished: Bool)]?
        var owed = 0.0
        var appends = 0
    }

    /// Runs the trace to its end (every request finished or failed).
    public func run(_ trace: [TraceRequest], recordSteps: Bool = false) -> SimulationResult {
        precondition(!config.instances.isEmpty, "a simulation needs at least one instance")
        let o = config.overhead
        let planner = GlobalPlanner(policy: config.policy, seed: config.seed)
        var reqs = trace.enumerated().map { i, t in
            let p = t.promptIds(index: i)
            return Req(arrival: t.arrival, prompt: p, output: t.outputTokens, prefixHash: Traces.prefixHash(p))
        }
        var insts = config.instances.map { Inst(spec: $0, scheduler: Scheduler(config: $0.scheduler)) }
        var heap = Heap<Event>()
        var seq = 0
        func push(_ t: Double, _ k: Event.Kind) { heap.insert(Event(time: t, seq: seq, kind: k)); seq += 1 }
        // Faults and operations first: at the same instant they apply before arrivals and reports.
        for e in config.scenario.events {
            switch e {
            case .fail(let k, let t) where k < insts.count: push(t, .fail(instance: k))
            case .drain(let k, let t) where k < insts.count: push(t, .drain(instance: k))
            default: break
            }
        }
        for i in reqs.indices { push(reqs[i].arrival, .arrival(i)) }
        for k in insts.indices { push(0, .heartbeat(instance: k)) }
        var queue: [Int] = []          // waiting for an instance, in (attempt-independent) arrival order
        var idOf: [RequestID: Int] = [:]
        var nextID: RequestID = 1
        var order: UInt64 = 0
        var remaining = reqs.count
        var inFlight = 0
        var deferred: [Int] = []
        /// Requests waiting for their first token (the router's admission count).
        var waiting = 0
        func release(_ i: Int) {
            if reqs[i].waiting { reqs[i].waiting = false; waiting -= 1 }
        }
        /// Records a token reaching the client at `t`; the first one releases the request's admission ticket then.
        func deliver(_ i: Int, _ n: Int, at t: Double) {
            if reqs[i].tokenTimes.isEmpty, n > 0, reqs[i].waiting { push(t, .firstToken(i)) }
            for _ in 0..<n { reqs[i].tokenTimes.append(t) }
        }
        func ended(_ i: Int, at t: Double) {
            if reqs[i].tokenTimes.isEmpty { release(i) }   // failed before its first token
            remaining -= 1
            inFlight -= 1
            if !deferred.isEmpty { push(max(t, reqs[deferred[0]].arrival), .arrival(deferred.removeFirst())) }
        }
        var events = 0
        var lastTime = 0.0
        var cpu: HostCPUState? = o.host.isOn ? HostCPUState(host: o.host) : nil
        /// How long control-plane work added now waits for the CPU (0 without the shared-host model).
        func hostDelay(_ work: Double) -> Double { cpu == nil ? 0 : cpu!.add(work) }
        func busyInstances() -> Int {
            insts.reduce(0) { $0 + ($1.alive && ($1.plan != nil || $1.scheduler.hasWork) ? 1 : 0) }
        }

        func load(_ k: Int) -> InstanceLoad {
            let s = insts[k].scheduler.stats
            var l = InstanceLoad()
            l.numRunning = s.numRunning; l.numWaiting = s.numWaiting
            l.numFreeBlocks = s.numFreeBlocks; l.numTotalBlocks = s.numTotalBlocks
            l.blockSize = insts[k].spec.scheduler.blockSize
            let bs = max(1, l.blockSize)
            l.active = insts[k].held.count
            l.waitingBlocksNeeded = insts[k].held.reduce(0) { acc, i in
                reqs[i].produced ? acc : acc + (reqs[i].prompt.count + reqs[i].delivered + bs) / bs
            }
            l.capacity = insts[k].draining ? 0 : insts[k].spec.capacity
            l.maxModelLen = insts[k].spec.scheduler.maxModelLen
            return l
        }

        func pool(_ now: Double) -> [InstanceRecord] {
            insts.indices.compactMap { k -> InstanceRecord? in
                let x = insts[k]
                guard x.alive, x.reportedAt >= 0 else { return nil }
                let bs = max(1, x.report.blockSize)
                var pending = 0, blocks = 0
                for i in x.held where !reqs[i].admitted || reqs[i].assignedAt > x.reportedAt {
                    pending += 1
                    blocks += (reqs[i].prompt.count + reqs[i].delivered + bs) / bs
                }
                return InstanceRecord(name: x.spec.name, address: "", load: x.report, heartbeatAge: now - x.reportedAt,
                                      draining: x.draining, pendingRequests: pending, pendingBlocks: blocks,
                                      assigned: x.held.count)
            }
        }

        func route(_ now: Double) {
            guard !queue.isEmpty else { return }
            var p = pool(now)
            guard !p.isEmpty else { return }
            let pending = queue.map { i in
                PendingRequest(id: Int64(i), priority: 0, contextLength: reqs[i].prompt.count + reqs[i].delivered,
                               prefixHash: reqs[i].prefixHash, attempts: reqs[i].attempts)
            }
            let placed = planner.plan(pending, &p)
            guard !placed.isEmpty else { return }
            let byName = Dictionary(uniqueKeysWithValues: insts.indices.map { (insts[$0].spec.name, $0) })
            for a in placed {
                let i = Int(a.requestId), k = byName[a.instance]!
                reqs[i].instance = k; reqs[i].assignedAt = now; reqs[i].admitted = false; reqs[i].attempts += 1
                insts[k].held.insert(i)
                push(now + o.dispatch * (cpu?.hop ?? 1) + hostDelay(0), .admit(instance: k, request: i, epoch: insts[k].epoch))
            }
            queue.removeFirst(placed.count)
        }

        func startStep(_ k: Int, _ now: Double) {
            guard insts[k].alive, insts[k].plan == nil, insts[k].scheduler.hasWork else { return }
            let plan = insts[k].scheduler.schedule()
            guard !plan.scheduled.isEmpty else { return }
            let shape = StepShape(plan)
            if recordSteps { insts[k].log.append(shape) }
            var model = insts[k].spec.cost.seconds(shape)
            if o.host.coRun > 0 { model *= 1 + o.host.coRun * Double(max(0, busyInstances() - 1)) }
            var d = model + o.perStep + o.perToken * Double(shape.sampled) + insts[k].owed
            insts[k].owed = 0
            if cpu != nil {
                cpu!.busy = busyInstances()   // this instance included: it has work
                d *= cpu!.stretch
            }
            insts[k].plan = plan
            insts[k].busy += d
            insts[k].steps += 1
            push(now + d, .stepDone(instance: k, epoch: insts[k].epoch))
        }

        /// Sends the instance's buffered tokens as one append (FlushModel), if none is in flight.
        func startFlush(_ k: Int, _ now: Double) {
            guard insts[k].inFlight == nil, !insts[k].buffer.isEmpty else { return }
            let batch = insts[k].buffer
            insts[k].buffer = []
            insts[k].inFlight = batch
            insts[k].appends += 1
            insts[k].owed += o.flush.instanceCPU
            let tokens = batch.reduce(0) { $0 + $1.tokens }
            let wait = hostDelay(o.flush.hostCPU + o.host.perToken * Double(tokens))
            push(now + o.flush.latency * (cpu?.hop ?? 1) + wait, .flushDone(instance: k, epoch: insts[k].epoch))
        }

        /// The append in flight landed: its tokens (and ends) reach the client; the next append goes out.
        func finishFlush(_ k: Int, _ now: Double) {
            guard let batch = insts[k].inFlight else { return }
            insts[k].inFlight = nil
            var anyFinished = false
            for (i, n, finished) in batch {
                let at = max(now + o.relay, reqs[i].tokenTimes.last ?? 0)
                deliver(i, n, at: at)
                if finished {
                    insts[k].held.remove(i)
                    insts[k].served += 1
                    reqs[i].doneAt = at
                    ended(i, at: at)
                    anyFinished = true
                }
            }
            startFlush(k, now)
            if anyFinished { route(now) }
        }

        func finishStep(_ k: Int, _ now: Double) {
            guard let plan = insts[k].plan else { return }
            insts[k].plan = nil
            if o.flush.isOn { finishStepFlushed(k, now, plan); return }
            var sampled: [RequestID: Int32] = [:]
            // The step's tokens reach the client once the control plane has handled them (and the backlog ahead).
            let wait = hostDelay(o.host.perToken * Double(plan.scheduled.filter(\.sampleAfter).count))
            for s in plan.scheduled where s.sampleAfter {
                let i = idOf[s.requestId]!
                sampled[s.requestId] = Self.token(request: i, position: reqs[i].delivered)
                reqs[i].delivered += 1
                reqs[i].produced = true
                deliver(i, 1, at: max(now + o.relay + wait, reqs[i].tokenTimes.last ?? 0))
            }
            let finished = insts[k].scheduler.update(after: plan, sampled: sampled)
            for f in finished {
                let i = idOf.removeValue(forKey: f.id)!
                insts[k].held.remove(i)
                insts[k].served += 1
                let done = cpu == nil ? now + o.relay : max(now + o.relay + wait, reqs[i].tokenTimes.last ?? 0)
                reqs[i].doneAt = done
                ended(i, at: done)
            }
            startStep(k, now)
            if !finished.isEmpty { route(now) }
        }

        /// `finishStep` with the group commit: the step's tokens join the instance's buffer; the engine frees a
        /// finished request's sequence now, the agent its place once the append carrying its end has landed.
        func finishStepFlushed(_ k: Int, _ now: Double, _ plan: SchedulerOutput) {
            var sampled: [RequestID: Int32] = [:]
            var index: [Int: Int] = [:]
            for s in plan.scheduled where s.sampleAfter {
                let i = idOf[s.requestId]!
                sampled[s.requestId] = Self.token(request: i, position: reqs[i].delivered)
                reqs[i].delivered += 1
                reqs[i].produced = true
                index[i] = insts[k].buffer.count
                insts[k].buffer.append((i, 1, false))
            }
            let finished = insts[k].scheduler.update(after: plan, sampled: sampled)
            for f in finished {
                let i = idOf.removeValue(forKey: f.id)!
                if let j = index[i] { insts[k].buffer[j].finished = true } else { insts[k].buffer.append((i, 0, true)) }
            }
            startStep(k, now)
            startFlush(k, now)
        }

        while let e = heap.popMin() {
            events += 1
            let now = e.time
            lastTime = max(lastTime, now)
            if cpu != nil { cpu!.advance(to: now) }
            switch e.kind {
            case .arrival(let i):
                if let limit = config.maxConcurrency, inFlight >= limit { deferred.append(i); break }
                reqs[i].arrival = now
                inFlight += 1
                if let limit = config.maxQueuedRequests, waiting >= limit {
                    reqs[i].failed = simulatedRateLimitError
                    reqs[i].doneAt = now
                    ended(i, at: now)
                    break
                }
                reqs[i].waiting = true
                waiting += 1
                _ = hostDelay(o.host.perRequest)
                queue.append(i)
                route(now)
            case .admit(let k, let i, let epoch):
                guard insts[k].alive, insts[k].epoch == epoch, reqs[i].instance == k, reqs[i].doneAt == nil else { break }
                let id = nextID
                nextID += 1
                order += 1
                idOf[id] = i
                reqs[i].admitted = true
                reqs[i].assignedAt = now
                let left = reqs[i].output - reqs[i].delivered
                do {
                    try insts[k].scheduler.add(SchedulerRequest(id: id, promptTokenIds: reqs[i].prompt + (0..<reqs[i].delivered).map { Self.token(request: i, position: $0) },
                                                                maxTokens: left, arrival: order))
                } catch {
                    idOf[id] = nil
                    insts[k].held.remove(i)
                    reqs[i].failed = "\(error)"
                    reqs[i].doneAt = now
                    ended(i, at: now)
                    break
                }
                push(now, .kick(instance: k))
            case .kick(let k):
                startStep(k, now)
            case .firstToken(let i):
                release(i)
            case .flushDone(let k, let epoch):
                guard insts[k].epoch == epoch, insts[k].alive else { break }
                finishFlush(k, now)
            case .stepDone(let k, let epoch):
                guard insts[k].epoch == epoch, insts[k].alive else { break }
                finishStep(k, now)
            case .heartbeat(let k):
                guard insts[k].alive else { break }
                insts[k].report = load(k)
                insts[k].reportedAt = now
                if remaining > 0 { push(now + o.heartbeat, .heartbeat(instance: k)) }
                route(now)
            case .fail(let k):
                guard insts[k].alive else { break }
                insts[k].alive = false
                insts[k].epoch += 1
                insts[k].plan = nil
                let lost = insts[k].held.sorted()
                insts[k].held = []
                // Tokens not yet appended die with it: the request resumes from what the queue holds.
                if o.flush.isOn { for i in lost { reqs[i].delivered = reqs[i].tokenTimes.count } }
                insts[k].buffer = []; insts[k].inFlight = nil; insts[k].owed = 0
                insts[k].scheduler = Scheduler(config: insts[k].spec.scheduler)
                for (id, i) in idOf where lost.contains(i) { idOf[id] = nil }
                if !lost.isEmpty { push(now + o.lease, .requeue(lost)) }
            case .drain(let k):
                insts[k].draining = true
            case .requeue(let lost):
                for i in lost {
                    if reqs[i].attempts >= config.maxAttempts {
                        reqs[i].failed = "its instance died \(reqs[i].attempts) times"
                        reqs[i].doneAt = now
                        ended(i, at: now)
                    } else {
                        reqs[i].instance = -1
                        let at = queue.firstIndex { $0 > i } ?? queue.count
                        queue.insert(i, at: at)
                    }
                }
                route(now)
            }
            if cpu != nil { cpu!.busy = busyInstances() }   // the load until the next event
            if remaining == 0 { break }
        }

        let first = reqs.map(\.arrival).min() ?? 0
        let outcomes = reqs.map { r -> RequestOutcome in
            let ok = r.failed == nil && r.doneAt != nil && r.delivered == r.output
            let ttft = r.tokenTimes.first.map { $0 - r.arrival } ?? 0
            let itl = zip(r.tokenTimes.dropFirst(), r.tokenTimes).map { $0 - $1 }
            let end = r.doneAt ?? lastTime
            return RequestOutcome(success: ok, promptLength: r.prompt.count, outputTokens: r.delivered, ttft: ttft,
                                  itl: itl, latency: end - r.arrival, startTime: r.arrival - first,
                                  error: ok ? "" : (r.failed ?? "not finished when the simulation ended"))
        }
        let end = reqs.compactMap(\.doneAt).max() ?? lastTime
        let summaries = insts.map { x in
            let s = x.scheduler.stats
            return SimInstanceSummary(name: x.spec.name, served: x.served, steps: x.steps, busySeconds: x.busy,
                                      preemptions: s.numPreemptions, prefixCacheHits: s.prefixCacheHits,
                                      prefixCacheQueries: s.prefixCacheQueries, appends: x.appends)
        }
        return SimulationResult(outcomes: outcomes, duration: end - first, instances: summaries,
                                stepLog: recordSteps ? insts.map(\.log) : [], events: events)
    }

    /// The simulated output token at `position` of request `request` (what a resumed request carries in its prompt).
    static func token(request: Int, position: Int) -> Int32 { Int32(1 + (position * 7919 + request) % 31999) }
}
