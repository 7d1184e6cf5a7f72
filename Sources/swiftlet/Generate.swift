import ArgumentParser
import Engine
import Foundation

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text for one prompt, or for every prompt of a JSONL file (offline batch mode).")

    @OptionGroup var engine: EngineOptions

    @Option(help: "Prompt text.")
    var prompt: String?

    @Option(help: "Prompt as comma-separated token ids, e.g. 1,2,3.")
    var promptIds: String?

    @Option(help: "JSONL file, one request per line: {\"prompt\": text or [ids], \"max_tokens\": ..., sampling options ...}.")
    var promptsFile: String?

    @Option(help: "With --prompts-file: most requests in flight at once (default: all).")
    var concurrency: Int?

    @Flag(help: "Wrap the prompt as a user message in the model's chat template.")
    var chat = false

    @Option(help: "Tokens to generate.")
    var maxTokens: Int = 128

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(help: "Nucleus sampling mass.")
    var topP: Float = 1

    @Option(help: "Top-k sampling (0 = off).")
    var topK: Int = 0

    @Option(help: "Random seed for sampling.")
    var seed: UInt64?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        let given = [prompt != nil, promptIds != nil, promptsFile != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --prompt, --prompt-ids or --prompts-file") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        let e = try engine.loadEngine(quiet: json && promptsFile != nil)
        e.start()
        defer { e.shutdown() }
        if let promptsFile {
            try await BatchRunner(engine: e, concurrency: concurrency).run(file: promptsFile)
            return
        }
        var params = SamplingParams()
        params.maxTokens = maxTokens; params.temperature = temperature; params.topP = topP; params.topK = topK
        params.seed = seed
        let ids = try promptTokens(e)
        try await single(e, ids: ids, params: params)
    }

    func promptTokens(_ e: Engine) throws -> [Int32] {
        if let promptIds {
            let parts = promptIds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let ids = parts.compactMap { Int32($0) }
            guard ids.count == parts.count, !ids.isEmpty else { throw ValidationError("--prompt-ids: expected comma-separated integers") }
            return ids
        }
        let text = prompt ?? ""
        if chat {
            // the template writes BOS itself (as the server's chat endpoint assumes)
            let rendered = try e.renderChat([ChatMessageInput(role: "user", content: text)], addGenerationPrompt: true)
            return e.encode(rendered, addSpecial: false, parseSpecial: true)
        }
        return e.encode(text, addSpecial: true, parseSpecial: false)
    }

    func single(_ e: Engine, ids: [Int32], params: SamplingParams) async throws {
        let stream = try e.generate(EngineRequest(promptTokenIds: ids, params: params))
        var generated: [Int32] = [], text = ""
        var final: RequestOutput?
        for await o in stream {
            generated += o.newTokenIds
            text += o.textDelta
            if !json { FileHandle.standardOutput.write(Data(o.textDelta.utf8)) }
            if o.finishReason != nil { final = o }
        }
        if let f = final, f.finishReason == .error { throw ValidationError(f.stopReason ?? "generation failed") }
        let t = final?.timings ?? RequestTimings()
        let ttft = t.timeToFirstToken ?? 0, e2e = t.e2eLatency ?? 0
        let prefill = ttft > 0 ? Double(ids.count) / ttft : 0
        let decode = generated.count > 1 && e2e > ttft ? Double(generated.count - 1) / (e2e - ttft) : 0
        if json {
            let obj: [String: Any] = ["prompt_ids": ids.map(Int.init), "generated_ids": generated.map(Int.init), "text": text,
                                      "finish_reason": final?.finishReason?.rawValue ?? "error",
                                      "prefill_tokens_per_s": prefill, "decode_tokens_per_s": decode]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("")
            FileHandle.standardError.write(Data(String(format: "[%d prompt tokens, %.1f tok/s prefill; %d generated, %.1f tok/s decode; finish: %@]\n",
                                                       ids.count, prefill, generated.count, decode,
                                                       final?.finishReason?.rawValue ?? "?").utf8))
        }
    }
}
