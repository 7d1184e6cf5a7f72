/// Hand-written scanners equivalent to the pre-tokenizer regexes (after llama.cpp's
/// `unicode_regex_split_custom_gpt2` / `_llama3`). They work on one word `[start, end)` of code points
/// and append the exclusive end of every piece to `out`. Code points outside the word read as flags 0.
extension PreTokenizerScanner {
    private static let L = CodepointFlags.letter, N = CodepointFlags.number, S = CodepointFlags.whitespace

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ start: Int, _ end: Int, out: inout [Int32], cps: [UInt32], flags: [UInt8]) {
        @inline(__always) func flagsAt(_ p: Int) -> UInt8 { p < end ? flags[p] : 0 }
        var pos = start
        while pos < end {
            let c = cps[pos]
            if let n = contraction(at: pos, end: end, cps: cps, caseInsensitive: false) {
                pos += n; out.append(Int32(pos)); continue
            }
            let space = c == 0x20
            var f2 = space ? flagsAt(pos + 1) : flags[pos]
            if f2 & L != 0 || f2 & N != 0 {
                let cls = f2 & L != 0 ? L : N
                if space { pos += 1 }
                while f2 & cls != 0 { pos += 1; f2 = flagsAt(pos) }
                out.append(Int32(pos)); continue
            }
            if f2 & (S | L | N) == 0 && f2 != 0 {
                if space { pos += 1 }
                while f2 & (S | L | N) == 0 && f2 != 0 { pos += 1; f2 = flagsAt(pos) }
                out.append(Int32(pos)); continue
            }
            pos = whitespaceRun(pos, end: end, flags: flags)
            out.append(Int32(pos))
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func llama3(_ start: Int, _ end: Int, maxDigits: Int, out: inout [Int32], cps: [UInt32], flags: [UInt8]) {
        @inline(__always) func flagsAt(_ p: Int) -> UInt8 { p < end ? flags[p] : 0 }
        @inline(__always) func isCRLF(_ p: Int) -> Bool { p < end && (cps[p] == 0x0D || cps[p] == 0x0A) }
        var pos = start
        while pos < end {
            let c = cps[pos], f = flags[pos]
            if let n = contraction(at: pos, end: end, cps: cps, caseInsensitive: true) {
                pos += n; out.append(Int32(pos)); continue
            }
            if !(c == 0x0D || c == 0x0A || f & N != 0) && (f & L != 0 || flagsAt(pos + 1) & L != 0) {
                pos += 1
                while flagsAt(pos) & L != 0 { pos += 1 }
                out.append(Int32(pos)); continue
            }
            if f & N != 0 {
                var runStart = pos
                while flagsAt(pos) & N != 0 {
                    pos += 1
                    if pos - runStart >= maxDigits { out.append(Int32(pos)); runStart = pos }
                }
                if pos > runStart { out.append(Int32(pos)) }
                continue
            }
            var f2 = c == 0x20 ? flagsAt(pos + 1) : f
            if f2 & (S | L | N) == 0 && f != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & (S | L | N) == 0 && f2 != 0 { pos += 1; f2 = flagsAt(pos) }
                while isCRLF(pos) { pos += 1 }
                out.append(Int32(pos)); continue
            }
            var count = 0, lastLineBreakEnd = -1
            while flagsAt(pos + count) & S != 0 {
                if isCRLF(pos + count) { lastLineBreakEnd = pos + count + 1 }
                count += 1
            }
            if lastLineBreakEnd >= 0 {
                pos = lastLineBreakEnd
            } else {
                pos = whitespaceRun(pos, end: end, flags: flags)
            }
            out.append(Int32(pos))
        }
    }

    /// `\s+(?!\S)|\s+`, or a lone unmatched code point: returns the end of the piece starting at `pos`.
    @inline(__always)
    private static func whitespaceRun(_ pos: Int, end: Int, flags: [UInt8]) -> Int {
        var count = 0
        while pos + count < end && flags[pos + count] & S != 0 { count += 1 }
        if count > 1 && pos + count < end { return pos + count - 1 }  // leave one space for the next word
        if count > 0 { return pos + count }
        return pos + 1
    }

    /// Length of a contraction (`'s`, `'t`, `'m`, `'d`, `'re`, `'ve`, `'ll`) starting at `pos`, if any.
    @inline(__always)
    private static func contraction(at pos: Int, end: Int, cps: [UInt32], caseInsensitive: Bool) -> Int? {
        guard cps[pos] == 0x27, pos + 1 < end else { return nil }
        func lower(_ v: UInt32) -> UInt32 { caseInsensitive && v >= 0x41 && v <= 0x5A ? v + 32 : v }
        let a = lower(cps[pos + 1])
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        guard pos + 2 < end else { return nil }
        let b = lower(cps[pos + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return nil
    }
}
