public import ArgumentParser
import AsyncHTTPClient
import Bench
import Foundation

extension BenchEndpoint: ExpressibleByArgument {}

/// `swiftlet bench`: load tests against any OpenAI-compatible server (logic in the Bench module).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test an OpenAI-compatible server (like `vllm bench serve`).",
        subcommands: [BenchServe.self, BenchSweep.self, BenchProfile.self])
}

/// What to send and how: shared by `bench serve` and `bench sweep`.
struct BenchWorkloadOptions: ParsableArguments {
    @Option(help: "Model name to send (default: the first id at /v1/models).")
    var model: String?

    @Option(help: "completions (prompts as token ids) or chat (prompts as text).")
    var endpoint: BenchEndpoint = .completions

    @Option(help: "random, sharegpt, jsonl or prefix.")
    var datasetName: String = "random"

    @Option(help: "The ShareGPT JSON or JSONL file.")
    var datasetPath: String?

    @Option(help: "The model's tokenizer: a GGUF file or a llama2.c tokenizer.bin (needed by random, prefix, sharegpt).")
    var tokenizer: String?

    @Option(help: "random/prefix: prompt tokens (prefix: after the shared prefix).")
    var inputLen: Int = 1024

    @Option(help: "random/prefix: tokens to generate.")
    var outputLen: Int = 128

    @Option(help: "random/prefix: lengths drawn uniformly from [len·(1−r), len·(1+r)].")
    var rangeRatio: Double = 0

    @Option(help: "prefix: tokens of the prefix shared by each group.")
    var prefixLen: Int = 256

    @Option(help: "prefix: number of distinct prefixes.")
    var numGroups: Int = 4

    @Option(help: "sharegpt: tokens to generate instead of the answer's length.")
    var sharegptOutputLen: Int?

    @Option(help: "Requests to send (per sweep point).")
    var numPrompts: Int = 1000

    @Option(help: "Gamma shape of inter-arrival gaps (1 = Poisson, < 1 burstier).")
    var burstiness: Double = 1

    @Option(help: "Most requests in flight at once (default: unlimited).")
    var maxConcurrency: Int?

    @Option(help: "Seed for the dataset and the arrival times.")
    var seed: UInt64 = 0

    @Option(parsing: .upToNextOption, help: "Service-level bounds in ms, e.g. --goodput ttft:500 tpot:50 e2el:5000.")
    var goodput: [String] = []

    @Option(help: "Seconds one request may take before it counts as failed.")
    var requestTimeout: Double = 600

    @Option(help: "Bearer token to send.")
    var apiKey: String?

    @Flag(help: "Benchmark over HTTP/2 (h2 negotiated by ALPN: needs an https:// server).")
    var http2 = false

    @Flag(help: "Open a connection per request (send Connection: close) instead of reusing them.")
    var noKeepalive = false

    @Flag(help: "Reuse connections even if the server closes them after a streamed response (skips the check that sends one short request first; some requests may then fail).")
    var noKeepaliveCheck = false

    @Option(help: "PEM CA certificates to trust for https:// servers (e.g. a private CA).")
    var sslCaCerts: String?

    var transport: BenchTransport { BenchTransport(http2: http2, keepAlive: !noKeepalive, caCertificates: sslCaCerts) }

    func client(for urls: [String]) throws -> HTTPClient {
        for url in urls { try transport.validate(baseURL: url) }
        return BenchHTTPClient.make(transport: transport)
    }

    func dataset() throws -> DatasetSpec {
        switch datasetName {
        case "random": return .random(inputLen: inputLen, outputLen: outputLen, rangeRatio: rangeRatio)
        case "prefix":
            return .prefix(prefixLen: prefixLen, numGroups: numGroups, inputLen: inputLen, outputLen: outputLen, rangeRatio: rangeRatio)
        case "sharegpt": return .shareGPT(path: try path(), outputLen: sharegptOutputLen)
        case "jsonl": return .jsonl(path: try path())
        default: throw ValidationError("--dataset-name: expected random, sharegpt, jsonl or prefix")
        }
    }

    private func path() throws -> String {
        guard let datasetPath else { throw ValidationError("--dataset-name \(datasetName) needs --dataset-path") }
        return datasetPath
    }

    func requests() throws -> [BenchRequest] {
        let tok = try tokenizer.map { try ModelTokenizer(path: $0) }
        return try dataset().build(count: numPrompts, seed: seed, tokenizer: tok, endpoint: endpoint)
    }

    func shape(rate: Double) throws -> LoadShape {
        let s = LoadShape(requestRate: rate, burstiness: burstiness, maxConcurrency: maxConcurrency, seed: seed)
        try s.validate()
        return s
    }

    func bounds() throws -> GoodputBounds? {
        goodput.isEmpty ? nil : try GoodputBounds(parsing: goodput)
    }

    func target(_ url: String, label: String?) -> BenchTarget {
        BenchTarget(baseURL: url, model: model, endpoint: endpoint, requestTimeout: requestTimeout, label: label, apiKey: apiKey,
                    keepAlive: !noKeepalive, http2: http2, caCertificates: sslCaCerts, checkKeepAlive: !noKeepaliveCheck)
    }
}

struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Benchmark one server: send requests at a rate, report throughput and latency.")

    @Option(help: "Server address, e.g. http://127.0.0.1:8000.")
    var baseUrl: String

    @Option(help: "Name of this server in the report.")
    var label: String?

    @Option(help: "Requests per second (inf = all at once).")
    var requestRate: Double = .infinity

    @Option(help: "Write the result as JSON (vllm bench serve's fields).")
    var saveResult: String?

    @OptionGroup var workload: BenchWorkloadOptions

    func run() async throws {
        let requests = try workload.requests()
        let client = try workload.client(for: [baseUrl])
        let outcome: Result<BenchmarkResult, any Error>
        do {
            let runner = BenchmarkRunner(target: workload.target(baseUrl, label: label), client: client)
            let progress = TerminalProgress(title: "bench")
            outcome = .success(try await runner.benchmark(
                requests, shape: try workload.shape(rate: requestRate), goodput: try workload.bounds(),
                datasetName: workload.dataset().name, tokenizerID: workload.tokenizer) { progress.update(done: $0, total: $1) })
        } catch {
            outcome = .failure(error)
        }
        try await BenchHTTPClient.shutdown(client)
        let result = try outcome.get()
        print(result.report(), terminator: "")
        if let saveResult {
            try result.write(to: saveResult)
            print("Saved \(saveResult)")
        }
    }
}

struct BenchSweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Benchmark one or more servers over request rates or concurrencies; JSON per point and an SVG chart.")

    @Option(help: "Server address; repeat for servers side by side.")
    var baseUrl: [String]

    @Option(help: "Name per --base-url, in the same order (default: the URL).")
    var label: [String] = []

    @Option(help: "Comma-separated request rates, e.g. 1,2,4,8,inf.")
    var requestRates: String?

    @Option(help: "Comma-separated concurrency limits, e.g. 1,4,16,32 (requests sent at --request-rate).")
    var concurrencies: String?

    @Option(help: "With --concurrencies: requests per second (default inf).")
    var requestRate: Double = .infinity

    @Option(help: "Directory for the per-point JSON files and chart.svg.")
    var outputDir: String = "bench-sweep"

    @OptionGroup var workload: BenchWorkloadOptions

    func validate() throws {
        guard (requestRates == nil) != (concurrencies == nil) else {
            throw ValidationError("give exactly one of --request-rates or --concurrencies")
        }
        guard label.isEmpty || label.count == baseUrl.count else {
            throw ValidationError("give one --label per --base-url (or none)")
        }
        guard !baseUrl.isEmpty else { throw ValidationError("give at least one --base-url") }
    }

    func run() async throws {
        let variables = try requestRates.map { try SweepVariable.rates($0) } ?? SweepVariable.concurrencies(concurrencies ?? "")
        let targets = baseUrl.enumerated().map { i, url in workload.target(url, label: label.isEmpty ? nil : label[i]) }
        let sweep = SweepRunner(targets: targets, variables: variables, baseShape: try workload.shape(rate: requestRate),
                                goodput: try workload.bounds(), outputDir: outputDir,
                                datasetName: try workload.dataset().name, tokenizerID: workload.tokenizer)
        let requests = try workload.requests()
        let client = try workload.client(for: baseUrl)
        let outcome: Result<[SweepSeries], any Error>
        do {
            outcome = .success(try await sweep.run(requests, client: client) { print($0) })
        } catch {
            outcome = .failure(error)
        }
        try await BenchHTTPClient.shutdown(client)
        _ = try outcome.get()
        print("Wrote \(outputDir)/chart.svg and one JSON per point")
    }
}
