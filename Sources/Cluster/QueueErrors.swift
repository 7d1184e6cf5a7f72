import Foundation
import PostgresNIO

/// A queue operation failed. `unreachable` when the database could not be reached or dropped the connection
/// (retrying later can succeed); otherwise the database answered with an error (a constraint, a syntax error).
/// Its description names the operation and the real cause (see `describeQueueError`), never the password.
public struct QueueError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var unreachable: Bool
    public init(_ description: String, unreachable: Bool) { self.description = description; self.unreachable = unreachable }
}

/// A database error as an operator can act on it: the SQLSTATE (with its name for the common ones), the server's
/// message, detail and hint, or the connection failure's cause, and which server (host:port/database). Never the
/// password, nor the query or its binds (postgres-nio's own description hides everything; its debug description
/// shows the query with its data).
public func describeQueueError(_ error: any Error, url: PostgresURL?) -> String {
    let at = url.map { " (PostgreSQL at \($0.host):\($0.port)/\($0.database))" } ?? ""
    switch error {
    case let e as QueueError:
        return e.description
    case let e as PSQLError:
        if let info = e.serverInfo {
            var parts: [String] = []
            let state = info[.sqlState] ?? "?"
            parts.append("SQLSTATE \(state)\(sqlStateName(state).map { " (\($0))" } ?? "")")
            if let m = info[.message] { parts.append(m) }
            if let d = info[.detail] { parts.append("detail: \(d)") }
            if let h = info[.hint] { parts.append("hint: \(h)") }
            return "database error " + parts.joined(separator: ": ") + at
        }
        var text = "database connection failed: \(e.code)"
        if let u = e.underlying { text += ": \(describeUnderlying(u))" }
        return text + at
    case let e as ClusterError:
        return e.description
    default:
        // postgres-nio's pool errors (their type is not public): the pool's circuit breaker tripped after failing
        // to connect for a while, or the pool was shut down.
        if "\(type(of: error))" == "ConnectionPoolError" { return "database connection pool: \(error)" + at }
        return describeUnderlying(error) + at
    }
}

private func describeUnderlying(_ error: any Error) -> String {
    // NIO's connection errors list the addresses tried and the socket errors; none carries credentials.
    if let e = error as? PSQLError { return describeQueueError(e, url: nil) }
    return String(describing: error)
}

/// Names of the SQLSTATEs an operator of the queue meets most.
func sqlStateName(_ s: String) -> String? {
    switch s {
    case "57P01": "admin_shutdown: the server is shutting down or the connection was terminated"
    case "57P02": "crash_shutdown"
    case "57P03": "cannot_connect_now: the server is starting up"
    case "53300": "too_many_connections"
    case "28P01": "invalid_password"
    case "28000": "invalid_authorization_specification"
    case "3D000": "invalid_catalog_name: no such database"
    case "23505": "unique_violation"
    case "40001": "serialization_failure"
    case "40P01": "deadlock_detected"
    case "42P01": "undefined_table"
    case "08006": "connection_failure"
    case "08001": "sqlclient_unable_to_establish_sqlconnection"
    default: nil
    }
}

/// Whether an error means the database could not be reached (or dropped the connection): the operation may be
/// retried once it is back. Errors the server answered with (constraint violations, syntax) are not.
func isUnreachable(_ error: any Error) -> Bool {
    switch error {
    case let e as QueueError: return e.unreachable
    case let e as PSQLError:
        if let state = e.serverInfo?[.sqlState] {
            // 08: connection exception; 57P: operator intervention (shutdown, terminated backend, starting up);
            // 53300: too many connections.
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        }
        switch e.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed: return true
        default: return false
        }
    case is CancellationError, is ClusterError, is DecodingError, is PostgresDecodingError: return false
    default:
        return true   // socket-level errors (IOError, ChannelError, NIOConnectionError), the pool's errors
    }
}

/// A deadlock (40P01) or serialization failure (40001): the server rolled the transaction back.
func isTransactionConflict(_ error: any Error) -> Bool {
    guard let state = (error as? PSQLError)?.serverInfo?[.sqlState] else { return false }
    return state == "40P01" || state == "40001"
}

extension PostgresURL {
    /// The URL text with its password replaced by `***` (for messages).
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@"),
              let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}
