public import ArgumentParser
import Engine
import Foundation
public import Scheduler
public import Tensor

extension SchedulePolicy: ExpressibleByArgument {}

/// Options shared by every command that runs an engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "Model file: GGUF (llama, qwen2, qwen3, gemma3), a Hugging Face safetensors directory, or llama2.c .bin. Default: the SmolLM2-135M-Instruct GGUF in models/.")
    var model: String?

    @Option(help: "llama2.c tokenizer file (GGUF files carry their own).")
    var tokenizer: String?

    @Option(help: "KV cache memory budget, e.g. 2GiB, 512MiB.")
    var kvCacheMemory: String = "2GiB"

    @Option(help: "Tokens per KV cache block.")
    var blockSize: Int = 16

    @Option(help: "Token budget of one engine step.")
    var maxNumBatchedTokens: Int = 2048

    @Option(help: "Most sequences running at once.")
    var maxNumSeqs: Int = 64

    @Option(help: "mixed: prefill chunks and decodes in one batch; split: separate prefill and decode steps.")
    var schedulePolicy: SchedulePolicy = .mixed

    @Flag(inversion: .prefixedEnableDisable, help: "Automatic prefix caching.")
    var prefixCaching = true

    @Option(help: "Maximum context (prompt + output) per request; default: the model's, at most 8192.")
    var maxModelLen: Int?

    @Option(help: "Requests allowed to wait before new ones are refused with 429.")
    var maxQueuedRequests: Int = 1024

    @Option(help: "Chat template file (Jinja) overriding the model's.")
    var chatTemplate: String?

    @Option(help: "Numerics of the projections: exact (fp32 activations) or fast (int8 activations where it pays).")
    var precision: Precision = EngineConfig().precision

    func engineConfig(servedModelName: String? = nil) throws -> EngineConfig {
        var c = EngineConfig()
        guard let bytes = parseByteSize(kvCacheMemory) else {
            throw ValidationError("--kv-cache-memory: cannot read '\(kvCacheMemory)' (try 2GiB or 512MiB)")
        }
        guard blockSize > 0, maxNumBatchedTokens > 0, maxNumSeqs > 0 else {
            throw ValidationError("--block-size, --max-num-batched-tokens and --max-num-seqs must be positive")
        }
        c.kvCacheMemoryBytes = bytes
        c.blockSize = blockSize
        c.maxNumBatchedTokens = maxNumBatchedTokens
        c.maxNumSeqs = maxNumSeqs
        c.policy = schedulePolicy
        c.enablePrefixCaching = prefixCaching
        c.maxModelLen = maxModelLen
        c.maxQueuedRequests = maxQueuedRequests
        c.precision = precision
        c.servedModelName = servedModelName
        if let chatTemplate {
            do { c.chatTemplate = try String(contentsOfFile: chatTemplate, encoding: .utf8) } catch {
                throw ValidationError("--chat-template: cannot read \(chatTemplate): \(error.localizedDescription)")
            }
        }
        return c
    }

    /// The model path, defaulting to the SmolLM2 GGUF that scripts/setup.sh fetches.
    func modelPath() throws -> String {
        if let model { return model }
        let name = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        var candidates = [FileManager.default.currentDirectoryPath + "/" + name]
        // Next to the repository the executable was built in (.build/<config>/swiftlet).
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 { dir = dir.deletingLastPathComponent(); candidates.append(dir.path + "/" + name) }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw ValidationError("no --model given and the default model is missing; run scripts/setup.sh (or models/fetch-default-model.sh) first")
    }

    func loadEngine(servedModelName: String? = nil, quiet: Bool = false) throws -> Engine {
        let path = try modelPath()
        let bar = ProgressBar(title: "loading \(URL(fileURLWithPath: path).lastPathComponent)", enabled: !quiet)
        let engine = try Engine.load(modelPath: path, tokenizerPath: tokenizer, config: engineConfig(servedModelName: servedModelName),
                                     progress: { bar.update($0) })
        bar.done()
        return engine
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    let title: String
    let enabled: Bool
    private var last = -1

    init(title: String, enabled: Bool = true) {
        self.title = title
        self.enabled = enabled && isatty(2) != 0
    }

    func update(_ fraction: Double) {
        guard enabled else { return }
        let pct = Int(fraction * 100)
        guard pct != last else { return }
        last = pct
        let width = 30, filled = width * pct / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r\(title) \(bar) \(pct)%".utf8))
    }

    func done() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

extension Precision: ExpressibleByArgument {}
