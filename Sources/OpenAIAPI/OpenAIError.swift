public import Foundation

/// An error the API reports to a client, with the HTTP status it maps to.
/// The body is OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    public var description: String { "\(status) \(type): \(message)" }

    public var body: ErrorResponse {
        ErrorResponse(error: ErrorBody(message: message, type: type, param: param, code: code))
    }

    /// The JSON body (compact). Never fails: the body holds only strings.
    public func jsonData() -> Data {
        var w = JSONWriter()
        w.raw("{\"error\":{\"message\":"); w.string(message)
        w.raw(",\"type\":"); w.string(type)
        w.raw(",\"param\":"); w.optionalString(param)
        w.raw(",\"code\":"); w.optionalString(code)
        w.raw("}}")
        return Data(w.output.utf8)
    }
}

extension APIError {
    /// 400 with the standard OpenAI type.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 400: a field has the wrong JSON type.
    public static func invalidType(param: String, expected: String, got: JSONValue) -> APIError {
        invalidRequest("Invalid type for '\(param)': expected \(expected), but got \(got.typeDescription) instead.",
                       param: param, code: "invalid_type")
    }

    /// 400: a value outside its allowed range.
    public static func outOfRange(param: String, allowed: String, got: String) -> APIError {
        invalidRequest("Invalid value for '\(param)': expected \(allowed), but got \(got).",
                       param: param, code: "invalid_value")
    }

    /// 400: a field the server does not support.
    public static func unsupported(param: String, _ detail: String) -> APIError {
        invalidRequest("'\(param)' is not supported: \(detail)", param: param, code: "unsupported_parameter")
    }

    /// 400: the body is not JSON.
    public static func malformedJSON(_ detail: String) -> APIError {
        invalidRequest("We could not parse the JSON body of your request. The API expects a JSON object "
            + "(Content-Type: application/json). Parser said: \(detail)", code: "invalid_json")
    }

    /// 400: the prompt and the completion do not fit in the model's context.
    public static func contextLengthExceeded(maxModelLen: Int, promptTokens: Int, completionTokens: Int,
                                             messages: Bool) -> APIError {
        let total = promptTokens + completionTokens
        let part = messages ? "in the messages" : "in the prompt"
        return invalidRequest("This model's maximum context length is \(maxModelLen) tokens. However, you requested "
            + "\(total) tokens (\(promptTokens) \(part), \(completionTokens) in the completion). "
            + "Please reduce the length of the \(messages ? "messages" : "prompt") or completion.",
            param: messages ? "messages" : "prompt", code: "context_length_exceeded")
    }

    public static func authentication(_ message: String = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.") -> APIError {
        APIError(status: 401, message: message, type: "invalid_request_error", code: "invalid_api_key")
    }

    public static func modelNotFound(_ model: String) -> APIError {
        APIError(status: 404, message: "The model '\(model)' does not exist.", type: "invalid_request_error",
                 param: "model", code: "model_not_found")
    }

    public static func routeNotFound(method: String, path: String) -> APIError {
        APIError(status: 404, message: "Unknown request URL: \(method) \(path).", type: "invalid_request_error",
                 code: "unknown_url")
    }

    public static func methodNotAllowed(method: String, path: String, allowed: [String]) -> APIError {
        APIError(status: 405, message: "Method \(method) is not allowed on \(path); allowed: \(allowed.joined(separator: ", ")).",
                 type: "invalid_request_error", code: "method_not_allowed")
    }

    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "The request body is larger than the limit of \(limit) bytes.",
                 type: "invalid_request_error", code: "request_too_large")
    }

    public static func rateLimited(_ message: String) -> APIError {
        APIError(status: 429, message: message, type: "rate_limit_error", code: "rate_limit_exceeded")
    }

    public static func serviceUnavailable(_ message: String) -> APIError {
        APIError(status: 503, message: message, type: "service_unavailable_error", code: "service_unavailable")
    }

    /// 500 that shows no internals.
    public static func internalError() -> APIError {
        APIError(status: 500, message: "The server had an error while processing your request.",
                 type: "server_error", code: "internal_error")
    }
}

/// `{"error": {...}}`
public struct ErrorResponse: Sendable, Codable, Equatable {
    public var error: ErrorBody
    public init(error: ErrorBody) { self.error = error }
}

public struct ErrorBody: Sendable, Codable, Equatable {
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(message: String, type: String, param: String?, code: String?) {
        self.message = message; self.type = type; self.param = param; self.code = code
    }

    enum CodingKeys: String, CodingKey { case message, type, param, code }

    /// Writes `param` and `code` as `null` when absent, as OpenAI does.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(message, forKey: .message)
        try c.encode(type, forKey: .type)
        try c.encode(param, forKey: .param)
        try c.encode(code, forKey: .code)
    }
}
