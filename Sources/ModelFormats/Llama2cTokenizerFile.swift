/// llama2.c `tokenizer.bin`: Int32 maxTokenLength, then per token {Float32 score, Int32 length, length bytes}.
/// With `vocabSize` exactly that many entries are read and nothing may follow; with nil, entries are read to EOF.
public struct Llama2cTokenizerFile: Sendable {
    public let maxTokenLength: Int
    public let pieces: [[UInt8]]  // [vocab] token bytes
    public let scores: [Float]    // [vocab]

    static let entryHeaderSize = 8  // score + length

    public init(path: String, vocabSize: Int? = nil) throws(ModelFileError) {
        let file = try MappedFile(path: path)
        var reader = ByteReader(bytes: file.bytes, path: path)
        let maxLength: Int32
        do { maxLength = try reader.read(Int32.self) } catch { throw error.within("llama2.c tokenizer header") }
        guard maxLength > 0 else {
            throw reader.fault("bad llama2.c tokenizer header: max_token_length \(maxLength) must be positive")
        }
        let bound = reader.remaining / Self.entryHeaderSize  // most entries the bytes left could hold
        if let vocabSize {
            guard vocabSize > 0 else {
                throw reader.fault("vocab size \(vocabSize) requested for llama2.c tokenizer must be positive")
            }
            guard vocabSize <= bound else {
                throw reader.fault("truncated: \(file.bytes.count) bytes cannot hold \(vocabSize) tokenizer "
                    + "entries (at least \(Self.entryHeaderSize) bytes each)")
            }
        }
        var pieces: [[UInt8]] = []  // [vocab]
        var scores: [Float] = []    // [vocab]
        pieces.reserveCapacity(vocabSize ?? 0)
        scores.reserveCapacity(vocabSize ?? 0)
        while vocabSize.map({ pieces.count < $0 }) ?? (reader.remaining > 0) {
            let index = pieces.count
            do throws(ModelFileError) {
                let (score, piece) = try Self.readEntry(&reader, maxLength: Int(maxLength))
                scores.append(score)
                pieces.append(piece)
            } catch {
                throw error.within("tokenizer entry #\(index)")
            }
        }
        if reader.remaining > 0 {
            throw reader.fault("\(reader.remaining) unexpected bytes after \(pieces.count) tokenizer entries")
        }
        guard !pieces.isEmpty else { throw reader.fault("llama2.c tokenizer has no entries") }
        self.maxTokenLength = Int(maxLength)
        self.pieces = pieces
        self.scores = scores
    }

    private static func readEntry(_ reader: inout ByteReader,
                                  maxLength: Int) throws(ModelFileError) -> (Float, [UInt8]) {
        let score = try reader.readFloat32()
        let length = Int(try reader.read(Int32.self))
        guard length >= 0, length <= maxLength else {
            throw reader.fault("token length \(length) outside 0...\(maxLength) (max_token_length)")
        }
        let bytes = try reader.readBytes(length)
        return (score, [UInt8](bytes))
    }
}
