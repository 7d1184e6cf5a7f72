import ModelFormats

/// A tiny GGUF writer for building synthetic (and deliberately broken) test files. Test target only.
/// Encodes straight from the GGUF spec, independently of the reader under test.
struct GGUFWriter {
    struct Tensor {
        var name: String
        var dims: [UInt64]    // ggml order
        var type: UInt32      // raw ggml type id (may be unsupported on purpose)
        var data: [UInt8]
        var offsetOverride: UInt64?  // write this offset instead of the real one
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var alignment = 32  // padding used when laying out data (write general.alignment yourself to change the reader's)
    var kvCountOverride: UInt64?
    var tensorCountOverride: UInt64?
    private(set) var kvs: [(key: String, type: UInt32, payload: [UInt8])] = []
    private(set) var tensors: [Tensor] = []

    mutating func add(_ key: String, _ value: GGUFValue) {
        var payload: [UInt8] = []
        let type = Self.encode(value, into: &payload)
        kvs.append((key, type, payload))
    }

    /// A key whose value type and payload bytes are written verbatim.
    mutating func addRaw(_ key: String, type: UInt32, payload: [UInt8]) {
        kvs.append((key, type, payload))
    }

    mutating func addTensor(_ name: String, dims: [UInt64], type: UInt32, data: [UInt8],
                            offsetOverride: UInt64? = nil) {
        tensors.append(Tensor(name: name, dims: dims, type: type, data: data, offsetOverride: offsetOverride))
    }

    mutating func addF32Tensor(_ name: String, dims: [UInt64], values: [Float]) {
        var data: [UInt8] = []
        for v in values { data.f32(v) }
        addTensor(name, dims: dims, type: 0, data: data)
    }

    /// The file: header, key-values, tensor infos, padding, data (each tensor padded to `alignment`).
    func bytes() -> [UInt8] {
        var out = magic
        out.le(version)
        out.le(tensorCountOverride ?? UInt64(tensors.count))
        out.le(kvCountOverride ?? UInt64(kvs.count))
        for kv in kvs {
            out.ggufString(kv.key)
            out.le(kv.type)
            out.append(contentsOf: kv.payload)
        }
        var offsets: [Int] = []
        var next = 0
        for t in tensors {
            offsets.append(next)
            next = pad(next + t.data.count)
        }
        for (t, offset) in zip(tensors, offsets) {
            out.ggufString(t.name)
            out.le(UInt32(t.dims.count))
            for d in t.dims { out.le(d) }
            out.le(t.type)
            out.le(t.offsetOverride ?? UInt64(offset))
        }
        guard !tensors.isEmpty else { return out }
        out.append(contentsOf: [UInt8](repeating: 0, count: pad(out.count) - out.count))
        let dataStart = out.count
        for (t, offset) in zip(tensors, offsets) {
            out.append(contentsOf: [UInt8](repeating: 0, count: dataStart + offset - out.count))
            out.append(contentsOf: t.data)
        }
        return out
    }

    private func pad(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Appends the value's encoding; returns its type id.
    @discardableResult
    static func encode(_ value: GGUFValue, into out: inout [UInt8]) -> UInt32 {
        switch value {
        case .uint8(let v): out.le(v); return 0
        case .int8(let v): out.le(v); return 1
        case .uint16(let v): out.le(v); return 2
        case .int16(let v): out.le(v); return 3
        case .uint32(let v): out.le(v); return 4
        case .int32(let v): out.le(v); return 5
        case .float32(let v): out.f32(v); return 6
        case .bool(let v): out.append(v ? 1 : 0); return 7
        case .string(let s): out.ggufString(s); return 8
        case .uint64(let v): out.le(v); return 10
        case .int64(let v): out.le(v); return 11
        case .float64(let v): out.le(v.bitPattern); return 12
        case .array(let values):
            var body: [UInt8] = []
            var elementType: UInt32 = 0
            for v in values { elementType = encode(v, into: &body) }
            out.le(elementType)
            out.le(UInt64(values.count))
            out.append(contentsOf: body)
            return 9
        }
    }
}
