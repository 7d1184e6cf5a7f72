import Engine
import Foundation
import Hummingbird
import OpenAIAPI

extension GenerationHandlers {
    // MARK: /v1/chat/completions

    func chat(_ request: Request, _ context: ServerRequestContext) async throws -> Response {
        var request = request
        let req = try ChatCompletionRequest.decode(try await readBody(&request, limit: config.maxBodySize))
        try checkModel(req.model)
        try checkReady()
        let ids = try renderAndEncode(req.messages, addGenerationPrompt: req.addGenerationPrompt)
        var params = try builder.params(req.sampling, promptLengths: [ids.count], defaultMaxTokens: nil, messages: true)
        params.logprobs = req.logprobs ? (req.topLogprobs ?? 0) : nil
        let job = GenerationJob(prompts: [ids], n: req.sampling.n, params: params,
                                priority: req.sampling.priority ?? 0, requestID: context.requestID)
        let id = "chatcmpl-" + randomHex(12)
        let created = Int(Date().timeIntervalSince1970)
        let wantLogprobs = req.logprobs
        let formatter = self.formatter
        if req.stream {
            let includeUsage = req.streamOptions?.includeUsage ?? false
            let enc = ChunkEncoder(kind: .chat, id: id, created: created, model: config.servedModelName,
                                   systemFingerprint: config.systemFingerprint, includeUsage: includeUsage)
            return try stream(job, request: request, context: context, includeUsage: includeUsage) { c, state, out in
                let role: String? = state.started ? nil : "assistant"
                state.started = true
                state.absorb(out)
                let lp = wantLogprobs ? formatter.chat(out.logprobs) : nil
                let content: String? = out.textDelta.isEmpty && role == nil && out.finishReason != nil ? nil : out.textDelta
                return enc.chat(index: c, role: role, content: content, logprobs: lp, finishReason: out.finishReason?.apiName)
            } usage: { enc.usage($0) }
        }
        let states = try await collect(job, request: request, context: context) { _, state, out in
            state.started = true
            state.absorb(out)
            if wantLogprobs { state.chatLogprobs = (state.chatLogprobs ?? []) + formatter.chat(out.logprobs) }
        }
        let choices = states.enumerated().map { c, s in
            ChatChoice(index: c, message: ChatMessage(role: "assistant", content: s.text),
                       logprobs: s.chatLogprobs.map { ChatLogprobs(content: $0) },
                       finishReason: s.finishReason?.apiName, stopReason: s.stopReason)
        }
        return jsonResponse(ChatCompletionResponse(id: id, created: created, model: config.servedModelName,
                                                   systemFingerprint: config.systemFingerprint, choices: choices,
                                                   usage: usage(job, states, context)))
    }

    /// The chat template renders the conversation (it adds BOS itself, so no special tokens are added again).
    func renderAndEncode(_ messages: [ChatMessage], addGenerationPrompt: Bool, addSpecial: Bool = false) throws(APIError) -> [Int32] {
        let rendered: String
        do {
            rendered = try engine.renderChat(messages.map { ChatMessageInput(role: $0.role, content: $0.content) },
                                             addGenerationPrompt: addGenerationPrompt)
        } catch let e as EngineError {
            throw APIMiddleware.map(e)
        } catch {
            throw .invalidRequest("The messages could not be rendered with the model's chat template: \(error)",
                                  param: "messages", code: "invalid_value")
        }
        let ids = engine.encode(rendered, addSpecial: addSpecial, parseSpecial: true)
        guard !ids.isEmpty else { throw .invalidRequest("The messages render to no tokens.", param: "messages") }
        return ids
    }
}
