import Foundation
import ModelFormats
import Tensor
import Testing

/// Synthetic GGUF files built with the test-only `GGUFWriter`, valid and broken.
@Suite struct GGUFMalformedTests {
    /// A small valid v3 file: 4 key-values (string, uint32, string array, float32) and two tensors
    /// (F32 [4] and Q8_0 [32, 2]); the last tensor ends exactly at EOF.
    static func smallValid() -> GGUFWriter {
        var w = GGUFWriter()
        w.add("general.architecture", .string("llama"))
        w.add("llama.block_count", .uint32(1))
        w.add("tokenizer.ggml.tokens", .array([.string("a"), .string("bc"), .string("")]))
        w.add("llama.rope.freq_base", .float32(10000))
        w.addF32Tensor("norm.weight", dims: [4], values: [1, 2, 3, 4])
        var q8: [UInt8] = []  // 2 blocks: f16 scale 1.0 (0x3c00), int8 values 0...31
        for _ in 0..<2 {
            q8.le(UInt16(0x3c00))
            q8.append(contentsOf: (0..<32).map { UInt8($0) })
        }
        w.addTensor("embd.weight", dims: [32, 2], type: 8, data: q8)
        return w
    }

    @Test func smallValidParses() throws {
        let dir = try TempDir()
        let path = try dir.write("ok.gguf", Self.smallValid().bytes())
        let g = try GGUFFile(path: path)
        #expect(g.version == 3)
        #expect(g.architecture == "llama")
        #expect(g.int("llama.block_count") == 1)
        #expect(g.float("llama.rope.freq_base") == 10000)
        #expect(g.stringArray("tokenizer.ggml.tokens") == ["a", "bc", ""])
        #expect(g.tensorInfos.map(\.name) == ["norm.weight", "embd.weight"])
        let norm = try g.requireTensor("norm.weight", type: [.f32], dims: [4])
        #expect(norm.byteCount == 16)
        let data = try g.tensorBytes("norm.weight")
        #expect((0..<4).map { data.load(fromByteOffset: 4 * $0, as: Float.self) } == [1, 2, 3, 4])
        let embd = try g.requireTensor("embd.weight", type: [.q8_0, .q4_0])
        #expect(embd.offset == 32 && embd.byteCount == 68 && embd.elementCount == 64)
        let embdBytes = try g.tensorBytes("embd.weight")
        #expect(embdBytes.count == 68 && embdBytes[2 + 31] == 31)
    }

    @Test func everyTruncationThrows() throws {
        let dir = try TempDir()
        let full = Self.smallValid().bytes()
        _ = try GGUFFile(path: try dir.write("full.gguf", full))
        for cut in 0..<full.count {
            let path = try dir.write("cut\(cut).gguf", Array(full[0..<cut]))
            let error = expectFault(path: path, []) { () throws(ModelFileError) in _ = try GGUFFile(path: path) }
            let m = error?.message ?? ""
            #expect(m.contains("truncated") || m.contains("out of range") || m.contains("too small")
                || m.contains("absurd"), "cut \(cut): \(m)")
        }
    }

    @Test func randomByteCorruptionNeverCrashes() throws {
        let dir = try TempDir()
        let full = Self.smallValid().bytes()
        var rng = SplitMix64(state: 42)
        var failures = 0
        for trial in 0..<1000 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let path = try dir.write("fuzz\(trial % 8).gguf", bytes)
            do {
                let g = try GGUFFile(path: path)
                for info in g.tensorInfos {  // every accepted range lies inside the file
                    let view = try g.tensorBytes(info.name)
                    #expect(view.count == info.byteCount)
                    #expect(g.dataOffset + info.offset + info.byteCount <= bytes.count)
                }
            } catch {
                failures += 1
                #expect(error.description.hasPrefix(path + ": "))
            }
        }
        #expect(failures > 0)
    }

    @Test func badMagic() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.magic = Array("GGML".utf8)
        let path = try dir.write("magic.gguf", w.bytes())
        expectFault(path: path, ["bad magic", "'GGML'", "expected 'GGUF'"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        let empty = try dir.write("empty.gguf", [])
        expectFault(path: empty, ["not a GGUF file", "0 bytes"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: empty)
        }
    }

    @Test(arguments: [UInt32(1), 99, 0x0300_0000])
    func unsupportedVersion(_ version: UInt32) throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.version = version
        let path = try dir.write("v\(version).gguf", w.bytes())
        expectFault(path: path, ["unsupported GGUF version \(version)"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
    }

    @Test func version2Accepted() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.version = 2
        let g = try GGUFFile(path: try dir.write("v2.gguf", w.bytes()))
        #expect(g.version == 2)
        #expect(g.tensorInfos.count == 2)
    }

    @Test func tensorDataPastEOF() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addF32Tensor("late.weight", dims: [8], values: Array(repeating: 0, count: 8))
        var bytes = w.bytes()
        bytes.removeLast(4)  // the last tensor is 4 bytes short
        let path = try dir.write("short.gguf", bytes)
        expectFault(path: path, ["tensor late.weight", "out of range"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        var far = Self.smallValid()
        far.addTensor("far.weight", dims: [4], type: 0, data: [UInt8](repeating: 0, count: 16),
                      offsetOverride: 1 << 40)
        let farPath = try dir.write("far.gguf", far.bytes())
        expectFault(path: farPath, ["tensor far.weight", "out of range"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: farPath)
        }
        var huge = Self.smallValid()
        huge.addTensor("huge.weight", dims: [4], type: 0, data: [], offsetOverride: UInt64.max - 7)
        let hugePath = try dir.write("huge.gguf", huge.bytes())
        expectFault(path: hugePath, ["tensor huge.weight", "absurd data offset"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: hugePath)
        }
    }

    @Test func misalignedOffset() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("odd.weight", dims: [4], type: 0, data: [UInt8](repeating: 0, count: 16), offsetOverride: 100)
        let path = try dir.write("misaligned.gguf", w.bytes())
        expectFault(path: path, ["tensor odd.weight", "misaligned", "alignment 32"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
    }

    @Test func f32MisalignedInMemoryWithSmallAlignment() throws {
        // general.alignment 2: an F16 at data offset 0 and an F32 at data offset 2. Keys of lengths 3 and 5 shift
        // the data section by 2 bytes, so in exactly one file the F32 starts at an absolute offset that is
        // 2 mod 4: that file must be rejected, the other accepted.
        let dir = try TempDir()
        var outcomes: [String?] = []  // nil = parsed
        for key in ["pad", "pad12"] {
            var w = GGUFWriter()
            w.alignment = 2
            w.add("general.alignment", .uint32(2))
            w.add(key, .uint8(0))
            w.addTensor("h.weight", dims: [1], type: 1, data: [0, 0x3c])  // one F16
            w.addF32Tensor("f.weight", dims: [1], values: [1])
            let path = try dir.write("\(key).gguf", w.bytes())
            do {
                let g = try GGUFFile(path: path)
                let f = try g.requireTensor("f.weight", type: [.f32])
                #expect((g.dataOffset + f.offset) % 4 == 0)
                outcomes.append(nil)
            } catch {
                outcomes.append(error.message)
            }
        }
        let failures = outcomes.compactMap { $0 }
        #expect(failures.count == 1)
        #expect(failures.first?.contains("tensor f.weight data at absolute offset") == true)
        #expect(failures.first?.contains("misaligned for F32") == true)
    }

    @Test func unsupportedIntegerTensorType() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("pad", dims: [1], type: 24, data: [7])
        let path = try dir.write("i8.gguf", w.bytes())
        expectFault(path: path, ["tensor pad has unsupported type 24 (I8)"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
    }

    @Test func badAlignmentValue() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.add("general.alignment", .uint32(24))
        let path = try dir.write("align24.gguf", w.bytes())
        expectFault(path: path, ["general.alignment", "power of two"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
    }

    @Test func unknownTensorType() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("blk.0.x", dims: [256], type: 15, data: [UInt8](repeating: 0, count: 292))
        let path = try dir.write("q8k.gguf", w.bytes())
        expectFault(path: path, ["tensor blk.0.x has unsupported type 15 (Q8_K)", "supported: F32, F16, BF16"]) {
            () throws(ModelFileError) in _ = try GGUFFile(path: path)
        }
        var v = Self.smallValid()
        v.addTensor("blk.0.y", dims: [4], type: 1000, data: [])
        let path2 = try dir.write("t1000.gguf", v.bytes())
        expectFault(path: path2, ["unsupported type 1000 (unknown)"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path2)
        }
    }

    @Test func rowLengthNotMultipleOfBlock() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("q.weight", dims: [33, 1], type: 3, data: [UInt8](repeating: 0, count: 40))
        let path = try dir.write("row.gguf", w.bytes())
        expectFault(path: path, ["tensor q.weight", "row length 33", "Q4_1 block size 32"]) {
            () throws(ModelFileError) in _ = try GGUFFile(path: path)
        }
    }

    @Test func absurdDims() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("big.weight", dims: [1 << 32, 1 << 32, 1 << 32], type: 0, data: [])
        let path = try dir.write("dims.gguf", w.bytes())
        expectFault(path: path, ["tensor big.weight", "absurd dims"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        var v = Self.smallValid()
        v.addTensor("five.weight", dims: [1, 1, 1, 1, 1], type: 0, data: [0, 0, 0, 0])
        let path5 = try dir.write("five.gguf", v.bytes())
        expectFault(path: path5, ["tensor five.weight has 5 dimensions"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path5)
        }
    }

    @Test func hugeStringLength() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        var payload: [UInt8] = []
        payload.le(UInt64(1) << 60)
        payload.append(contentsOf: Array("abc".utf8))
        w.addRaw("general.name", type: 8, payload: payload)
        let path = try dir.write("str.gguf", w.bytes())
        expectFault(path: path, ["absurd string length 1152921504606846976", "metadata key 'general.name'"]) {
            () throws(ModelFileError) in _ = try GGUFFile(path: path)
        }
    }

    @Test func hugeArrayCount() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        var payload: [UInt8] = []
        payload.le(UInt32(8))  // array of strings
        payload.le(UInt64.max)
        w.addRaw("tokenizer.ggml.merges", type: 9, payload: payload)
        let path = try dir.write("arr.gguf", w.bytes())
        expectFault(path: path, ["absurd array count 18446744073709551615", "tokenizer.ggml.merges"]) {
            () throws(ModelFileError) in _ = try GGUFFile(path: path)
        }
    }

    @Test func hugeHeaderCounts() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.tensorCountOverride = 1 << 62
        let path = try dir.write("tc.gguf", w.bytes())
        expectFault(path: path, ["absurd tensor count 4611686018427387904"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        var v = Self.smallValid()
        v.kvCountOverride = 1_000_000
        let path2 = try dir.write("kc.gguf", v.bytes())
        expectFault(path: path2, ["absurd metadata key-value count 1000000"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path2)
        }
        var u = Self.smallValid()
        u.kvCountOverride = 100  // fewer than the file's bytes, but 100 entries cannot fit in what is left
        let path3 = try dir.write("kc100.gguf", u.bytes())
        expectFault(path: path3, ["truncated: metadata key-value count 100"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path3)
        }
    }

    @Test func unknownValueTypeAndBadBool() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addRaw("x.weird", type: 13, payload: [0, 0, 0, 0])
        let path = try dir.write("vt.gguf", w.bytes())
        expectFault(path: path, ["unknown metadata value type 13", "x.weird"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        var v = Self.smallValid()
        v.addRaw("x.flag", type: 7, payload: [2])
        let path2 = try dir.write("bool.gguf", v.bytes())
        expectFault(path: path2, ["invalid bool byte 2", "x.flag"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path2)
        }
    }

    @Test func duplicates() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.add("llama.block_count", .uint32(2))
        let path = try dir.write("dupkey.gguf", w.bytes())
        expectFault(path: path, ["duplicate metadata key", "llama.block_count"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path)
        }
        var v = Self.smallValid()
        v.addF32Tensor("norm.weight", dims: [4], values: [0, 0, 0, 0])
        let path2 = try dir.write("duptensor.gguf", v.bytes())
        expectFault(path: path2, ["duplicate tensor name", "norm.weight"]) { () throws(ModelFileError) in
            _ = try GGUFFile(path: path2)
        }
    }

    @Test func overlappingTensors() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        w.addTensor("alias.weight", dims: [4], type: 0, data: [UInt8](repeating: 0, count: 16), offsetOverride: 32)
        let path = try dir.write("overlap.gguf", w.bytes())
        expectFault(path: path, ["overlaps"]) { () throws(ModelFileError) in _ = try GGUFFile(path: path) }
    }

    @Test func deeplyNestedArrays() throws {
        let dir = try TempDir()
        var w = Self.smallValid()
        var payload: [UInt8] = []
        for _ in 0..<50 { payload.le(UInt32(9)); payload.le(UInt64(1)) }
        payload.le(UInt32(4)); payload.le(UInt64(0))
        w.addRaw("x.nested", type: 9, payload: payload)
        let path = try dir.write("nest.gguf", w.bytes())
        expectFault(path: path, ["nested deeper"]) { () throws(ModelFileError) in _ = try GGUFFile(path: path) }
    }

    @Test func missingTensorAndRequireTensorMismatch() throws {
        let dir = try TempDir()
        let path = try dir.write("ok.gguf", Self.smallValid().bytes())
        let g = try GGUFFile(path: path)
        expectFault(path: path, ["missing tensor output.weight"]) { () throws(ModelFileError) in
            _ = try g.tensorBytes("output.weight")
        }
        expectFault(path: path, ["missing tensor output.weight"]) { () throws(ModelFileError) in
            _ = try g.requireTensor("output.weight")
        }
        expectFault(path: path, ["tensor embd.weight", "shape [32, 2]", "expected [32, 3]"]) {
            () throws(ModelFileError) in _ = try g.requireTensor("embd.weight", dims: [32, 3])
        }
        expectFault(path: path, ["tensor embd.weight", "type Q8_0", "expected F16 or F32"]) {
            () throws(ModelFileError) in _ = try g.requireTensor("embd.weight", type: [.f32, .f16])
        }
    }

    @Test func notARegularFileOrMissing() throws {
        let dir = try TempDir()
        let missing = dir.url.appendingPathComponent("nope.gguf").path
        expectFault(path: missing, ["cannot open"]) { () throws(ModelFileError) in _ = try GGUFFile(path: missing) }
        expectFault(path: dir.url.path, ["not a regular file"]) { () throws(ModelFileError) in
            _ = try MappedFile(path: dir.url.path)
        }
    }
}

@Suite struct MappedFileTests {
    @Test func emptyAndSmallFiles() throws {
        let dir = try TempDir()
        let empty = try MappedFile(path: try dir.write("empty", []))
        #expect(empty.bytes.count == 0)
        let small = try MappedFile(path: try dir.write("small", [1, 2, 3]))
        #expect(Array(small.bytes) == [1, 2, 3])
        #expect(small.path.hasSuffix("/small"))
    }

    @Test func ggmlTypeSizes() {
        #expect(GGMLType.allCases.map(\.blockSize) == [1, 1, 32, 32, 32, 32, 32, 256, 256, 256, 256, 256, 1])
        #expect(GGMLType.allCases.map(\.bytesPerBlock) == [4, 2, 18, 20, 22, 24, 34, 84, 110, 144, 176, 210, 2])
        #expect(GGMLType.q4_K.byteCount(elements: 512) == 288)
        #expect(GGMLType.q6_K.byteCount(elements: 255) == nil)
        #expect(GGMLType.q4_1.byteCount(elements: 64) == 40)
        #expect(GGMLType.q4_1.byteCount(elements: 63) == nil)
        #expect(GGMLType.name(ofRawType: 14) == "Q6_K")
    }
}
