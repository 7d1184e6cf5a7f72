import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Versioned, idempotent schema migrations, applied at start-up under an advisory lock (so routers and
/// instances starting together apply each one once). Append new versions; never edit applied ones.
enum PostgresSchema {
    static let lockKey: Int64 = 7_426_000_001

    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (1, "requests and instances", [
            """
            CREATE TABLE IF NOT EXISTS swiftlet_requests (
                id            bigint PRIMARY KEY,
                origin        text NOT NULL,
                prompt        int4[] NOT NULL,
                params        jsonb NOT NULL,
                priority      int NOT NULL DEFAULT 0,
                prefix_hash   bigint NOT NULL DEFAULT 0,
                arrival       timestamptz NOT NULL DEFAULT clock_timestamp(),
                state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'assigned', 'done', 'failed')),
                instance      text,
                started       boolean NOT NULL DEFAULT false,
                assigned_at   timestamptz,
                claimed_at    timestamptz,
                lease_expiry  timestamptz,
                attempts      int NOT NULL DEFAULT 0,
                tokens        int4[] NOT NULL DEFAULT '{}',
                finish_reason text,
                stop_reason   text,
                error         text,
                updated_at    timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            "CREATE INDEX IF NOT EXISTS swiftlet_requests_queued ON swiftlet_requests (priority, arrival, id) WHERE state = 'queued'",
            "CREATE INDEX IF NOT EXISTS swiftlet_requests_assigned ON swiftlet_requests (instance) WHERE state = 'assigned'",
            """
            CREATE TABLE IF NOT EXISTS swiftlet_instances (
                name        text PRIMARY KEY,
                address     text NOT NULL,
                load        jsonb NOT NULL,
                heartbeat   timestamptz NOT NULL DEFAULT clock_timestamp(),
                reported_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                draining    boolean NOT NULL DEFAULT false,
                started_at  timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
        ]),
        (2, "logprobs", [
            "ALTER TABLE swiftlet_requests ADD COLUMN IF NOT EXISTS logprobs jsonb NOT NULL DEFAULT '[]'::jsonb",
            "ALTER TABLE swiftlet_requests ADD COLUMN IF NOT EXISTS prompt_logprobs jsonb",
        ]),
    ]

    static var latestVersion: Int { migrations.map(\.version).max() ?? 0 }

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    static func migrate(_ conn: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await conn.query("BEGIN", logger: logger)
        do {
            try await conn.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await conn.query("""
                CREATE TABLE IF NOT EXISTS swiftlet_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var done = Set<Int>()
            for try await v in try await conn.query("SELECT version FROM swiftlet_migrations", logger: logger).decode(Int.self) {
                done.insert(v)
            }
            var applied: [Int] = []
            for m in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(m.version) {
                for s in m.statements { try await conn.query(PostgresQuery(unsafeSQL: s), logger: logger) }
                try await conn.query("INSERT INTO swiftlet_migrations (version, name) VALUES (\(m.version), \(m.name))", logger: logger)
                applied.append(m.version)
            }
            try await conn.query("COMMIT", logger: logger)
            if !applied.isEmpty { logger.info("queue schema migrated", metadata: ["versions": "\(applied)"]) }
            return applied
        } catch {
            _ = try? await conn.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}

/// `postgres://user[:password]@host[:port]/database` (also `postgresql://`).
public struct PostgresURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// `?sslmode=` as libpq reads it: disable (the default here), prefer, require (encrypted, certificate not
    /// checked unless `sslrootcert` is given), verify-ca, verify-full (also the host name).
    public var sslMode: String = "disable"
    /// `?sslrootcert=`: PEM CA certificates the server's certificate must chain to.
    public var sslRootCert: String?

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    public init(_ text: String) throws {
        guard let c = URLComponentsLite(text), c.scheme == "postgres" || c.scheme == "postgresql" else {
            throw ClusterError("--queue: expected postgres://user@host:port/database, got '\(Self.redacted(text))'")
        }
        host = c.host.isEmpty ? "127.0.0.1" : c.host
        port = c.port ?? 5432
        user = c.user ?? "postgres"
        password = c.password
        database = c.path.isEmpty ? user : c.path
        if let mode = c.query["sslmode"] {
            guard Self.sslModes.contains(mode) else {
                throw ClusterError("--queue: sslmode must be one of \(Self.sslModes.joined(separator: ", ")); got '\(mode)'")
            }
            sslMode = mode
        }
        sslRootCert = c.query["sslrootcert"]
        if let ca = sslRootCert, !FileManager.default.isReadableFile(atPath: ca) {
            throw ClusterError("--queue: sslrootcert \(ca): no such readable file")
        }
    }

    /// The TLS set-up `sslmode` asks for; nil = plain TCP. `required`: fail rather than fall back to plain.
    func tlsConfiguration() -> (config: TLSConfiguration, required: Bool)? {
        guard sslMode != "disable" else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = sslRootCert { tls.trustRoots = .file(ca) }
        switch sslMode {
        case "verify-full": tls.certificateVerification = .fullVerification
        case "verify-ca": tls.certificateVerification = .noHostnameVerification
        default: tls.certificateVerification = sslRootCert == nil ? .none : .noHostnameVerification
        }
        return (tls, sslMode == "require" || sslMode.hasPrefix("verify"))
    }

    var clientTLS: PostgresClient.Configuration.TLS {
        guard let t = tlsConfiguration() else { return .disable }
        return t.required ? .require(t.config) : .prefer(t.config)
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard let t = tlsConfiguration() else { return .disable }
        let context = try NIOSSLContext(configuration: t.config)
        return t.required ? .require(context) : .prefer(context)
    }
}

/// A small parser for the URL forms above (Foundation's URLComponents would do, but it decodes nothing we need).
struct URLComponentsLite {
    var scheme = "", user: String?, password: String?, host = "", port: Int?, path = ""
    var query: [String: String] = [:]

    init?(_ s: String) {
        guard let schemeEnd = s.range(of: "://") else { return nil }
        scheme = String(s[..<schemeEnd.lowerBound]).lowercased()
        var rest = Substring(s[schemeEnd.upperBound...])
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                query[String(kv[0]).removingPercentEncodingLite] = kv.count > 1 ? String(kv[1]).removingPercentEncodingLite : ""
            }
            rest = rest[..<q]
        }
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...]).removingPercentEncodingLite
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let cred = rest[..<at]
            if let colon = cred.firstIndex(of: ":") {
                user = String(cred[..<colon]).removingPercentEncodingLite
                password = String(cred[cred.index(after: colon)...]).removingPercentEncodingLite
            } else {
                user = String(cred).removingPercentEncodingLite
            }
            rest = rest[rest.index(after: at)...]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = p
            host = String(rest[..<colon])
        } else {
            host = String(rest)
        }
    }
}

extension String {
    var removingPercentEncodingLite: String {
        var bytes: [UInt8] = []
        var it = Array(utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v); it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
