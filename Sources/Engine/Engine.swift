public import CoreMetrics
import Foundation
import ModelFormats
public import Logging
public import Model
public import Scheduler
public import ServiceLifecycle
import Synchronization
public import Tokenizer

/// A model instance serving many requests: a thread-safe inbox in front, one engine thread running the step
/// loop behind, and an `AsyncStream` of outputs per request. Cancelling a stream's iteration aborts its request.
public final class Engine: TokenizerBacked, Service {
    public let modelInfo: ModelInfo
    public let tokenizer: Tokenizer
    public let config: EngineConfig
    public let modelConfig: ModelConfig
    public let schedulerConfig: SchedulerConfig
    public let chatTemplate: ChatTemplate?
    private let core: EngineCore
    private let logger: Logger
    private let shared = Mutex(Shared())
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    private struct Shared: ~Copyable {
        var inbox: [Message] = []
        var nextId: RequestID = 1
        var stats = EngineStats()
        var pendingAdds = 0
        var started = false
        var accepting = true
        var exit = false
    }

    private enum Message {
        case add(RequestID, EngineRequest, UInt64, AsyncStream<RequestOutput>.Continuation)
        case abort(RequestID)
    }

    /// Loads model and tokenizer and sizes the KV cache. `tokenizerPath` is for llama2.c checkpoints;
    /// GGUF files carry their own.
    public static func load(modelPath: String, tokenizerPath: String? = nil, config: EngineConfig = EngineConfig(),
                            metricsFactory: (any MetricsFactory)? = nil, logger: Logger = Logger(label: "swiftlet.engine"),
                            progress: LoadProgress? = nil) throws -> Engine {
        let model = try ModelLoader.load(path: modelPath, progress: progress)
        let tokenizer = try Self.loadTokenizer(modelPath: modelPath, tokenizerPath: tokenizerPath, vocab: model.config.vocabSize)
        let name = config.servedModelName ?? URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        return try Engine(model: model, tokenizer: tokenizer, name: name, config: config,
                          metricsFactory: metricsFactory ?? MetricsSystem.factory, logger: logger)
    }

    /// The tokenizer of a model: `tokenizerPath` (llama2.c), else the model's own (Hugging Face directory, GGUF), else
    /// a llama2.c tokenizer file beside the checkpoint.
    public static func loadTokenizer(modelPath: String, tokenizerPath: String?, vocab: Int) throws -> Tokenizer {
        if let tokenizerPath { return try Tokenizer(llama2cTokenizerPath: tokenizerPath, vocabSize: vocab) }
        // Hugging Face directories (safetensors): tokenizer.json and its side files.
        if let dir = Tokenizer.huggingFaceDirectory(forModelPath: modelPath) { return try Tokenizer(huggingFace: dir) }
        if modelPath.hasSuffix(".gguf") { return try Tokenizer(gguf: GGUFFile(path: modelPath)) }
        // llama2.c checkpoints: tokenizer.bin or tok<vocab>.bin beside the model.
        let dir = URL(fileURLWithPath: modelPath).deletingLastPathComponent()
        for name in ["tok\(vocab).bin", "tokenizer.bin"] {
            let p = dir.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: p) { return try Tokenizer(llama2cTokenizerPath: p, vocabSize: vocab) }
        }
        throw ModelError("\(modelPath): no tokenizer given and none found beside the model (tok\(vocab).bin or tokenizer.bin); pass --tokenizer")
    }

    public init(model: any CausalLM, tokenizer: Tokenizer, name: String, config: EngineConfig,
                metricsFactory: any MetricsFactory, logger: Logger) throws {
        let mc = model.config
        let maxLen = config.maxModelLen ?? min(mc.contextLength, 8192)
        let blocks = config.numBlocks
            ?? PagedKVStorage.blocks(config: mc, blockSize: config.blockSize, memoryBytes: config.kvCacheMemoryBytes)
        try model.allocateKVCache(blockSize: config.blockSize, numBlocks: blocks)
        model.precision = config.precision
        schedulerConfig = SchedulerConfig(maxNumBatchedTokens: config.maxNumBatchedTokens, maxNumSeqs: config.maxNumSeqs,
                                          policy: config.policy, blockSize: config.blockSize, numBlocks: blocks,
                                          enablePrefixCaching: config.enablePrefixCaching, maxModelLen: maxLen)
        self.config = config
        modelConfig = mc
        self.tokenizer = tokenizer
        self.logger = logger
        chatTemplate = try ChatTemplate.forModel(tokenizer, override: config.chatTemplate)
        modelInfo = ModelInfo(name: name, maxModelLen: maxLen, vocabSize: mc.vocabSize,
                              created: Int(Date().timeIntervalSince1970))
        core = EngineCore(model: model, tokenizer: tokenizer, scheduler: Scheduler(config: schedulerConfig),
                          metrics: EngineMetrics(factory: metricsFactory))
        shared.withLock { $0.stats = Self.stats(core.scheduler.stats, blockSize: config.blockSize) }
    }

    // MARK: EngineClient

    public var isReady: Bool { true }

    /// Submits a request; its outputs arrive on the returned stream, the last one with a finish reason.
    public func generate(_ request: EngineRequest) throws(EngineError) -> AsyncStream<RequestOutput> {
        try request.validate(for: modelInfo, kvCache: (schedulerConfig.numBlocks, schedulerConfig.blockSize))
        let (stream, continuation) = AsyncStream<RequestOutput>.makeStream(bufferingPolicy: .unbounded)
        let arrival = EngineCore.now()
        let id: RequestID = try shared.withLock { (s) throws(EngineError) -> RequestID in
            guard s.accepting, !s.exit else { throw EngineError.shutDown }
            guard s.stats.numWaiting + s.pendingAdds < config.maxQueuedRequests else {
                throw EngineError.queueFull(message: "the server has \(s.stats.numWaiting + s.pendingAdds) requests waiting (limit \(config.maxQueuedRequests)); retry later")
            }
            let id = s.nextId
            s.nextId += 1
            s.pendingAdds += 1
            s.inbox.append(.add(id, request, arrival, continuation))
            return id
        }
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.abort(id) }
        }
        wake.signal()
        return stream
    }

    public func stats() async -> EngineStats { currentStats }

    public var currentStats: EngineStats { shared.withLock { $0.stats } }

    /// Aborts a request from any thread; its blocks are freed at the next step boundary.
    public func abort(_ id: RequestID) {
        shared.withLock { $0.inbox.append(.abort(id)) }
        wake.signal()
    }

    // MARK: The step loop

    /// Starts the engine thread (idempotent).
    public func start() {
        let first = shared.withLock { s in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "swiftlet-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func loop() {
        var order: UInt64 = 0
        while true {
            let (messages, exit) = shared.withLock { s in
                defer { s.inbox.removeAll(keepingCapacity: true); s.pendingAdds = 0 }
                return (s.inbox, s.exit)
            }
            if exit { core.failAll("the engine stopped"); publish(); stopped.signal(); return }
            for m in messages {
                switch m {
                case .add(let id, let r, let arrival, let c):
                    order += 1
                    core.admit(id: id, r, arrival: arrival, order: order, continuation: c)
                case .abort(let id): core.abort(id)
                }
            }
            if !messages.isEmpty || core.hasWork { core.step() }
            publish()
            if !core.hasWork { wake.wait() }
        }
    }

    private func publish() {
        var s = Self.stats(core.scheduler.stats, blockSize: config.blockSize)
        s.promptTokensTotal = core.promptTokensTotal
        s.generationTokensTotal = core.generationTokensTotal
        s.stepSeconds = EngineCore.seconds(core.stepNanos)
        s.constraintSeconds = EngineCore.seconds(core.constraintNanos)
        shared.withLock { $0.stats = s }
    }

    static func stats(_ s: SchedulerStats, blockSize: Int) -> EngineStats {
        var e = EngineStats()
        e.numRunning = s.numRunning; e.numWaiting = s.numWaiting; e.kvUsage = s.kvUsage
        e.numFreeBlocks = s.numFreeBlocks; e.numTotalBlocks = s.numTotalBlocks; e.blockSize = blockSize
        e.prefixCacheQueries = s.prefixCacheQueries; e.prefixCacheHits = s.prefixCacheHits
        e.numPreemptions = s.numPreemptions
        return e
    }

    /// Stops the thread after aborting whatever is still running. Blocks until it has stopped.
    public func shutdown() {
        let running = shared.withLock { s in
            defer { s.exit = true; s.accepting = false }
            return s.started && !s.exit
        }
        guard running else { return }
        wake.signal()
        stopped.wait()
    }

    /// Refuses new requests from now on (graceful shutdown's first step).
    public func stopAccepting() { shared.withLock { $0.accepting = false } }

    // MARK: Service

    /// Runs the step loop until graceful shutdown, then aborts what is left and stops.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        shutdown()
    }

    deinit { shutdown() }
}

extension Tokenizer {
    /// The text one token stands for in API responses (logprobs' `token`): its bytes as UTF-8, or
    /// "bytes:\xNN" escapes when they are not valid UTF-8 on their own, as vLLM does.
    public func apiTokenText(_ id: Int32) -> String {
        let bytes = pieceBytes(id)
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return bytes.map { b in "bytes:\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}
