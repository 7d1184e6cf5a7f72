public import Engine
import Foundation
public import Hummingbird
public import Logging
import NIOCore
import OpenAIAPI

/// Builds the HTTP application. Add it to a `ServiceGroup` next to the engine service, or use `SwiftletServer.run`.
/// `onServerRunning` receives the bound port (useful with `port: 0`).
public func buildApplication(engine: some EngineClient, config: ServerConfig, logger: Logger,
                             metrics: ServerMetrics = ServerMetrics(),
                             onServerRunning: (@Sendable (_ port: Int) async -> Void)? = nil) -> some ApplicationProtocol {
    let router = buildRouter(engine: engine, config: config, logger: logger, metrics: metrics)
    return Application(router: router,
                       server: httpServerBuilder(config: config, metrics: metrics),
                       configuration: .init(address: .hostname(config.host, port: config.port), serverName: "swiftlet"),
                       onServerRunning: { channel in
                           let port = channel.localAddress?.port ?? config.port
                           logger.info("swiftlet listening", metadata: ["host": "\(config.host)", "port": "\(port)",
                                                                        "protocol": "\(config.transportDescription)"])
                           await onServerRunning?(port)
                       },
                       logger: logger)
}

/// The router alone (middleware first, then every route).
public func buildRouter(engine: some EngineClient, config: ServerConfig, logger: Logger,
                        metrics: ServerMetrics = ServerMetrics()) -> Router<ServerRequestContext> {
    let router = Router(context: ServerRequestContext.self)
    router.add(middleware: APIMiddleware(apiKey: config.apiKey, retryAfter: config.retryAfterSeconds,
                                         routes: RouteTable(maxBodySize: config.maxBodySize), logger: logger))
    let gen = GenerationHandlers(engine: engine, config: config, metrics: metrics,
                                 admission: Admission(limit: config.maxQueuedRequests))
    router.post("/v1/completions") { request, context in try await gen.completions(request, context) }
    router.post("/v1/chat/completions") { request, context in try await gen.chat(request, context) }
    let info = InfoHandlers(engine: engine, config: config, metrics: metrics, gen: gen)
    router.get("/v1/models") { _, _ in info.models() }
    // `**` so that ids with a slash ("org/model") resolve too.
    router.get("/v1/models/**") { _, context in try info.model(context.parameters.getCatchAll().joined(separator: "/")) }
    router.post("/tokenize") { request, _ in try await info.tokenize(request) }
    router.post("/detokenize") { request, _ in try await info.detokenize(request) }
    router.get("/health") { _, _ in info.health() }
    router.get("/metrics") { _, _ in await info.metricsText() }
    router.get("/openapi.json") { _, _ in info.openAPI() }
    return router
}

struct InfoHandlers<E: EngineClient>: Sendable {
    let engine: E
    let config: ServerConfig
    let metrics: ServerMetrics
    let gen: GenerationHandlers<E>

    var card: ModelCard {
        let m = engine.modelInfo
        return ModelCard(id: config.servedModelName, created: m.created, root: m.name, maxModelLen: m.maxModelLen)
    }

    func models() -> Response { gen.jsonResponse(ModelList(data: [card])) }

    func model(_ id: String) throws(APIError) -> Response {
        guard id == config.servedModelName else { throw .modelNotFound(id) }
        return gen.jsonResponse(card)
    }

    func tokenize(_ request: Request) async throws -> Response {
        var request = request
        let req = try TokenizeRequest.decode(try await readBody(&request, limit: config.maxBodySize))
        try gen.checkModel(req.model)
        let ids: [Int32]
        switch req.input {
        case .prompt(let text):
            ids = engine.encode(text, addSpecial: req.addSpecialTokens ?? true, parseSpecial: false)
        case .messages(let messages):
            ids = try gen.renderAndEncode(ToolPlan(tools: [], choice: .none, parallel: false).templateMessages(messages), addGenerationPrompt: req.addGenerationPrompt,
                                          addSpecial: req.addSpecialTokens ?? false)
        }
        return gen.jsonResponse(TokenizeResponse(count: ids.count, maxModelLen: engine.modelInfo.maxModelLen,
                                                 tokens: ids.map { Int($0) }))
    }

    func detokenize(_ request: Request) async throws -> Response {
        var request = request
        let req = try DetokenizeRequest.decode(try await readBody(&request, limit: config.maxBodySize))
        try gen.checkModel(req.model)
        for (i, t) in req.tokens.enumerated() { try gen.builder.checkToken(t, param: "tokens[\(i)]") }
        return gen.jsonResponse(DetokenizeResponse(prompt: engine.decode(req.tokens.map { Int32($0) }, skipSpecial: false)))
    }

    func health() -> Response {
        if let why = engine.unavailableReason {
            return errorResponse(.serviceUnavailable(why), retryAfter: config.retryAfterSeconds)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
    }

    func metricsText() async -> Response {
        let bytes = metrics.scrape(await engine.stats())
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func openAPI() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json(requiresKey: config.apiKey != nil, maxTokenID: engine.modelInfo.vocabSize - 1))))
    }
}
