import ArgumentParser
import Engine
import Foundation

/// Offline batch mode: every line of a JSONL file becomes an engine request; results come out in input order,
/// then one summary line.
struct BatchRunner {
    let engine: Engine
    let concurrency: Int?

    struct Job: Sendable {
        var index: Int
        var prompt: [Int32]
        var params: SamplingParams
        var n: Int
        var priority: Int
    }

    struct Timings: Codable, Sendable {
        var queue_time_s: Double
        var ttft_s: Double?
        var e2e_s: Double?
        var mean_itl_s: Double?
    }

    struct Result: Codable, Sendable {
        var generated_ids: [Int32] = []
        var text = ""
        var finish_reason = "error"
        var error: String?
        var timings: Timings?
    }

    struct Line: Encodable {
        var index: Int
        var prompt_ids: [Int32]
        var generated_ids: [Int32]?
        var text: String?
        var finish_reason: String?
        var error: String?
        var timings: Timings?
        var choices: [Result]?
    }

    struct Summary: Encodable {
        struct Body: Encodable {
            var requests, prompt_tokens, generated_tokens: Int
            var elapsed_s, requests_per_s, output_tokens_per_s, total_tokens_per_s: Double
            /// When every request runs at once: tokens after each request's first, over the span from the last first
            /// token to the last token (the aggregate decode rate, as llama-batched-bench's S_TG reports it).
            var decode_tokens_per_s: Double?
        }
        var summary: Body
    }

    func run(file: String) async throws {
        let jobs = try parse(file: file)
        let start = Date()
        let limit = concurrency ?? max(jobs.count, 1)
        let results = await withTaskGroup(of: (Int, [Result]).self) { group in
            var out = [[Result]](repeating: [], count: jobs.count)
            var next = 0
            while next < min(limit, jobs.count) {
                let job = jobs[next]
                group.addTask { (job.index, await Self.execute(engine: engine, job: job)) }
                next += 1
            }
            while let (i, r) = await group.next() {
                out[i] = r
                if next < jobs.count {
                    let job = jobs[next]
                    group.addTask { (job.index, await Self.execute(engine: engine, job: job)) }
                    next += 1
                }
            }
            return out
        }
        let elapsed = Date().timeIntervalSince(start)
        var promptTokens = 0, generated = 0
        for (i, choices) in results.enumerated() {
            promptTokens += jobs[i].prompt.count
            generated += choices.reduce(0) { $0 + $1.generated_ids.count }
            var line = Line(index: i, prompt_ids: jobs[i].prompt)
            if choices.count == 1 {
                let c = choices[0]
                line.generated_ids = c.generated_ids; line.text = c.text; line.finish_reason = c.finish_reason
                line.error = c.error; line.timings = c.timings
            } else {
                line.choices = choices
            }
            try emit(line)
        }
        var decodeRate: Double?
        let singles = results.compactMap { $0.count == 1 ? $0[0] : nil }
        if limit >= jobs.count, singles.count == jobs.count,
           let lastFirst = singles.compactMap({ $0.timings?.ttft_s }).max(),
           let lastEnd = singles.compactMap({ $0.timings?.e2e_s }).max(), lastEnd > lastFirst {
            decodeRate = Double(singles.reduce(0) { $0 + max($1.generated_ids.count - 1, 0) }) / (lastEnd - lastFirst)
        }
        try emit(Summary(summary: .init(
            requests: jobs.count, prompt_tokens: promptTokens, generated_tokens: generated, elapsed_s: elapsed,
            requests_per_s: Double(jobs.count) / elapsed, output_tokens_per_s: Double(generated) / elapsed,
            total_tokens_per_s: Double(promptTokens + generated) / elapsed, decode_tokens_per_s: decodeRate)))
    }

    func emit(_ value: some Encodable) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try enc.encode(value) + Data("\n".utf8))
    }

    static func execute(engine: Engine, job: Job) async -> [Result] {
        await withTaskGroup(of: (Int, Result).self) { g in
            for k in 0..<job.n {
                var p = job.params
                if let s = p.seed { p.seed = s &+ UInt64(k) }
                let req = EngineRequest(promptTokenIds: job.prompt, params: p, priority: job.priority)
                g.addTask { (k, await Self.one(engine: engine, req)) }
            }
            var out = [Result](repeating: Result(), count: job.n)
            for await (k, r) in g { out[k] = r }
            return out
        }
    }

    static func one(engine: Engine, _ req: EngineRequest) async -> Result {
        var r = Result()
        let stream: AsyncStream<RequestOutput>
        do { stream = try engine.generate(req) } catch {
            r.error = error.description
            return r
        }
        var final: RequestOutput?
        for await o in stream {
            r.generated_ids += o.newTokenIds; r.text += o.textDelta
            if o.finishReason != nil { final = o }
        }
        let t = final?.timings ?? RequestTimings()
        r.finish_reason = final?.finishReason?.rawValue ?? "error"
        r.timings = Timings(queue_time_s: t.queueTime, ttft_s: t.timeToFirstToken, e2e_s: t.e2eLatency,
                            mean_itl_s: t.interTokenGaps.isEmpty ? nil : t.interTokenGaps.reduce(0, +) / Double(t.interTokenGaps.count))
        if final?.finishReason == .error { r.error = final?.stopReason ?? "error" }
        return r
    }

    func parse(file: String) throws -> [Job] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("--prompts-file: cannot read \(file)")
        }
        var jobs: [Job] = []
        for (lineNo, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            do {
                jobs.append(try job(from: trimmed, index: jobs.count))
            } catch let e as ValidationError {
                throw ValidationError("\(file):\(lineNo + 1): \(e.message)")
            }
        }
        guard !jobs.isEmpty else { throw ValidationError("\(file): no requests") }
        return jobs
    }

    func job(from line: String, index: Int) throws -> Job {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ValidationError("not a JSON object")
        }
        let prompt: [Int32]
        if let s = obj["prompt"] as? String {
            prompt = engine.encode(s, addSpecial: true, parseSpecial: false)
        } else if let ids = obj["prompt"] as? [Any], let ints = ids as? [Int] {
            prompt = ints.map { Int32(truncatingIfNeeded: $0) }
        } else {
            throw ValidationError("\"prompt\" must be a string or a list of token ids")
        }
        var p = SamplingParams()
        p.maxTokens = try int(obj, "max_tokens") ?? 16
        p.minTokens = try int(obj, "min_tokens") ?? 0
        p.temperature = try float(obj, "temperature") ?? 1
        p.topP = try float(obj, "top_p") ?? 1
        p.topK = try int(obj, "top_k") ?? 0
        p.minP = try float(obj, "min_p") ?? 0
        p.repetitionPenalty = try float(obj, "repetition_penalty") ?? 1
        p.presencePenalty = try float(obj, "presence_penalty") ?? 0
        p.frequencyPenalty = try float(obj, "frequency_penalty") ?? 0
        p.seed = try int(obj, "seed").map { UInt64(bitPattern: Int64($0)) }
        p.ignoreEOS = obj["ignore_eos"] as? Bool ?? false
        p.logprobs = try int(obj, "logprobs")
        if let s = obj["stop"] as? String { p.stop = [s] } else if let s = obj["stop"] as? [String] { p.stop = s }
        if let ids = obj["stop_token_ids"] as? [Int] { p.stopTokenIds = ids.map { Int32(truncatingIfNeeded: $0) } }
        if let bias = obj["logit_bias"] as? [String: Any] {
            for (k, v) in bias {
                guard let id = Int32(k), let f = (v as? NSNumber)?.floatValue else { throw ValidationError("bad logit_bias entry \(k)") }
                p.logitBias[id] = f
            }
        }
        let n = try int(obj, "n") ?? 1
        guard n >= 1 && n <= 64 else { throw ValidationError("\"n\" must be in 1...64") }
        return Job(index: index, prompt: prompt, params: p, n: n, priority: try int(obj, "priority") ?? 0)
    }

    func int(_ o: [String: Any], _ k: String) throws -> Int? {
        guard let v = o[k], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else {
            throw ValidationError("\"\(k)\" must be an integer")
        }
        return i
    }

    func float(_ o: [String: Any], _ k: String) throws -> Float? {
        guard let v = o[k], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber else { throw ValidationError("\"\(k)\" must be a number") }
        return n.floatValue
    }
}
