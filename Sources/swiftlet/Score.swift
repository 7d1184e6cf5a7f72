import ArgumentParser
import Foundation
import Model
import Tensor

/// Teacher-forced scoring of token sequences: for every position, the model's top-1 prediction of the next token
/// and the log-likelihood of the actual one. Used to measure how `--precision fast` agrees with a reference
/// (scripts/precision-agreement.sh) and as a perplexity tool.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teacher-forced scoring: top-1 next-token predictions and log-likelihoods at every position.")

    @Option(help: "Model file (GGUF, llama2.c .bin or a Hugging Face directory).")
    var model: String

    @Option(help: "JSONL file, one token-id array per line.")
    var idsFile: String

    @Option(help: "Numerics of the projections: exact or fast.")
    var precision: Precision = .exact

    func run() throws {
        let m = try DecoderModel.load(path: model)
        m.precision = precision
        let lines = try String(contentsOfFile: idsFile, encoding: .utf8).split(separator: "\n")
        let seqs = try lines.map { try JSONDecoder().decode([Int32].self, from: Data($0.utf8)) }
        let longest = seqs.map(\.count).max() ?? 0
        let blockSize = 16, blocks = (longest + blockSize - 1) / blockSize
        try m.allocateKVCache(blockSize: blockSize, numBlocks: max(blocks, 1))
        let table = (0..<Int32(max(blocks, 1))).map { $0 }
        var nll = 0.0, scored = 0
        for ids in seqs where ids.count >= 2 {
            // one chunk per 256 positions, logits of every position
            var top1: [Int32] = []
            var start = 0
            while start < ids.count - 1 {
                let end = min(start + 256, ids.count - 1)
                var b = ForwardBatch()
                b.add(tokens: ids[start..<end], startPosition: start, blockTable: table, wantLogits: false)
                b.logitRows = (0..<Int32(end - start)).map { $0 }
                let out = m.forward(b)
                for i in 0..<(end - start) {
                    let row = out.row(i)
                    var best = 0, mx = row[0]
                    for j in 1..<row.count where row[j] > mx { mx = row[j]; best = j }
                    var sum = 0.0
                    for j in 0..<row.count { sum += Foundation.exp(Double(row[j] - mx)) }
                    nll -= Double(row[Int(ids[start + i + 1])] - mx) - Foundation.log(sum)
                    top1.append(Int32(best))
                }
                start = end
            }
            scored += top1.count
            let enc = JSONEncoder()
            print(String(decoding: try enc.encode(["top1": top1]), as: UTF8.self))
        }
        FileHandle.standardError.write(Data(String(format: "%d positions, perplexity %.3f\n", scored,
                                                   Foundation.exp(nll / Double(max(scored, 1)))).utf8))
    }
}
