import Foundation
import Hummingbird
public import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
public import NIOSSL

/// The server's TLS set-up, loaded and checked when it is made (so that a bad certificate is an error at
/// start-up, not at the first connection).
public struct ServerTLS: Sendable {
    public let configuration: TLSConfiguration
    /// Whether clients must present a certificate signed by `--ssl-ca-certs`.
    public let requiresClientCertificates: Bool

    /// `certificateFile`: PEM, the server certificate first, then any intermediates. `keyFile`: its PEM private
    /// key. `clientCAFile`: PEM CA certificates; when given, clients must present a certificate signed by one.
    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws(ServerSetupError) {
        func readable(_ path: String, _ flag: String) throws(ServerSetupError) {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ServerSetupError("\(flag) \(path): no such readable file")
            }
        }
        try readable(certificateFile, "--ssl-certfile")
        try readable(keyFile, "--ssl-keyfile")
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw ServerSetupError("--ssl-certfile \(certificateFile): not a PEM certificate (\(Self.reason(error)))")
        }
        guard !chain.isEmpty else { throw ServerSetupError("--ssl-certfile \(certificateFile): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw ServerSetupError("--ssl-keyfile \(keyFile): not a PEM private key (\(Self.reason(error)))")
        }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                              privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            try readable(clientCAFile, "--ssl-ca-certs")
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMFile(clientCAFile) } catch {
                throw ServerSetupError("--ssl-ca-certs \(clientCAFile): not PEM certificates (\(Self.reason(error)))")
            }
            guard !roots.isEmpty else { throw ServerSetupError("--ssl-ca-certs \(clientCAFile): no certificate in the file") }
            config.trustRoots = .certificates(roots)
            config.certificateVerification = .noHostnameVerification
            config.sendCANameList = true
        }
        // Building a context checks what the files alone cannot: that the key belongs to the certificate.
        var probe = config
        probe.applicationProtocols = ["h2", "http/1.1"]
        do { _ = try NIOSSLContext(configuration: probe) } catch {
            throw ServerSetupError("--ssl-certfile/--ssl-keyfile: unusable together (\(Self.reason(error))); "
                                   + "is the key the certificate's?")
        }
        self.configuration = config
        self.requiresClientCertificates = clientCAFile != nil
    }

    static func reason(_ error: any Error) -> String {
        String(describing: error).replacingOccurrences(of: "\n", with: " ")
    }
}

/// A start-up problem with the server's own set-up (files, flags), said in one line.
public struct ServerSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Which protocols the server speaks on its port.
public enum HTTPVersionMode: String, Sendable, CaseIterable {
    /// HTTP/1.1 only.
    case http1
    /// With TLS: h2 or HTTP/1.1, chosen by ALPN. Without TLS: cleartext h2c with prior knowledge only
    /// (HTTP/1.1 clients cannot connect to that port).
    case http2
}

extension ServerConfig {
    /// Idle timeout as Hummingbird wants it; nil = never.
    var idleDuration: Duration? {
        guard let idleTimeout, idleTimeout > 0 else { return nil }
        return .milliseconds(Int64(idleTimeout * 1000))
    }

    /// `http` or `https`, and how HTTP/2 is reached, for the start-up log line.
    var transportDescription: String {
        switch (tls != nil, httpVersion) {
        case (false, .http1): return "http/1.1"
        case (false, .http2): return "h2c (prior knowledge)"
        case (true, .http1): return "https (http/1.1)"
        case (true, .http2): return "https (h2, http/1.1 via ALPN)"
        }
    }
}

/// The Hummingbird server for `config`: HTTP/1.1, HTTP/1.1 over TLS, h2 + HTTP/1.1 over TLS (ALPN), or h2c.
/// Every connection and HTTP/2 stream gets a `DisconnectWatchHandler`; accepted connections are counted in
/// `metrics` (`swiftlet:http_connections_total`).
public func httpServerBuilder(config: ServerConfig, metrics: ServerMetrics) -> HTTPServerBuilder {
    let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [DisconnectWatchHandler()],
                                           idleTimeout: config.idleDuration.map { TimeAmount($0) })
    let http2 = HTTP2ChannelConfiguration(idleTimeout: config.idleDuration, streamConfiguration: http1)
    let tls = config.tls?.configuration
    let counter = metrics.connectionCounter
    return HTTPServerBuilder { responder in
        switch (tls, config.httpVersion) {
        case (nil, .http1):
            return CountingChildChannel(HTTP1Channel(responder: responder, configuration: http1), count: counter)
        case (nil, .http2):
            return CountingChildChannel(HTTP2Channel(responder: responder, configuration: http2), count: counter)
        case (let tls?, .http1):
            var t = tls
            t.applicationProtocols = ["http/1.1"]
            return CountingChildChannel(try TLSChannel(HTTP1Channel(responder: responder, configuration: http1), tlsConfiguration: t),
                                        count: counter)
        case (let tls?, .http2):
            return CountingChildChannel(try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: http2, responder: responder),
                                        count: counter)
        }
    }
}

/// Counts the connections a child-channel set-up accepts.
struct CountingChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let count: @Sendable () -> Void

    init(_ base: Base, count: @escaping @Sendable () -> Void) {
        self.base = base; self.count = count
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        count()
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
