import Foundation
import ModelFormats
import Testing

/// A hand-built `.safetensors` file: `header` is the JSON text (written verbatim), `data` the data section.
struct SafetensorsBytes {
    var header: String
    var data: [UInt8]
    /// Spaces appended to the header so the data section starts 8-byte aligned (as the reference writer does).
    func bytes(pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        if pad { while (8 + h.count) % 8 != 0 { h.append(0x20) } }
        var out: [UInt8] = []
        out.le(UInt64(h.count))
        return out + h + data
    }
}

@Suite struct SafetensorsTests {
    /// Three tensors, one of each dtype, plus metadata: F32 [2,2] = 1,2,3,4; F16 [3] = 1,-2,0.5; BF16 [1,2] = 1,-3.
    static func smallValid() -> SafetensorsBytes {
        var data: [UInt8] = []
        for v: Float in [1, 2, 3, 4] { data.f32(v) }                  // [0, 16)
        for h: UInt16 in [0x3C00, 0xC000, 0x3800] { data.le(h) }     // [16, 22)
        for b: UInt16 in [0x3F80, 0xC040] { data.le(b) }             // [22, 26)
        let header = #"{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"#
            + #""b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},"c":{"dtype":"BF16","shape":[1,2],"data_offsets":[22,26]}}"#
        return SafetensorsBytes(header: header, data: data)
    }

    func parse(_ s: SafetensorsBytes, _ name: String = "t.safetensors", in dir: TempDir) throws -> (String, SafetensorsFile?) {
        let path = try dir.write(name, s.bytes())
        return (path, try? SafetensorsFile(path: path))
    }

    @Test func smallValidParses() throws {
        let dir = try TempDir()
        let path = try dir.write("ok.safetensors", Self.smallValid().bytes())
        let f = try SafetensorsFile(path: path)
        #expect(f.metadata == ["format": "pt"])
        #expect(f.tensorNames == ["a.weight", "b", "c"])
        #expect(f.dataStart % 8 == 0)
        let a = try f.requireTensor("a.weight", shape: [2, 2])
        #expect(a.dtype == .f32 && a.elementCount == 4 && a.byteCount == 16)
        let bytes = try f.tensorBytes("a.weight")
        #expect((0..<4).map { bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } == [1, 2, 3, 4])
        #expect(f.tensorInfo("b")?.dtype == .f16 && f.tensorInfo("b")?.shape == [3])
        let c = try f.tensorBytes("c")
        #expect(c.count == 4 && c.loadUnaligned(fromByteOffset: 2, as: UInt16.self) == 0xC040)
        expectFault(path: path, ["missing tensor 'zzz'"]) { () throws(ModelFileError) in _ = try f.tensorBytes("zzz") }
        expectFault(path: path, ["shape [2, 2]", "expected [4]"]) { () throws(ModelFileError) in
            _ = try f.requireTensor("a.weight", shape: [4])
        }
    }

    @Test func everyTruncationThrows() throws {
        let dir = try TempDir()
        let full = Self.smallValid().bytes()
        _ = try SafetensorsFile(path: try dir.write("full.safetensors", full))
        for cut in 0..<full.count {
            let path = try dir.write("cut\(cut).safetensors", Array(full[0..<cut]))
            let error = expectFault(path: path, []) { () throws(ModelFileError) in _ = try SafetensorsFile(path: path) }
            let m = error?.message ?? ""
            #expect(m.contains("truncated"), "cut \(cut): \(m)")
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let dir = try TempDir()
        let full = Self.smallValid().bytes()
        var rng = SplitMix64(state: 42)
        var failures = 0
        for trial in 0..<600 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            let path = try dir.write("r\(trial).safetensors", bytes)
            do {
                let f = try SafetensorsFile(path: path)
                for t in f.tensorInfos {   // whatever parsed must be self-consistent
                    #expect(t.byteCount == t.elementCount * t.dtype.byteSize)
                    #expect(f.dataStart + t.dataOffsets.upperBound <= bytes.count)
                }
            } catch {
                failures += 1
                #expect(error.path == path && !error.message.isEmpty)
            }
        }
        #expect(failures > 0)
    }

    @Test func headerFaultsAreNamed() throws {
        let dir = try TempDir()
        let valid = Self.smallValid()
        func check(_ header: String, _ fragments: [String], data: [UInt8]? = nil) throws {
            let path = try dir.write("f\(UUID().uuidString).safetensors",
                                     SafetensorsBytes(header: header, data: data ?? valid.data).bytes())
            expectFault(path: path, fragments) { () throws(ModelFileError) in _ = try SafetensorsFile(path: path) }
        }
        try check("{not json", ["bad JSON header"])
        try check("[1,2]", ["expected an object"])
        try check(#"{"x":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, ["tensor 'x'", "unsupported dtype 'I64'"])
        try check(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, ["tensor 'x'", "shape/size mismatch"])
        try check(#"{"x":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#, ["tensor 'x'", "out of range"])
        try check(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, ["bad data_offsets"])
        try check(#"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, ["negative"])
        try check(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, ["two integers"])
        try check(#"{"x":{"dtype":"F32","shape":[2]}}"#, ["two integers"])
        try check(#"{"x":{"shape":[2],"data_offsets":[0,8]}}"#, ["dtype"])
        try check(#"{"x":7}"#, ["not an object"])
        try check(#"{"__metadata__":{"k":1}}"#, ["__metadata__", "'k'"])
        try check(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                  ["'x'", "'y'", "overlap"])
        try check(#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, ["absurd"])
    }

    @Test func badHeaderLength() throws {
        let dir = try TempDir()
        var bytes: [UInt8] = []
        bytes.le(UInt64(1) << 40)
        bytes += Array("{}".utf8)
        let path = try dir.write("huge.safetensors", bytes)
        expectFault(path: path, ["absurd header length"]) { () throws(ModelFileError) in _ = try SafetensorsFile(path: path) }
        var short: [UInt8] = []
        short.le(UInt64(100))
        short += Array("{}".utf8)
        let p2 = try dir.write("short.safetensors", short)
        expectFault(path: p2, ["truncated", "header length 100"]) { () throws(ModelFileError) in _ = try SafetensorsFile(path: p2) }
        let p3 = try dir.write("notafile", [])
        try FileManager.default.removeItem(atPath: p3)
        try FileManager.default.createDirectory(atPath: p3, withIntermediateDirectories: false)
        expectFault(path: p3, ["not a regular file"]) { () throws(ModelFileError) in _ = try SafetensorsFile(path: p3) }
    }

    @Test func emptyHeaderIsAnEmptyFile() throws {
        let dir = try TempDir()
        let path = try dir.write("empty.safetensors", SafetensorsBytes(header: "{}", data: []).bytes())
        let f = try SafetensorsFile(path: path)
        #expect(f.tensorInfos.isEmpty && f.metadata.isEmpty)
    }
}

@Suite struct SafetensorsCheckpointTests {
    func shard(_ name: String, _ value: Float) -> [UInt8] {
        var data: [UInt8] = []
        data.f32(value); data.f32(value + 1)
        return SafetensorsBytes(header: #"{"\#(name)":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: data).bytes()
    }

    func index(_ map: [String: String]) -> [UInt8] {
        let body = map.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return Array(#"{"metadata": {"total_size": 16}, "weight_map": {\#(body)}}"#.utf8)
    }

    @Test func shardedCheckpointFromIndexAndDirectory() throws {
        let dir = try TempDir()
        _ = try dir.write("model-00001-of-00002.safetensors", shard("a", 1))
        _ = try dir.write("model-00002-of-00002.safetensors", shard("b", 5))
        let idx = try dir.write("model.safetensors.index.json",
                                index(["a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"]))
        for path in [dir.url.path, idx] {
            let ck = try SafetensorsCheckpoint(path: path)
            #expect(ck.shards.count == 2 && ck.tensorNames == ["a", "b"])
            let b = try ck.requireTensor("b", shape: [2])
            #expect(b.bytes.loadUnaligned(fromByteOffset: 4, as: Float.self) == 6)
            expectFault(path: path, ["missing tensor 'c'"]) { () throws(ModelFileError) in _ = try ck.requireTensor("c") }
        }
    }

    @Test func indexFaults() throws {
        let dir = try TempDir()
        let s1 = try dir.write("s1.safetensors", shard("a", 1))
        let idx = try dir.write("model.safetensors.index.json", index(["a": "s1.safetensors", "x": "s1.safetensors"]))
        expectFault(path: s1, ["missing tensor 'x'", idx]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: dir.url.path) }
        _ = try dir.write("model.safetensors.index.json", index(["a": "gone.safetensors"]))
        expectFault(path: dir.url.appendingPathComponent("gone.safetensors").path, ["cannot open"]) { () throws(ModelFileError) in
            _ = try SafetensorsCheckpoint(path: dir.url.path)
        }
        _ = try dir.write("model.safetensors.index.json", index(["a": "../s1.safetensors"]))
        expectFault(path: idx, ["not a plain file name"]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: idx) }
        _ = try dir.write("model.safetensors.index.json", Array("{\"weight_map\": 3}".utf8))
        expectFault(path: idx, ["weight_map"]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: idx) }
        _ = try dir.write("model.safetensors.index.json", Array("{".utf8))
        expectFault(path: idx, ["bad JSON"]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: idx) }
    }

    @Test func directoryWithoutIndexAndDuplicates() throws {
        let dir = try TempDir()
        expectFault(path: dir.url.path, ["no model.safetensors"]) { () throws(ModelFileError) in
            _ = try SafetensorsCheckpoint(path: dir.url.path)
        }
        _ = try dir.write("x1.safetensors", shard("a", 1))
        let ck = try SafetensorsCheckpoint(path: dir.url.path)
        #expect(ck.tensorNames == ["a"])
        let dup = try dir.write("x2.safetensors", shard("a", 2))
        expectFault(path: dup, ["'a' also appears"]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: dir.url.path) }
        let missing = dir.url.appendingPathComponent("nope").path
        expectFault(path: missing, ["no such file"]) { () throws(ModelFileError) in _ = try SafetensorsCheckpoint(path: missing) }
    }
}
