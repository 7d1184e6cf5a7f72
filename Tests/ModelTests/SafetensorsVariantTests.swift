import Foundation
import Model
import ModelFormats
import Testing

/// The stories260K-hf fixture rewritten as F16, BF16 and as a two-shard checkpoint with an index, by a small
/// writer here: all must load, and give the F32 model's greedy ids (shards: exactly; half precision: close logits).
@Suite struct SafetensorsVariantTests {
    enum Encoding { case f32, f16, bf16 }

    /// Writes `names` from `source` to `path` in `encoding` (header padded to 8 bytes).
    static func write(_ source: SafetensorsFile, names: [String], encoding: Encoding, to path: String) throws {
        var header: [String: Any] = [:]
        var data: [UInt8] = []
        for name in names {
            let info = source.tensorInfo(name)!
            let floats = source.bytes(of: info)   // [elementCount] F32
            let start = data.count
            for i in 0..<info.elementCount {
                let v = floats.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                switch encoding {
                case .f32: data.append(contentsOf: withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init))
                case .f16: data.append(contentsOf: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian, Array.init))
                case .bf16:   // round to nearest even
                    let b = v.bitPattern, rounded = (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16
                    data.append(contentsOf: withUnsafeBytes(of: UInt16(rounded).littleEndian, Array.init))
                }
            }
            let dtype = switch encoding { case .f32: "F32"; case .f16: "F16"; case .bf16: "BF16" }
            header[name] = ["dtype": dtype, "shape": info.shape, "data_offsets": [start, data.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(contentsOf: data)
        try out.write(to: URL(fileURLWithPath: path))
    }

    static func directoryWithConfig() throws -> TempDirectory {
        let tmp = try TempDirectory()
        try FileManager.default.copyItem(atPath: SafetensorsPaths.storiesDir + "/config.json", toPath: tmp.path + "/config.json")
        return tmp
    }

    static func greedyRun(_ path: String) throws -> (ids: [Int32], logits: [[Float]]) {
        let m = try DecoderModel.load(path: path)
        try m.allocateKVCache(blockSize: 16, numBlocks: 8)
        return greedy(m, prompt: [1, 403, 407], steps: 30)
    }

    @Test func twoShardsWithIndexGiveTheSameIds() throws {
        let source = try SafetensorsFile(path: SafetensorsPaths.storiesDir + "/model.safetensors")
        let names = source.tensorNames
        let half = names.count / 2
        let tmp = try Self.directoryWithConfig()
        try Self.write(source, names: Array(names[..<half]), encoding: .f32, to: tmp.path + "/model-00001-of-00002.safetensors")
        try Self.write(source, names: Array(names[half...]), encoding: .f32, to: tmp.path + "/model-00002-of-00002.safetensors")
        var map: [String: String] = [:]
        for (i, n) in names.enumerated() { map[n] = i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors" }
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            .write(to: URL(fileURLWithPath: tmp.path + "/model.safetensors.index.json"))
        let shards = try SafetensorsCheckpoint(path: tmp.path)
        #expect(shards.shards.count == 2)
        let a = try Self.greedyRun(tmp.path), b = try Self.greedyRun(SafetensorsPaths.storiesDir)
        #expect(a.ids == b.ids && a.logits == b.logits)
        // A shard named by path loads through the index too.
        #expect(try Self.greedyRun(tmp.path + "/model-00002-of-00002.safetensors").ids == b.ids)
    }

    @Test(arguments: [Encoding.f16, .bf16])
    func halfPrecisionLoadsAndStaysClose(_ encoding: Encoding) throws {
        let source = try SafetensorsFile(path: SafetensorsPaths.storiesDir + "/model.safetensors")
        let tmp = try Self.directoryWithConfig()
        try Self.write(source, names: source.tensorNames, encoding: encoding, to: tmp.path + "/model.safetensors")
        let converted = try SafetensorsCheckpoint(path: tmp.path)
        #expect(converted.tensorInfo("model.norm.weight")?.dtype == (encoding == .f16 ? .f16 : .bf16))
        let a = try Self.greedyRun(tmp.path), b = try Self.greedyRun(SafetensorsPaths.storiesDir)
        let tolerance: Float = encoding == .f16 ? 0.02 : 0.15
        // First step (same context): logits close; the greedy token agrees.
        #expect(a.ids.first == b.ids.first)
        let worst = zip(a.logits[0], b.logits[0]).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < tolerance, "max |Δlogit| \(worst)")
    }
}
