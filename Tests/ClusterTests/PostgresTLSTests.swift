@testable import Cluster
import Foundation
import NIOSSL
import Testing

/// `sslmode` / `sslrootcert` in the queue URL, read as libpq reads them (no server needed).
@Suite struct PostgresTLSTests {
    @Test func sslmodeInTheQueueURL() throws {
        let plain = try PostgresURL("postgres://u@h/db")
        #expect(plain.sslMode == "disable" && plain.tlsConfiguration() == nil)
        let prefer = try #require(try PostgresURL("postgres://u@h/db?sslmode=prefer").tlsConfiguration())
        #expect(!prefer.required && prefer.config.certificateVerification == .none)
        let require = try #require(try PostgresURL("postgres://u@h:6000/db?sslmode=require").tlsConfiguration())
        #expect(require.required && require.config.certificateVerification == .none)
        let ca = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-pg-ca-\(getpid()).pem").path
        FileManager.default.createFile(atPath: ca, contents: Data("not read until a connection".utf8))
        defer { try? FileManager.default.removeItem(atPath: ca) }
        let full = try PostgresURL("postgresql://u:p@h/db?sslmode=verify-full&sslrootcert=\(ca)")
        #expect(full.database == "db" && full.password == "p" && full.sslRootCert == ca)
        let fullTLS = try #require(full.tlsConfiguration())
        #expect(fullTLS.required && fullTLS.config.certificateVerification == .fullVerification)
        #expect(fullTLS.config.trustRoots == .file(ca))
        let verifyCA = try #require(try PostgresURL("postgres://u@h/db?sslmode=verify-ca&sslrootcert=\(ca)").tlsConfiguration())
        #expect(verifyCA.config.certificateVerification == .noHostnameVerification)
        #expect(throws: ClusterError.self) { try PostgresURL("postgres://u@h/db?sslmode=bogus") }
        #expect(throws: ClusterError.self) { try PostgresURL("postgres://u@h/db?sslmode=require&sslrootcert=/nonexistent.pem") }
    }
}
