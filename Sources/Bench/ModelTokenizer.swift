import Foundation
import ModelFormats
public import Tokenizer

/// The model's tokenizer (GGUF or llama2.c tokenizer.bin) as the datasets see it.
public struct ModelTokenizer: BenchTokenizer {
    public let tokenizer: Tokenizer
    public let promptTokenIds: [Int]

    public init(_ tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        promptTokenIds = (0..<tokenizer.vocabSize).filter { id in
            let t = tokenizer.tokenType(Int32(id))
            return (t == .normal || t == .undefined) && id != Int(tokenizer.bosId ?? -1) && id != Int(tokenizer.eosId ?? -1)
                && !tokenizer.pieceBytes(Int32(id)).isEmpty
        }
    }

    /// A GGUF file (by its magic) or a llama2.c tokenizer.bin.
    public init(path: String) throws {
        if let dir = Tokenizer.huggingFaceDirectory(forModelPath: path) {
            self.init(try Tokenizer(huggingFace: dir))
            return
        }
        let magic = FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 4) }
        guard let magic else { throw BenchError("--tokenizer: cannot read \(path)") }
        if magic == Data("GGUF".utf8) {
            self.init(try Tokenizer(gguf: GGUFFile(path: path)))
        } else {
            self.init(try Tokenizer(llama2cTokenizerPath: path))
        }
    }

    public func encode(_ text: String) -> [Int] {
        tokenizer.encode(text, addSpecial: false, parseSpecial: false).map { Int($0) }
    }

    public func decode(_ ids: [Int]) -> String {
        tokenizer.decode(ids.map { Int32($0) })
    }
}
