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
        let tools = ToolPlan(tools: req.tools, choice: req.toolChoice, parallel: req.parallelToolCalls)
        let ids = try renderAndEncode(tools.templateMessages(req.messages), addGenerationPrompt: req.addGenerationPrompt)
        var params = try builder.params(req.sampling, promptLengths: [ids.count], defaultMaxTokens: nil, messages: true)
        params.logprobs = req.logprobs ? (req.topLogprobs ?? 0) : nil
        params.constraint = req.constraint?.spec ?? tools.constraint
        let job = GenerationJob(prompts: [ids], n: req.sampling.n, params: params,
                                priority: req.sampling.priority ?? 0, requestID: context.requestID)
        let id = "chatcmpl-" + randomHex(12)
        let created = Int(Date().timeIntervalSince1970)
        let names = Set(tools.offered.map(\.name))
        let choices = (0..<job.choiceCount).map { c in
            ChoiceAccumulator(index: c, endpoint: .chat(tools: tools.active ? ToolCallStream(toolNames: names) : nil),
                              formatter: formatter, logprobs: req.logprobs)
        }
        if req.stream {
            let includeUsage = req.streamOptions?.includeUsage ?? false
            let enc = ChunkEncoder(kind: .chat, id: id, created: created, model: config.servedModelName,
                                   systemFingerprint: config.systemFingerprint, includeUsage: includeUsage)
            return try stream(job, request: request, context: context, choices: choices, encoder: enc, includeUsage: includeUsage)
        }
        let done = try await collect(job, request: request, context: context, choices: choices)
        return jsonResponse(ChatCompletionResponse(id: id, created: created, model: config.servedModelName,
                                                   systemFingerprint: config.systemFingerprint, choices: done.map(\.chatChoice),
                                                   usage: usage(job, done, context)))
    }

    /// The chat template renders the conversation (it adds BOS itself, so no special tokens are added again).
    func renderAndEncode(_ messages: [ChatMessageInput], addGenerationPrompt: Bool, addSpecial: Bool = false) throws(APIError) -> [Int32] {
        let rendered: String
        do {
            rendered = try engine.renderChat(messages, addGenerationPrompt: addGenerationPrompt)
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
