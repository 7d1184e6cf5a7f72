public import ServiceLifecycle
import Synchronization

/// An `EngineClient` that is listening before its model has loaded: not ready (HTTP 503) until `run()` has
/// loaded the engine, then everything goes to the real engine. Lets the server answer `/health` during the load.
public final class DeferredEngine: EngineClient, Service {
    private let engine = Mutex<Engine?>(nil)
    private let placeholder: ModelInfo
    private let loader: @Sendable () throws -> Engine

    public init(name: String, loader: @escaping @Sendable () throws -> Engine) {
        placeholder = ModelInfo(name: name, maxModelLen: 0, vocabSize: 0, created: 0)
        self.loader = loader
    }

    /// The loaded engine, once there is one.
    public var loaded: Engine? { engine.withLock { $0 } }

    public var modelInfo: ModelInfo { loaded?.modelInfo ?? placeholder }
    public var isReady: Bool { loaded != nil }

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        loaded?.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial) ?? []
    }

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String { loaded?.decode(ids, skipSpecial: skipSpecial) ?? "" }

    public func tokenText(_ id: Int32) -> String { loaded?.tokenText(id) ?? "" }

    public func renderChat(_ messages: [ChatMessageInput], addGenerationPrompt: Bool) throws -> String {
        guard let e = loaded else { throw EngineError.notReady }
        return try e.renderChat(messages, addGenerationPrompt: addGenerationPrompt)
    }

    public func generate(_ request: EngineRequest) throws(EngineError) -> AsyncStream<RequestOutput> {
        guard let e = loaded else { throw .notReady }
        return try e.generate(request)
    }

    public func stats() async -> EngineStats { loaded?.currentStats ?? EngineStats() }

    /// Loads the model off the cooperative pool, starts the step loop, serves until graceful shutdown.
    public func run() async throws {
        let loader = self.loader
        let e = try await Task.detached { try loader() }.value
        e.start()
        engine.withLock { $0 = e }
        try? await gracefulShutdown()
        e.stopAccepting()
        e.shutdown()
    }
}
