import Foundation
import ModelFormats
import Testing

/// llama2.c checkpoint and tokenizer files.
@Suite struct Llama2cCheckpointTests {
    typealias W = Llama2cCheckpoint.Weight

    @Test func stories260KHeaderAndViews() throws {
        let m = try Llama2cCheckpoint(path: RepoFiles.stories260K)
        // header values from models/stories260K/PROVENANCE.txt
        #expect(m.config == Llama2cConfig(dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKVHeads: 4,
                                          vocabSize: 512, seqLen: 512, sharedClassifier: true))
        #expect(m.config.headSize == 8 && m.config.kvDim == 32)
        #expect(m.file.bytes.count == 1_056_540)
        let counts: [(W, Int)] = [(.tokenEmbedding, 512 * 64), (.rmsAtt, 5 * 64), (.wq, 5 * 64 * 64),
                                  (.wk, 5 * 32 * 64), (.wv, 5 * 32 * 64), (.wo, 5 * 64 * 64), (.rmsFFN, 5 * 64),
                                  (.w1, 5 * 172 * 64), (.w2, 5 * 64 * 172), (.w3, 5 * 172 * 64),
                                  (.rmsFinal, 64), (.wcls, 512 * 64)]
        for (w, n) in counts { #expect(m.floats(w).count == n, "\(w)") }
        #expect(m.floats(.wcls).baseAddress == m.floats(.tokenEmbedding).baseAddress)  // shared classifier
        #expect(m.floats(.wq, layer: 3).count == 64 * 64)
        #expect(m.floats(.w2, layer: 4).count == 64 * 172)
    }

    /// Values produced once with numpy, independently of this reader:
    ///   W = np.frombuffer(open('stories260K.bin','rb').read()[28:], np.float32)
    ///   then slicing W in llama2.c order (emb 512*64, rms_att 5*64, wq 5*64*64, wk 5*32*64, wv, wo, rms_ffn,
    ///   w1 5*172*64, w2 5*64*172, w3, rms_final 64) and printing float(a[i]) / a.astype(np.float64).sum().
    @Test func stories260KKnownValues() throws {
        let m = try Llama2cCheckpoint(path: RepoFiles.stories260K)
        let emb = m.floats(.tokenEmbedding)
        #expect(emb[0] == -0.29474878311157227 && emb[1] == 0.5618956089019775)
        #expect(emb[emb.count - 1] == -0.424032598733902)
        #expect(m.floats(.rmsAtt)[0] == 0.9722429513931274)
        #expect(m.floats(.wq)[1] == 0.07974770665168762)
        #expect(m.floats(.wk)[0] == 0.2161301076412201)
        #expect(m.floats(.wv)[0] == 0.09112543612718582)
        #expect(m.floats(.wo)[0] == 0.017344146966934204)
        #expect(m.floats(.rmsFFN)[0] == 0.7367770671844482)
        #expect(m.floats(.w1)[1] == -0.046394165605306625)
        #expect(m.floats(.w2)[0] == 0.13498419523239136)
        #expect(m.floats(.w3).last == 0.10603193938732147)
        #expect(m.floats(.rmsFinal)[0] == 2.4583089351654053)
        #expect(m.floats(.rmsFinal).last == 1.7077769041061401)
        #expect(m.floats(.wq, layer: 3)[0] == -0.01660505123436451)
        #expect(m.floats(.w2, layer: 4)[1 * 172 + 2] == -0.07738927751779556)
        #expect(m.floats(.wk, layer: 4).last == m.floats(.wk).last)
        #expect(m.floats(.wk, layer: 2).last == 0.018669389188289642)
        let sum = m.floats(.w1).reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - -76.032067056618) < 1e-6)
    }

    /// A synthetic checkpoint whose float at index i (after the header) is Float(i).
    static func checkpoint(_ header: [Int32], floats: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for h in header { bytes.le(h) }
        for i in 0..<floats { bytes.f32(Float(i)) }
        return bytes
    }

    /// Floats in the synthetic model below, written out per tensor in llama2.c order.
    static let syntheticBodyFloats: Int = {
        let sizes: [Int] = [3 * 4, 2 * 4, 2 * 16, 2 * 8, 2 * 8, 2 * 16, 2 * 4, 2 * 24, 2 * 24, 2 * 24, 4, 2, 2]
        return sizes.reduce(0, +)
    }()

    @Test func separateClassifierLayout() throws {
        // dim 4, hidden 6, layers 2, heads 2, kv 1, vocab -3 (separate wcls), seq 2; kvDim 2, headSize 2
        let body: Int = Self.syntheticBodyFloats
        let dir = try TempDir()
        let path = try dir.write("sep.bin", Self.checkpoint([4, 6, 2, 2, 1, -3, 2], floats: body + 12))
        let m = try Llama2cCheckpoint(path: path)
        #expect(m.config.sharedClassifier == false && m.config.vocabSize == 3 && m.config.kvDim == 2)
        #expect(m.floats(.tokenEmbedding).first == 0)
        #expect(m.floats(.rmsAtt).first == 12)
        let wq1: Float = 12 + 8 + 16  // emb, rmsAtt, wq layer 0
        #expect(m.floats(.wq, layer: 1).first == wq1)
        let wk: Float = 12 + 8 + 32
        #expect(m.floats(.wk).first == wk)
        let w2layer1: Float = 12 + 8 + 32 + 16 + 16 + 32 + 8 + 48 + 24  // ... w1, w2 layer 0
        #expect(m.floats(.w2, layer: 1).first == w2layer1)
        let rmsFinal = Float(body - 4 - 4)  // before rmsFinal: body minus rmsFinal (4) and freq_cis (2 + 2)
        #expect(m.floats(.rmsFinal).first == rmsFinal)
        #expect(m.floats(.wcls).first == Float(body))  // after the skipped freq_cis tables
        #expect(m.floats(.wcls).count == 12)
    }

    @Test func truncatedCheckpoint() throws {
        let dir = try TempDir()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: RepoFiles.stories260K)))
        for cut in [0, 3, 27, 28, 1000, full.count - 4, full.count - 1] {
            let path = try dir.write("cut\(cut).bin", Array(full[0..<cut]))
            expectFault(path: path, ["truncated"]) { () throws(ModelFileError) in
                _ = try Llama2cCheckpoint(path: path)
            }
        }
        let path = try dir.write("long.bin", full + [0, 0, 0, 0])
        expectFault(path: path, ["size mismatch", "1056544 bytes", "1056540 bytes"]) { () throws(ModelFileError) in
            _ = try Llama2cCheckpoint(path: path)
        }
    }

    @Test func wrongClassifierSign() throws {
        // header says shared (vocab > 0) but the file also holds a separate wcls
        let body: Int = Self.syntheticBodyFloats
        let dir = try TempDir()
        let path = try dir.write("sign.bin", Self.checkpoint([4, 6, 2, 2, 1, 3, 2], floats: body + 12))
        expectFault(path: path, ["size mismatch", "shared classifier", "sign of vocab_size"]) {
            () throws(ModelFileError) in _ = try Llama2cCheckpoint(path: path)
        }
    }

    @Test(arguments: [
        ([0, 6, 2, 2, 1, 3, 2], "dim must be positive"),
        ([4, -6, 2, 2, 1, 3, 2], "hidden_dim must be positive"),
        ([4, 6, -1, 2, 1, 3, 2], "n_layers must be positive"),
        ([4, 6, 2, 0, 1, 3, 2], "n_heads must be positive"),
        ([4, 6, 2, 2, 0, 3, 2], "n_kv_heads must be positive"),
        ([4, 6, 2, 2, 1, 0, 2], "vocab_size must be non-zero"),
        ([4, 6, 2, 2, 1, 3, 0], "seq_len must be positive"),
        ([6, 6, 2, 4, 1, 3, 2], "n_heads does not divide dim"),
        ([4, 6, 2, 2, 3, 3, 2], "n_kv_heads does not divide n_heads"),
        ([6, 6, 2, 2, 1, 3, 2], "head size 3 is odd"),
        ([1 << 30, Int32.max, Int32.max, 2, 1, Int32.min, 2], "overflow"),
    ] as [([Int32], String)])
    func badHeader(_ header: [Int32], _ fault: String) throws {
        let dir = try TempDir()
        let path = try dir.write("bad.bin", Self.checkpoint(header, floats: 64))
        expectFault(path: path, [fault]) { () throws(ModelFileError) in _ = try Llama2cCheckpoint(path: path) }
        if !fault.contains("overflow") {
            expectFault(path: path, ["bad llama2.c header"]) { () throws(ModelFileError) in
                _ = try Llama2cCheckpoint(path: path)
            }
        }
    }
}

@Suite struct Llama2cTokenizerTests {
    /// Entries checked against a one-off Python read of tok512.bin (struct.unpack_from('<fi', ...) loop)
    /// and models/stories260K/PROVENANCE.txt.
    @Test(arguments: [512, nil] as [Int?])
    func tok512(_ vocabSize: Int?) throws {
        let t = try Llama2cTokenizerFile(path: RepoFiles.tok512, vocabSize: vocabSize)
        #expect(t.maxTokenLength == 7)
        #expect(t.pieces.count == 512 && t.scores.count == 512)
        #expect(t.pieces[0] == Array("<unk>".utf8))
        #expect(t.pieces[1] == Array("\n<s>\n".utf8))
        #expect(t.pieces[2] == Array("\n</s>\n".utf8))
        #expect(t.pieces[3] == Array("<0x00>".utf8))
        #expect(t.pieces[258] == Array("<0xFF>".utf8))
        #expect(t.pieces[259] == Array(" t".utf8))
        #expect(t.pieces[300] == Array(" ha".utf8) && t.scores[300] == -41)
        #expect(t.pieces[511] == [0xe2, 0x80, 0x8a] && t.scores[511] == -252)
    }

    @Test func truncatedTokenizer() throws {
        let dir = try TempDir()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: RepoFiles.tok512)))
        #expect(full.count == 6227)
        for cut in stride(from: 0, to: full.count, by: 13) {
            let path = try dir.write("tok\(cut % 4).bin", Array(full[0..<cut]))
            let error = expectFault(path: path, []) { () throws(ModelFileError) in
                _ = try Llama2cTokenizerFile(path: path, vocabSize: 512)
            }
            #expect(error?.message.contains("truncated") == true, "cut \(cut): \(error?.message ?? "")")
        }
        let mid = try dir.write("mid.bin", Array(full[0..<(full.count - 2)]))  // cut inside the last entry
        expectFault(path: mid, ["truncated", "tokenizer entry #511"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: mid)
        }
        expectFault(path: mid, ["truncated"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: mid, vocabSize: 512)
        }
    }

    @Test func malformedTokenizer() throws {
        let dir = try TempDir()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: RepoFiles.tok512)))
        let extra = try dir.write("extra.bin", full + [1, 2, 3])
        expectFault(path: extra, ["3 unexpected bytes after 512 tokenizer entries"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: extra, vocabSize: 512)
        }
        expectFault(path: RepoFiles.tok512, ["truncated", "1000000 tokenizer entries"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: RepoFiles.tok512, vocabSize: 1_000_000)
        }
        expectFault(path: RepoFiles.tok512, ["vocab size 0"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: RepoFiles.tok512, vocabSize: 0)
        }
        var long: [UInt8] = []
        long.le(Int32(3)); long.f32(0); long.le(Int32(5)); long.append(contentsOf: Array("hello".utf8))
        let longPath = try dir.write("long.bin", long)
        expectFault(path: longPath, ["token length 5 outside 0...3", "entry #0"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: longPath)
        }
        var negative: [UInt8] = []
        negative.le(Int32(3)); negative.f32(0); negative.le(Int32(-1))
        let negPath = try dir.write("neg.bin", negative)
        expectFault(path: negPath, ["token length -1"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: negPath)
        }
        var zeroMax: [UInt8] = []
        zeroMax.le(Int32(0))
        let zeroPath = try dir.write("zero.bin", zeroMax)
        expectFault(path: zeroPath, ["max_token_length 0 must be positive"]) { () throws(ModelFileError) in
            _ = try Llama2cTokenizerFile(path: zeroPath)
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let dir = try TempDir()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: RepoFiles.tok512)))
        var rng = SplitMix64(state: 7)
        var parsed = 0
        for trial in 0..<300 {
            var bytes = Array(full[0..<Int.random(in: 0...full.count, using: &rng)])
            for _ in 0..<Int.random(in: 0...3, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let path = try dir.write("fuzz\(trial % 4).bin", bytes)
            do {
                let t = try Llama2cTokenizerFile(path: path)
                #expect(t.pieces.count == t.scores.count)
                #expect(t.pieces.allSatisfy { $0.count <= t.maxTokenLength })
                parsed += 1
            } catch {
                #expect(error.description.hasPrefix(path + ": "))
            }
        }
        #expect(parsed < 300)
    }
}
