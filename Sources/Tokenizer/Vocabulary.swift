/// Which tokenization algorithm a vocabulary uses.
public enum TokenizerKind: String, Sendable, Equatable {
    /// SentencePiece-style BPE over score-ranked pieces with `<0xNN>` byte fallback (GGUF `tokenizer.ggml.model` "llama").
    case sentencePiece
    /// Byte-level BPE with GPT-2's byte-to-unicode mapping and ranked merges (GGUF "gpt2").
    case byteLevelBPE
    /// llama2.c `run.c` encoding: dummy-prefix space, per-char lookup with byte fallback `byte + 3`, best-score pair merging.
    case llama2c
}

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
public enum TokenType: Int, Sendable, Equatable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// How byte-level BPE text is split into words before merging; named after llama.cpp's `LLAMA_VOCAB_PRE_TYPE_*`.
public enum PreTokenizer: String, Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// SmolLM / StarCoder: every `\p{N}` is its own piece first, then the GPT-2 rules inside each piece.
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Qwen 2: the Llama 3 rules with single digits (`\p{N}`).
    case qwen2
    /// llama.cpp's fallback for BPE vocabularies without a known `tokenizer.ggml.pre`:
    /// punctuation runs, then GPT-2, then `\p{N}+`, then groups of three ASCII digits.
    case bpeDefault

    /// Maps a GGUF `tokenizer.ggml.pre` value (as llama.cpp's `llama_vocab::impl::load` does); nil if unsupported.
    public init?(ggufName: String?) {
        guard let name = ggufName, !name.isEmpty else { self = .bpeDefault; return }
        switch name {
        case "default": self = .bpeDefault
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
             "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe": self = .llama3
        case "qwen2", "stablelm2", "megrez": self = .qwen2
        default: return nil
        }
    }
}

/// A tokenizer's data, independent of the file it came from. All algorithms work on this value.
public struct Vocabulary: Sendable {
    public var kind: TokenizerKind
    /// Token strings as stored (bytes; llama2.c pieces need not be valid UTF-8). Index = token id.
    public var tokens: [[UInt8]]
    /// Per-token scores (SentencePiece / llama2.c); empty for byte-level BPE.
    public var scores: [Float]
    /// Per-token types; empty means all `.normal`.
    public var types: [TokenType]
    /// Byte-level BPE merges in rank order, each "left right".
    public var merges: [String]
    public var preTokenizer: PreTokenizer
    public var bosId: Int32?
    public var eosId: Int32?
    public var unknownId: Int32?
    /// Extra end-of-generation ids declared by the file (`tokenizer.ggml.eot_token_id`, `eom_token_id`).
    public var extraStopIds: [Int32]
    public var addBOS: Bool
    public var addEOS: Bool
    /// Prepend a space (SentencePiece dummy prefix) to text that starts the input or follows a special token.
    public var addSpacePrefix: Bool
    /// Llama 3 style: a pre-tokenized word that is itself a token is emitted without merging.
    public var ignoreMerges: Bool
    public var chatTemplate: String?

    public init(kind: TokenizerKind, tokens: [[UInt8]], scores: [Float] = [], types: [TokenType] = [],
                merges: [String] = [], preTokenizer: PreTokenizer = .gpt2, bosId: Int32? = nil,
                eosId: Int32? = nil, unknownId: Int32? = nil, extraStopIds: [Int32] = [],
                addBOS: Bool = false, addEOS: Bool = false, addSpacePrefix: Bool = false,
                ignoreMerges: Bool = false, chatTemplate: String? = nil) {
        self.kind = kind
        self.tokens = tokens
        self.scores = scores
        self.types = types
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.bosId = bosId
        self.eosId = eosId
        self.unknownId = unknownId
        self.extraStopIds = extraStopIds
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.ignoreMerges = ignoreMerges
        self.chatTemplate = chatTemplate
    }

    /// Token texts that end a turn; llama.cpp marks these control and end-of-generation by name.
    static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
    ]
}

/// Errors from building a tokenizer out of a model file or vocabulary.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "tokenizer: \(message)" }
}
