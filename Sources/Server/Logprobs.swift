import Engine
import OpenAIAPI

/// Float → the Double with the same shortest decimal text (so 0.1f encodes as 0.1); non-finite → -9999.
func clean(_ f: Float) -> Double {
    guard f.isFinite else { return -9999.0 }
    return Double(f.description) ?? Double(f)
}

/// The UTF-8 bytes a token text stands for; `bytes:\xNN…` escapes (invalid UTF-8 alone) are decoded.
func tokenBytes(_ text: String) -> [Int] {
    guard text.hasPrefix("bytes:") else { return text.utf8.map { Int($0) } }
    var out: [Int] = []
    var rest = Substring(text.dropFirst(6))
    while rest.hasPrefix("\\x"), rest.count >= 4, let b = UInt8(rest.dropFirst(2).prefix(2), radix: 16) {
        out.append(Int(b))
        rest = rest.dropFirst(4)
    }
    return out
}

/// Turns engine logprobs into each API's shape, naming tokens with `engine.tokenText`.
struct LogprobFormatter<E: EngineClient>: Sendable {
    let engine: E

    /// Legacy completions shape; `offset` is the running character offset of the choice's text.
    func completion(_ lps: [TokenLogprob], offset: inout Int) -> CompletionLogprobs {
        var out = CompletionLogprobs()
        for lp in lps {
            let token = engine.tokenText(lp.tokenId)
            out.tokens.append(token)
            out.tokenLogprobs.append(clean(lp.logprob))
            var top: [String: Double] = [token: clean(lp.logprob)]
            for alt in lp.top { top[engine.tokenText(alt.tokenId)] = clean(alt.logprob) }
            out.topLogprobs.append(top)
            out.textOffset.append(offset)
            offset += token.unicodeScalars.count
        }
        return out
    }

    /// Echoed prompt: the first prompt token has no logprob (null), as in OpenAI's API.
    func prompt(_ ids: [Int32], _ lps: [TokenLogprob]?, offset: inout Int) -> CompletionLogprobs {
        var out = CompletionLogprobs()
        let lps = lps ?? []
        let skip = ids.count - lps.count   // tokens with no logprob at the front (normally 1)
        for (i, id) in ids.enumerated() {
            let token = engine.tokenText(id)
            out.tokens.append(token)
            out.textOffset.append(offset)
            offset += token.unicodeScalars.count
            if i < skip { out.tokenLogprobs.append(nil); out.topLogprobs.append(nil); continue }
            let lp = lps[i - skip]
            out.tokenLogprobs.append(clean(lp.logprob))
            var top: [String: Double] = [token: clean(lp.logprob)]
            for alt in lp.top { top[engine.tokenText(alt.tokenId)] = clean(alt.logprob) }
            out.topLogprobs.append(top)
        }
        return out
    }

    func chat(_ lps: [TokenLogprob]) -> [ChatTokenLogprob] {
        lps.map { lp in
            let token = engine.tokenText(lp.tokenId)
            let top = lp.top.map { alt -> ChatTopLogprob in
                let t = engine.tokenText(alt.tokenId)
                return ChatTopLogprob(token: t, logprob: clean(alt.logprob), bytes: tokenBytes(t))
            }
            return ChatTokenLogprob(token: token, logprob: clean(lp.logprob), bytes: tokenBytes(token), topLogprobs: top)
        }
    }
}

