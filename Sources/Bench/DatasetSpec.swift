/// Which requests to send; built once per run so every sweep point and server gets the same ones.
public enum DatasetSpec: Sendable, Equatable {
    case random(inputLen: Int, outputLen: Int, rangeRatio: Double)
    case shareGPT(path: String, outputLen: Int?)
    case jsonl(path: String)
    case prefix(prefixLen: Int, numGroups: Int, inputLen: Int, outputLen: Int, rangeRatio: Double)

    public var name: String {
        switch self {
        case .random: return "random"
        case .shareGPT: return "sharegpt"
        case .jsonl: return "jsonl"
        case .prefix: return "prefix"
        }
    }

    /// Token-id prompts for completions; text for chat (which has no token-id form).
    public func build(count: Int, seed: UInt64, tokenizer: (any BenchTokenizer)?,
                      endpoint: BenchEndpoint) throws(BenchError) -> [BenchRequest] {
        guard count >= 1 else { throw BenchError("--num-prompts must be at least 1") }
        let asText = endpoint == .chat
        switch self {
        case .random(let i, let o, let r):
            return try Datasets.random(count: count, inputLen: i, outputLen: o, rangeRatio: r, seed: seed,
                                       tokenizer: try need(tokenizer), asText: asText)
        case .prefix(let p, let g, let i, let o, let r):
            return try Datasets.prefix(count: count, prefixLen: p, numGroups: g, inputLen: i, outputLen: o, rangeRatio: r,
                                       seed: seed, tokenizer: try need(tokenizer), asText: asText)
        case .shareGPT(let path, let o):
            return try Datasets.shareGPT(path: path, count: count, seed: seed, tokenizer: try need(tokenizer), fixedOutputLen: o)
        case .jsonl(let path):
            let reqs = try Datasets.jsonl(path: path, count: count, tokenizer: tokenizer)
            guard asText else { return reqs }
            return reqs.map { r in
                guard case .tokens(let ids) = r.prompt, let tokenizer else { return r }
                return BenchRequest(prompt: .text(tokenizer.decode(ids)), promptLength: r.promptLength, outputLength: r.outputLength)
            }
        }
    }

    private func need(_ t: (any BenchTokenizer)?) throws(BenchError) -> any BenchTokenizer {
        guard let t else { throw BenchError("the \(name) dataset needs --tokenizer (the model's GGUF or tokenizer.bin)") }
        return t
    }
}

extension BenchmarkRunner {
    /// Resolves the model name (from /v1/models when the target has none), runs, and assembles the result.
    public func benchmark(_ requests: [BenchRequest], shape: LoadShape, goodput: GoodputBounds? = nil,
                          datasetName: String, tokenizerID: String? = nil,
                          progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> BenchmarkResult {
        try shape.validate()
        var model = target.model ?? ""
        if target.model == nil { model = try await servedModel() }
        var t = target
        t.model = model
        let reuse = await connectionReuse(for: t, probe: requests.first)
        if reuse == .serverClosesAfterStream { t.keepAlive = false }
        let (outcomes, duration) = await BenchmarkRunner(target: t, client: client).run(requests, shape: shape, progress: progress)
        return BenchmarkResult(target: t, model: model, tokenizerID: tokenizerID, datasetName: datasetName, shape: shape,
                               goodput: goodput, outcomes: outcomes, duration: duration, connections: reuse)
    }

    /// How the run will use connections. A keep-alive HTTP/1.1 run first sends `probe` (cut to one output token)
    /// through `KeepAliveCheck`: a server that drops the connection after a streamed response gets a new
    /// connection per request, since reusing one would lose requests to the race described there.
    func connectionReuse(for t: BenchTarget, probe: BenchRequest?) async -> ConnectionReuse {
        if t.http2 { return .http2 }
        if !t.keepAlive { return .closePerRequest }
        guard t.checkKeepAlive, var probe else { return .keepAlive }
        probe.outputLength = 1
        let body = RequestSender(target: t, client: client).body(probe)
        let closes = await KeepAliveCheck.serverClosesAfterStream(
            baseURL: t.url(""), path: t.endpoint.path, body: body, apiKey: t.apiKey, caCertificates: t.caCertificates,
            timeoutSeconds: min(t.requestTimeout, 60))
        return closes == true ? .serverClosesAfterStream : .keepAlive
    }
}
