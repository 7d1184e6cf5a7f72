import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAIAPI

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let retryAfter = HTTPField.Name("Retry-After")!
}

/// Maps an API error to its JSON response.
func errorResponse(_ e: APIError, retryAfter: Int) -> Response {
    var headers: HTTPFields = [.contentType: "application/json"]
    if e.status == 429 { headers[.retryAfter] = String(retryAfter) }
    return Response(status: .init(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: e.jsonData())))
}

/// Request ids, bearer auth, OpenAI-shaped errors for everything (404/405/413/500 included), one access-log line.
struct APIMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let apiKey: String?
    let retryAfter: Int
    let routes: RouteTable
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].map { String($0.prefix(128)) } ?? "req-" + randomHex(12)
        context.requestID = id
        let start = ContinuousClock.now
        var response: Response
        if !authorized(request) {
            response = errorResponse(.authentication(), retryAfter: retryAfter)
        } else {
            do {
                response = try await next(request, context)
            } catch {
                let e = mapError(error, request: request, id: id)
                response = errorResponse(e, retryAfter: retryAfter)
                // RFC 9110 §15.5.6: a 405 lists the methods the target does allow.
                if e.status == 405 { response.headers[.allow] = routes.methods(for: request.uri.path).joined(separator: ", ") }
            }
        }
        response.headers[.requestID] = id
        return logged(response, request: request, context: context, start: start)
    }

    private func authorized(_ request: Request) -> Bool {
        guard let apiKey, !routes.isOpen(request.uri.path) else { return true }
        return request.headers[.authorization] == "Bearer " + apiKey
    }

    func mapError(_ error: any Error, request: Request, id: String) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as EngineError: return Self.map(e)
        case is CancellationError: return APIError(status: 499, message: "client closed request", type: "client_closed")
        case let e as any HTTPResponseError where e.status == .notFound:
            let path = request.uri.path
            let allowed = routes.methods(for: path)
            if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
                return .methodNotAllowed(method: request.method.rawValue, path: path, allowed: allowed)
            }
            return .routeNotFound(method: request.method.rawValue, path: path)
        case let e as any HTTPResponseError where e.status == .contentTooLarge:
            return .payloadTooLarge(limit: routes.maxBodySize)
        default:
            logger.error("internal error", metadata: ["request_id": "\(id)", "error": "\(String(reflecting: error))"])
            return .internalError()
        }
    }

    static func map(_ e: EngineError) -> APIError {
        switch e {
        case .invalid(let param, let message): return .invalidRequest(message, param: param, code: "invalid_value")
        case .tooLong(let message): return .invalidRequest(message, param: "prompt", code: "context_length_exceeded")
        case .queueFull(let message): return .rateLimited(message)
        case .notReady, .shutDown: return .serviceUnavailable(e.description)
        }
    }

    /// Logs now, or — for a streamed body — once the body has been written.
    private func logged(_ response: Response, request: Request, context: Context, start: ContinuousClock.Instant) -> Response {
        let line = AccessLine(logger: logger, id: context.requestID, method: request.method.rawValue,
                              path: request.uri.path, status: response.status.code, log: context.log, start: start)
        guard response.body.contentLength == nil else { line.emit(); return response }
        var response = response
        let body = response.body
        response.body = ResponseBody { writer in
            do { try await body.write(writer); line.emit() } catch { context.log.setStatus(499); line.emit(); throw error }
        }
        return response
    }
}

struct AccessLine: Sendable {
    let logger: Logger
    let id: String, method: String, path: String, status: Int
    let log: RequestLog
    let start: ContinuousClock.Instant

    func emit() {
        let s = log.snapshot
        let ms = Double((ContinuousClock.now - start).components.attoseconds) / 1e15
            + Double((ContinuousClock.now - start).components.seconds) * 1000
        logger.info("\(method) \(path) \(s.status ?? status)", metadata: [
            "request_id": "\(id)", "status": "\(s.status ?? status)",
            "prompt_tokens": "\(s.prompt)", "completion_tokens": "\(s.completion)",
            "latency_ms": "\(String(format: "%.1f", ms))",
        ])
    }
}

/// Which paths exist with which methods (for 405 and for the routes that need no key).
struct RouteTable: Sendable {
    let maxBodySize: Int
    static let table: [(path: String, methods: [String])] = [
        ("/v1/completions", ["POST"]), ("/v1/chat/completions", ["POST"]), ("/v1/models", ["GET"]),
        ("/tokenize", ["POST"]), ("/detokenize", ["POST"]), ("/health", ["GET"]), ("/metrics", ["GET"]),
        ("/openapi.json", ["GET"]),
    ]

    func methods(for path: String) -> [String] {
        let p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if p.hasPrefix("/v1/models/"), p.count > "/v1/models/".count { return ["GET"] }
        return Self.table.first { $0.path == p }?.methods ?? []
    }

    /// Routes that need no key: probes, scrapes, and the API description.
    func isOpen(_ path: String) -> Bool { path == "/health" || path == "/metrics" || path == "/openapi.json" }
}

func randomHex(_ bytes: Int) -> String {
    var s = ""
    s.reserveCapacity(bytes * 2)
    for _ in 0..<bytes {
        let b = UInt8.random(in: 0...255)
        s += String(b >> 4, radix: 16) + String(b & 15, radix: 16)
    }
    return s
}
