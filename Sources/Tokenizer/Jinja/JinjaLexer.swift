/// Splits a Jinja template into text and tags, applying whitespace control as Hugging Face renders chat
/// templates: `trim_blocks` and `lstrip_blocks` on, plus explicit `{%-` / `-%}` markers.
enum JinjaSegment: Equatable {
    case text(String)
    case output(String)     // inside {{ }}
    case statement(String)  // inside {% %}
}

struct JinjaLexer {
    private enum Kind { case text, output, statement, comment }
    private struct Raw {
        var kind: Kind
        var body: Substring
        var trimLeft = false   // {%- : strip whitespace before
        var trimRight = false  // -%} : strip whitespace after
        var keepLeft = false   // {%+ : no lstrip_blocks
    }

    static func segments(_ source: String) throws(ChatTemplateError) -> [JinjaSegment] {
        var raws = try split(source)
        applyWhitespaceControl(&raws)
        return raws.compactMap { raw in
            switch raw.kind {
            case .text: return raw.body.isEmpty ? nil : .text(String(raw.body))
            case .output: return .output(String(raw.body))
            case .statement: return .statement(String(raw.body))
            case .comment: return nil
            }
        }
    }

    private static func split(_ source: String) throws(ChatTemplateError) -> [Raw] {
        var raws: [Raw] = []
        var rest = source[...]
        while !rest.isEmpty {
            guard let open = nextTagStart(rest) else { raws.append(Raw(kind: .text, body: rest)); break }
            raws.append(Raw(kind: .text, body: rest[..<open]))
            let marker = rest[rest.index(after: open)]
            let (kind, close): (Kind, String) = marker == "{" ? (.output, "}}") : marker == "%" ? (.statement, "%}") : (.comment, "#}")
            var bodyStart = rest.index(open, offsetBy: 2)
            guard let closeRange = find(close, in: rest[bodyStart...]) else {
                throw ChatTemplateError("unclosed tag '\(rest[open...].prefix(20))'")
            }
            var raw = Raw(kind: kind, body: "")
            if bodyStart < closeRange.lowerBound, rest[bodyStart] == "-" { raw.trimLeft = true; bodyStart = rest.index(after: bodyStart) }
            else if bodyStart < closeRange.lowerBound, rest[bodyStart] == "+" { raw.keepLeft = true; bodyStart = rest.index(after: bodyStart) }
            var bodyEnd = closeRange.lowerBound
            if bodyEnd > bodyStart, rest[rest.index(before: bodyEnd)] == "-" { raw.trimRight = true; bodyEnd = rest.index(before: bodyEnd) }
            raw.body = rest[bodyStart..<max(bodyStart, bodyEnd)]
            raws.append(raw)
            rest = rest[closeRange.upperBound...]
        }
        return raws
    }

    private static func find(_ needle: String, in s: Substring) -> Range<Substring.Index>? {
        var i = s.startIndex
        while i < s.endIndex {
            if s[i...].hasPrefix(needle) { return i..<s.index(i, offsetBy: needle.count) }
            i = s.index(after: i)
        }
        return nil
    }

    private static func nextTagStart(_ s: Substring) -> Substring.Index? {
        var i = s.startIndex
        while let brace = s[i...].firstIndex(of: "{") {
            let after = s.index(after: brace)
            if after < s.endIndex, "{%#".contains(s[after]) { return brace }
            i = after
        }
        return nil
    }

    private static func applyWhitespaceControl(_ raws: inout [Raw]) {
        for i in raws.indices where raws[i].kind != .text {
            let isBlock = raws[i].kind == .statement || raws[i].kind == .comment
            if i > 0 && raws[i - 1].kind == .text {
                if raws[i].trimLeft {
                    raws[i - 1].body = trimmedTrailing(raws[i - 1].body)
                } else if isBlock && !raws[i].keepLeft {
                    raws[i - 1].body = lstripBlock(raws[i - 1].body)
                }
            }
            if i + 1 < raws.count && raws[i + 1].kind == .text {
                if raws[i].trimRight {
                    raws[i + 1].body = raws[i + 1].body.drop(while: \.isWhitespace)
                } else if isBlock {
                    var next = raws[i + 1].body
                    if next.hasPrefix("\r\n") { next = next.dropFirst(2) } else if next.hasPrefix("\n") { next = next.dropFirst() }
                    raws[i + 1].body = next
                }
            }
        }
    }

    private static func trimmedTrailing(_ s: Substring) -> Substring {
        var end = s.endIndex
        while end > s.startIndex, s[s.index(before: end)].isWhitespace { end = s.index(before: end) }
        return s[..<end]
    }

    /// lstrip_blocks: spaces/tabs between the last line start and a block tag are removed.
    /// Looks at the original source (`base`), so a newline already removed by trim_blocks still counts.
    private static func lstripBlock(_ s: Substring) -> Substring {
        var end = s.endIndex
        while end > s.startIndex, s[s.index(before: end)] == " " || s[s.index(before: end)] == "\t" { end = s.index(before: end) }
        let base = s.base
        let atLineStart = end == base.startIndex || base[base.index(before: end)] == "\n"
        return atLineStart ? s[..<end] : s
    }
}
