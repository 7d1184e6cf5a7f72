/// Unicode classes the pre-tokenizers test, as bit flags per code point (llama.cpp's `llama_codepoint_flags`).
enum CodepointFlags {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    /// Any assigned code point (llama.cpp's `flags.as_uint() != 0`).
    static let defined: UInt8 = 8
    /// `[\p{P}\$\+<=>\^~\|]` of llama.cpp's default BPE pre-tokenizer.
    static let defaultPunct: UInt8 = 16
    static let asciiDigit: UInt8 = 32

    static let ascii: [UInt8] = (0..<128).map { classifySlow(UInt32($0)) }

    @inline(__always)
    static func classify(_ value: UInt32) -> UInt8 {
        value < 128 ? ascii[Int(value)] : classifySlow(value)
    }

    static func classifySlow(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return 0 }
        let properties = scalar.properties
        var flags: UInt8
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags = letter | defined
        case .decimalNumber, .letterNumber, .otherNumber:
            flags = number | defined
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags = defaultPunct | defined
        case .unassigned:
            flags = 0
        default:
            flags = defined
        }
        if properties.isWhitespace { flags |= whitespace | defined }
        if "$+<=>^~|".unicodeScalars.contains(scalar) { flags |= defaultPunct }
        if value >= 0x30 && value <= 0x39 { flags |= asciiDigit }
        return flags
    }
}

/// Splits UTF-8 text into pre-tokenizer words. Holds its buffers so one instance serves many fragments.
/// Words are reported as code point boundaries (`ends`); `byteStart` maps code point index -> byte offset.
struct PreTokenizerScanner {
    private(set) var codepoints: [UInt32] = []   // [nCodepoints]
    private(set) var flags: [UInt8] = []         // [nCodepoints]
    private(set) var byteStart: [Int32] = []     // [nCodepoints + 1]
    private(set) var ends: [Int32] = []          // [nWords] exclusive end code point of each word, ascending
    private var spare: [Int32] = []

    /// Decodes `bytes` (valid UTF-8) and splits it into words with `rules`.
    mutating func split(_ bytes: UnsafeBufferPointer<UInt8>, rules: PreTokenizer) {
        decode(bytes)
        ends.removeAll(keepingCapacity: true)
        if codepoints.isEmpty { return }
        ends.append(Int32(codepoints.count))
        switch rules {
        case .gpt2:
            pass(.gpt2)
        case .smollm:
            pass(.runs(mask: CodepointFlags.number, maxRun: 1))
            pass(.gpt2)
        case .llama3:
            pass(.llama3(maxDigits: 3))
        case .qwen2:
            pass(.llama3(maxDigits: 1))
        case .bpeDefault:
            pass(.runs(mask: CodepointFlags.defaultPunct, maxRun: .max))
            pass(.gpt2)
            pass(.runs(mask: CodepointFlags.number, maxRun: .max))
            pass(.runs(mask: CodepointFlags.asciiDigit, maxRun: 3))
        }
    }

    enum Rule {
        case gpt2
        case llama3(maxDigits: Int)
        case runs(mask: UInt8, maxRun: Int)
    }

    private mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>) {
        codepoints.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        byteStart.removeAll(keepingCapacity: true)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            var value = b0
            var length = 1
            if b0 >= 0xF0, i + 3 < n {
                value = (b0 & 0x07) << 18 | (UInt32(bytes[i + 1]) & 0x3F) << 12
                    | (UInt32(bytes[i + 2]) & 0x3F) << 6 | (UInt32(bytes[i + 3]) & 0x3F)
                length = 4
            } else if b0 >= 0xE0, i + 2 < n {
                value = (b0 & 0x0F) << 12 | (UInt32(bytes[i + 1]) & 0x3F) << 6 | (UInt32(bytes[i + 2]) & 0x3F)
                length = 3
            } else if b0 >= 0xC0, i + 1 < n {
                value = (b0 & 0x1F) << 6 | (UInt32(bytes[i + 1]) & 0x3F)
                length = 2
            }
            codepoints.append(value)
            flags.append(CodepointFlags.classify(value))
            byteStart.append(Int32(i))
            i += length
        }
        byteStart.append(Int32(n))
    }

    /// Applies one splitting rule inside every current word (llama.cpp applies its regex list this way).
    private mutating func pass(_ rule: Rule) {
        var out = spare
        spare = []
        out.removeAll(keepingCapacity: true)
        var start = 0
        for end in ends {
            switch rule {
            case .gpt2: Self.gpt2(start, Int(end), out: &out, cps: codepoints, flags: flags)
            case .llama3(let maxDigits):
                Self.llama3(start, Int(end), maxDigits: maxDigits, out: &out, cps: codepoints, flags: flags)
            case .runs(let mask, let maxRun): Self.runs(start, Int(end), mask: mask, maxRun: maxRun, out: &out, flags: flags)
            }
            start = Int(end)
        }
        spare = ends
        ends = out
    }

    /// Maximal runs of code points having `mask` (cut every `maxRun`) and the gaps between them.
    private static func runs(_ start: Int, _ end: Int, mask: UInt8, maxRun: Int, out: inout [Int32], flags: [UInt8]) {
        var pos = start
        while pos < end {
            let inRun = flags[pos] & mask != 0
            let runStart = pos
            pos += 1
            while pos < end && (flags[pos] & mask != 0) == inRun && (!inRun || pos - runStart < maxRun) { pos += 1 }
            out.append(Int32(pos))
        }
    }
}

extension PreTokenizer {
    /// The words this pre-tokenizer cuts `text` into (before byte mapping and merges); for inspection and tests.
    public func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var scanner = PreTokenizerScanner()
        return bytes.withUnsafeBufferPointer { buffer in
            scanner.split(buffer, rules: self)
            var words: [String] = []
            var start = 0
            for end in scanner.ends {
                let lo = Int(scanner.byteStart[start]), hi = Int(scanner.byteStart[Int(end)])
                words.append(String(decoding: buffer[lo..<hi], as: UTF8.self))
                start = Int(end)
            }
            return words
        }
    }
}
