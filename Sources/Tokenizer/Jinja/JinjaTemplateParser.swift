/// Statements of the Jinja subset.
indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr)
    case ifBlock(branches: [(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode])
    case forBlock(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode])
    case set(name: String, attribute: String?, JinjaExpr)
}

/// Builds the statement tree from lexer segments. Unsupported tags are errors that name the tag.
struct JinjaTemplateParser {
    private let segments: [JinjaSegment]
    private var index = 0

    static func parse(_ source: String) throws(ChatTemplateError) -> [JinjaNode] {
        var parser = JinjaTemplateParser(segments: try JinjaLexer.segments(source))
        let (nodes, end) = try parser.block(until: [])
        if let end { throw ChatTemplateError("unexpected '{% \(end) %}'") }
        return nodes
    }

    private init(segments: [JinjaSegment]) { self.segments = segments }

    /// Nodes up to one of the `until` keywords (returned with the parser positioned after that tag's keyword).
    private mutating func block(until: Set<String>) throws(ChatTemplateError) -> ([JinjaNode], String?) {
        var nodes: [JinjaNode] = []
        while index < segments.count {
            let segment = segments[index]
            index += 1
            switch segment {
            case .text(let s): nodes.append(.text(s))
            case .output(let source):
                var p = JinjaExpressionParser(try JinjaTokenizer.tokens(source))
                let e = try p.expression()
                guard p.atEnd else { throw ChatTemplateError("unsupported syntax after expression in '{{\(source)}}'") }
                nodes.append(.output(e))
            case .statement(let source):
                var p = JinjaExpressionParser(try JinjaTokenizer.tokens(source))
                let keyword = try p.name()
                if until.contains(keyword) { pendingTag = p; return (nodes, keyword) }
                nodes.append(try statement(keyword, &p, source: source))
            }
        }
        if !until.isEmpty { throw ChatTemplateError("missing {% \(until.sorted().joined(separator: " / ")) %}") }
        return (nodes, nil)
    }

    /// The expression parser of the tag that ended the last block (for `elif <cond>`).
    private var pendingTag = JinjaExpressionParser([])

    private mutating func statement(_ keyword: String, _ p: inout JinjaExpressionParser,
                                    source: String) throws(ChatTemplateError) -> JinjaNode {
        let node: JinjaNode
        switch keyword {
        case "if": node = try ifStatement(&p)
        case "for": node = try forStatement(&p)
        case "set": node = try setStatement(&p)
        default:
            throw ChatTemplateError("unsupported tag '\(keyword)' in '{%\(source)%}'")
        }
        return node
    }

    private mutating func ifStatement(_ p: inout JinjaExpressionParser) throws(ChatTemplateError) -> JinjaNode {
        var branches: [(JinjaExpr, [JinjaNode])] = []
        var condition = try p.expression()
        try expectEnd(p)
        while true {
            let (body, end) = try block(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try pendingTag.expression()
                try expectEnd(pendingTag)
            case "else":
                try expectEnd(pendingTag)
                let (otherwise, _) = try block(until: ["endif"])
                return .ifBlock(branches: branches, otherwise: otherwise)
            default:
                return .ifBlock(branches: branches, otherwise: [])
            }
        }
    }

    private mutating func forStatement(_ p: inout JinjaExpressionParser) throws(ChatTemplateError) -> JinjaNode {
        var targets = [try p.name()]
        while p.take(.op(",")) { targets.append(try p.name()) }
        try p.expect(.name("in"))
        let iterable = try p.orExpression()
        let filter: JinjaExpr? = p.take(.name("if")) ? try p.orExpression() : nil
        if p.take(.name("recursive")) { throw ChatTemplateError("unsupported syntax: recursive for loop") }
        try expectEnd(p)
        let (body, end) = try block(until: ["else", "endfor"])
        var otherwise: [JinjaNode] = []
        if end == "else" { (otherwise, _) = try block(until: ["endfor"]) }
        return .forBlock(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
    }

    private mutating func setStatement(_ p: inout JinjaExpressionParser) throws(ChatTemplateError) -> JinjaNode {
        let name = try p.name()
        let attribute: String? = p.take(.op(".")) ? try p.name() : nil
        guard p.take(.op("=")) else { throw ChatTemplateError("unsupported syntax: block set ('{% set \(name) %}...{% endset %}')") }
        let value = try p.expression()
        try expectEnd(p)
        return .set(name: name, attribute: attribute, value)
    }

    private func expectEnd(_ p: JinjaExpressionParser) throws(ChatTemplateError) {
        guard p.atEnd else { throw ChatTemplateError("unsupported syntax: unexpected \(p.peek.map(JinjaExpressionParser.describe) ?? "")") }
    }
}
