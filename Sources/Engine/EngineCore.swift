import Constraints
import CoreMetrics
import Foundation
import Model
import Scheduler
import Tokenizer

/// The step loop's state: scheduler, model, samplers and output streams. Lives on the engine thread only.
/// `step()` = schedule → forward → sample → update, and reads like that.
final class EngineCore: @unchecked Sendable {   // touched by the engine thread only
    let model: any CausalLM
    let tokenizer: Tokenizer
    var scheduler: Scheduler
    let sampler: Sampler
    let metrics: EngineMetrics
    private var seqs: [RequestID: SequenceState] = [:]
    /// Token masks per grammar, shared by every request with the same constraint (engine thread only).
    private var grammarIndexes: [ConstraintSpec.Kind: GrammarIndex] = [:]
    private lazy var vocabIndex: VocabIndex = Self.vocabIndex(tokenizer, vocabSize: model.config.vocabSize)
    /// Time spent masking and advancing constraints (ns), for measurements.
    private(set) var constraintNanos: UInt64 = 0
    /// Time spent in `step()` (ns).
    private(set) var stepNanos: UInt64 = 0
    private(set) var promptTokensTotal = 0
    private(set) var generationTokensTotal = 0

    struct SequenceState {
        let request: EngineRequest
        var sampler: SequenceSampler
        /// Tokens → text, stop conditions, timings: the output path the cluster router shares.
        var output: OutputProcessor
        let continuation: AsyncStream<RequestOutput>.Continuation
        /// Prompt log-probabilities computed so far (position p predicts prompt token p + 1); nil unless asked for.
        var promptLogprobs: [TokenLogprob]?
        var promptLogprobsSent = false
        /// The output constraint's state (nil: free text). Lives as long as the request, so preemption (which
        /// recomputes the KV cache but keeps the sampled tokens) and prefix caching leave it untouched.
        var constraint: ConstraintState?
    }

    /// What a logits row of this step is for.
    enum RowUse {
        case sample(RequestID)
        case prompt(RequestID, position: Int)
    }

    init(model: any CausalLM, tokenizer: Tokenizer, scheduler: Scheduler, metrics: EngineMetrics) {
        self.model = model; self.tokenizer = tokenizer; self.scheduler = scheduler; self.metrics = metrics
        sampler = Sampler(vocab: model.config.vocabSize)
    }

    var hasWork: Bool { scheduler.hasWork }

    /// Admits a request; on refusal the stream ends at once with an error output.
    func admit(id: RequestID, _ r: EngineRequest, arrival: UInt64, order: UInt64,
               continuation: AsyncStream<RequestOutput>.Continuation) {
        let constraint: ConstraintState?
        do {
            constraint = try makeConstraint(r)
            try scheduler.add(SchedulerRequest(id: id, promptTokenIds: r.promptTokenIds, maxTokens: r.params.maxTokens,
                                               priority: r.priority, arrival: order,
                                               skipPrefixCache: r.params.promptLogprobs))
        } catch {
            continuation.yield(RequestOutput(finishReason: .error, stopReason: "\(error)",
                                             promptTokenCount: r.promptTokenIds.count))
            continuation.finish()
            return
        }
        seqs[id] = SequenceState(
            request: r, sampler: SequenceSampler(params: r.params, prompt: r.promptTokenIds, resumed: r.resumedOutputTokens),
            output: OutputProcessor(tokenizer: tokenizer, params: r.params, prompt: r.promptTokenIds, arrival: arrival),
            continuation: continuation, promptLogprobs: r.params.promptLogprobs ? [] : nil, constraint: constraint)
        promptTokensTotal += r.promptTokenIds.count
    }

    func abort(_ id: RequestID) { scheduler.abort(id) }

    /// The constraint's state at the start of the request's output; a resumed request replays its delivered
    /// tokens (the prompt's last `resumedOutputTokens`) so it continues where the interrupted run stopped.
    private func makeConstraint(_ r: EngineRequest) throws(ConstraintError) -> ConstraintState? {
        guard let spec = r.params.constraint else { return nil }
        let index: GrammarIndex
        if let i = grammarIndexes[spec.kind] { index = i } else {
            index = GrammarIndex(grammar: try spec.compile(), vocab: vocabIndex)
            if grammarIndexes.count >= 64 { grammarIndexes.removeAll() }   // live requests keep theirs
            grammarIndexes[spec.kind] = index
        }
        var state = ConstraintState(index: index)
        for t in r.promptTokenIds.suffix(r.resumedOutputTokens) {
            guard state.advance(t) else {
                throw ConstraintError("the resumed output does not match the constraint at token \(t)")
            }
        }
        return state
    }

    /// What each token adds to the text, for grammar matching: special tokens never match (the stop tokens are
    /// allowed where the grammar may end).
    static func vocabIndex(_ tokenizer: Tokenizer, vocabSize: Int) -> VocabIndex {
        let n = tokenizer.vocabSize
        let bytes: [[UInt8]?] = (0..<vocabSize).map { i in
            let id = Int32(i)
            guard i < n, !tokenizer.isSpecial(id) else { return nil }
            return tokenizer.pieceBytes(id)
        }
        return VocabIndex(tokenBytes: bytes, stopIds: tokenizer.stopIds.sorted())
    }

    /// One iteration. Returns false when there was nothing to run.
    @discardableResult
    func step() -> Bool {
        let start = Self.now()
        defer { stepNanos &+= Self.now() &- start }
        let plan = scheduler.schedule()
        for f in plan.finished { finish(f.id, reason: EngineFinishReason(f.reason), extraText: "") }
        guard !plan.scheduled.isEmpty else { return !plan.finished.isEmpty }
        let now = Self.now()
        var batch = ForwardBatch()
        var rows: [RowUse] = []
        for s in plan.scheduled {
            markScheduled(s.requestId, now: now)
            batch.add(tokens: s.tokenIds, startPosition: s.startPosition, blockTable: s.blockTable, wantLogits: false)
            addPromptLogprobRows(s, batch: &batch, rows: &rows)
            if s.sampleAfter {
                batch.logitRows.append(Int32(batch.count - 1))
                rows.append(.sample(s.requestId))
            }
        }
        let logits = model.forward(batch)
        metrics.iterationTokens.record(batch.count)
        let tokenTime = Self.now()
        var sampled: [RequestID: Int32] = [:], finishing: [RequestID: FinishReason] = [:]
        var outputs: [(RequestID, RequestOutput)] = []
        for (row, use) in rows.enumerated() {
            switch use {
            case .prompt(let id, let position):
                guard let next = seqs[id]?.request.promptTokenIds[position + 1] else { continue }
                let n = seqs[id]?.request.params.logprobs ?? 0
                seqs[id]?.promptLogprobs?.append(sampler.logprob(logits.row(row), token: next, top: n))
            case .sample(let id):
                guard var st = seqs[id] else { continue }
                var (out, end) = sampleOne(&st, logits: logits.row(row), at: tokenTime)
                if let p = st.promptLogprobs, !st.promptLogprobsSent {
                    out.promptLogprobs = p
                    st.promptLogprobsSent = true
                }
                sampled[id] = out.newTokenIds[0]
                if let end { finishing[id] = end }
                seqs[id] = st
                outputs.append((id, out))
            }
        }
        let finished = scheduler.update(after: plan, sampled: sampled, finishing: finishing)
        let reasons = Dictionary(finished.map { ($0.id, $0.reason) }, uniquingKeysWith: { a, _ in a })
        for (id, out) in outputs {
            if let reason = reasons[id] {
                finish(id, reason: EngineFinishReason(reason), extraText: out.textDelta, last: out)
            } else {
                seqs[id]?.continuation.yield(out)
            }
        }
        for f in finished where sampled[f.id] == nil { finish(f.id, reason: EngineFinishReason(f.reason), extraText: "") }
        return true
    }

    /// For requests that asked for prompt log-probabilities: a logits row for every prompt position of this
    /// chunk that predicts a later prompt token and has not been scored yet (resumed requests are not rescored).
    private func addPromptLogprobRows(_ s: ScheduledSequence, batch: inout ForwardBatch, rows: inout [RowUse]) {
        guard let st = seqs[s.requestId], let done = st.promptLogprobs?.count else { return }
        let promptLen = st.request.promptTokenIds.count
        let first = batch.count - s.tokenIds.count
        for i in 0..<s.tokenIds.count {
            let pos = s.startPosition + i
            guard pos >= done, pos + 1 < promptLen else { continue }
            batch.logitRows.append(Int32(first + i))
            rows.append(.prompt(s.requestId, position: pos))
        }
    }

    private func markScheduled(_ id: RequestID, now: UInt64) {
        _ = seqs[id]?.output.markScheduled(at: now)
    }

    /// Samples one token for a sequence and turns it into an output (through the output processor); returns the
    /// finish reason when the token ends the request (a stop condition, the constraint complete, `max_tokens`).
    private func sampleOne(_ st: inout SequenceState, logits: UnsafeBufferPointer<Float>, at t: UInt64)
        -> (RequestOutput, FinishReason?) {
        let p = st.request.params
        let r: Sampler.Result
        if var c = st.constraint {
            // The grammar decides where the output may end (min_tokens does not apply); a token it refuses
            // cannot be sampled, and the request ends as soon as the grammar is complete.
            // Timed: finding the mask, applying it, advancing (not the sampling itself).
            var t0 = Self.now(), spent: UInt64 = 0
            let sampled: Sampler.Result? = c.withMask { mask, any in
                spent = Self.now() &- t0
                return any ? sampler.sample(logits, &st.sampler, banned: [], mask: mask) : nil
            }
            t0 = Self.now()
            guard let sampled, c.advance(sampled.token) else {
                // Nothing the vocabulary holds can continue the grammar: end here with an end-of-text token.
                var out = st.output.output
                st.output.appendFinal(tokenizer.eosId ?? 0, why: "no token can continue the constrained output", into: &out)
                return (out, .stop)
            }
            constraintNanos &+= spent &+ sampler.lastMaskNanos &+ (Self.now() &- t0)
            st.constraint = c
            r = sampled
        } else {
            let banned: Set<Int32>
            if st.output.completionTokens < p.minTokens {
                let stops = st.output.stopTokenIds
                banned = stops.eos.union(stops.extra)
            } else {
                banned = []
            }
            r = sampler.sample(logits, &st.sampler, banned: banned)
        }
        generationTokensTotal += 1
        var out = st.output.output
        let logprob = r.logprob
        let end = st.output.process(CollectionOfOne(r.token), at: t, into: &out) { _ in logprob }
        switch end {
        case .stopToken?, .stopString?: return (out, .stop)
        // A complete constraint ends the output (as a stop, also at max_tokens).
        case .length?: return (out, (st.constraint?.isComplete ?? false) ? .stop : .length)
        case nil: return (out, (st.constraint?.isComplete ?? false) ? .stop : nil)
        }
    }

    /// Ends a request's stream with its final output (held-back text released unless a stop string matched).
    private func finish(_ id: RequestID, reason: EngineFinishReason, extraText: String, last: RequestOutput? = nil) {
        guard var st = seqs.removeValue(forKey: id) else { return }
        var out = last ?? st.output.output
        out.textDelta = extraText
        st.output.finish(&out, reason: reason, at: Self.now())
        st.continuation.yield(out)
        st.continuation.finish()
    }

    func failAll(_ message: String) {
        for id in Array(seqs.keys) {
            scheduler.abort(id)
            if let st = seqs.removeValue(forKey: id) {
                st.continuation.yield(RequestOutput(finishReason: .abort, stopReason: message,
                                                    promptTokenCount: st.request.promptTokenIds.count,
                                                    completionTokenCount: st.output.completionTokens))
                st.continuation.finish()
            }
        }
        _ = scheduler.schedule()
    }

    static func now() -> UInt64 { OutputProcessor.now() }
    static func seconds(_ ns: UInt64) -> Double { OutputProcessor.seconds(ns) }
}

extension EngineFinishReason {
    init(_ r: FinishReason) {
        switch r {
        case .stop: self = .stop
        case .length: self = .length
        case .abort: self = .abort
        case .error: self = .error
        }
    }
}
