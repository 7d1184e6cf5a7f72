import ArgumentParser
import Server

/// Transport options shared by `serve`, `router` and `instance`: TLS, HTTP/2, keep-alive.
struct HTTPOptions: ParsableArguments {
    @Option(help: "PEM certificate chain (server certificate first): serve HTTPS.")
    var sslCertfile: String?

    @Option(help: "PEM private key of --ssl-certfile.")
    var sslKeyfile: String?

    @Option(help: "PEM CA certificates: clients must present a certificate signed by one (mutual TLS).")
    var sslCaCerts: String?

    @Flag(help: "Speak HTTP/2 too: with --ssl-* as h2 negotiated by ALPN (HTTP/1.1 clients still served); without TLS as cleartext h2c with prior knowledge only.")
    var http2 = false

    @Option(help: "Seconds an idle keep-alive connection stays open (0 = until the client closes it).")
    var idleTimeout: Double = 60

    func validate() throws {
        guard (sslCertfile == nil) == (sslKeyfile == nil) else {
            throw ValidationError("--ssl-certfile and --ssl-keyfile go together")
        }
        if sslCaCerts != nil, sslCertfile == nil { throw ValidationError("--ssl-ca-certs needs --ssl-certfile and --ssl-keyfile") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout: a number of seconds ≥ 0") }
    }

    /// Loads the certificate files (a bad one is a one-line error here, before anything starts).
    func apply(to config: inout ServerConfig) throws {
        config.idleTimeout = idleTimeout
        config.httpVersion = http2 ? .http2 : .http1
        if let cert = sslCertfile, let key = sslKeyfile {
            config.tls = try ServerTLS(certificateFile: cert, keyFile: key, clientCAFile: sslCaCerts)
        }
    }
}
