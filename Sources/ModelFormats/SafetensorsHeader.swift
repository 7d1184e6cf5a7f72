import Foundation

/// Element types of `.safetensors` tensors that the engine reads.
public enum SafetensorsDType: String, Sendable, Equatable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// One tensor's entry in a safetensors header. `dataOffsets` are relative to the start of the data section.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major shape, outermost first (PyTorch order), e.g. [out, in] for a linear weight.
    public let shape: [Int]
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataOffsets.count }
}

/// Parses and validates the JSON header: every entry well-formed, sizes consistent, offsets inside the data
/// section and not overlapping. Throws a `ModelFileError` naming the file and the fault.
struct SafetensorsHeaderParser {
    let path: String
    /// Bytes available after the header (the data section).
    let dataSize: Int

    /// The spec's cap on header size (100 MB).
    static let maxHeaderLength = 100_000_000

    func fault(_ message: String) -> ModelFileError { ModelFileError(path: path, message: message) }

    func parse(_ json: UnsafeRawBufferPointer) throws(ModelFileError)
        -> (tensors: [SafetensorsTensorInfo], metadata: [String: String]) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json), options: [])
        } catch {
            throw fault("bad JSON header (\(json.count) bytes): \(error.localizedDescription)")
        }
        guard let entries = object as? [String: Any] else {
            throw fault("bad JSON header: expected an object of tensor entries")
        }
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                tensors.append(try parseEntry(name, value))
            }
        }
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
            < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        try checkOverlaps(tensors)
        return (tensors, metadata)
    }

    private func parseMetadata(_ value: Any) throws(ModelFileError) -> [String: String] {
        guard let dict = value as? [String: Any] else { throw fault("bad __metadata__: expected an object") }
        var out: [String: String] = [:]
        for (k, v) in dict {
            guard let s = v as? String else { throw fault("bad __metadata__: value of '\(k)' is not a string") }
            out[k] = s
        }
        return out
    }

    private func parseEntry(_ name: String, _ value: Any) throws(ModelFileError) -> SafetensorsTensorInfo {
        func bad(_ why: String) -> ModelFileError { fault("tensor '\(name)': \(why)") }
        guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let rawType = entry["dtype"] as? String else { throw bad("missing or non-string dtype") }
        guard let dtype = SafetensorsDType(rawValue: rawType) else {
            throw bad("unsupported dtype '\(rawType)' (supported: F32, F16, BF16)")
        }
        guard let rawShape = entry["shape"] as? [Any] else { throw bad("missing or non-array shape") }
        let shape = try rawShape.map { (v: Any) throws(ModelFileError) -> Int in
            guard let d = Self.exactInt(v), d >= 0 else { throw bad("shape \(rawShape) has a non-integer or negative dimension") }
            return d
        }
        guard let rawOffsets = entry["data_offsets"] as? [Any], rawOffsets.count == 2,
              let begin = Self.exactInt(rawOffsets[0]), let end = Self.exactInt(rawOffsets[1]) else {
            throw bad("data_offsets must be two integers [begin, end]")
        }
        guard begin >= 0, begin <= end else { throw bad("bad data_offsets [\(begin), \(end)]") }
        guard end <= dataSize else {
            throw bad("data_offsets [\(begin), \(end)] out of range: the data section has \(dataSize) bytes "
                + "(truncated file?)")
        }
        var bytes = dtype.byteSize
        for d in shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(shape) is absurdly large") }
            bytes = p
        }
        guard bytes == end - begin else {
            throw bad("shape/size mismatch: shape \(shape) of \(rawType) needs \(bytes) bytes but data_offsets "
                + "[\(begin), \(end)] span \(end - begin)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Tensors sorted by begin; each must start at or after the previous one's end.
    private func checkOverlaps(_ sorted: [SafetensorsTensorInfo]) throws(ModelFileError) {
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.dataOffsets.lowerBound < a.dataOffsets.upperBound {
            throw fault("tensors '\(a.name)' [\(a.dataOffsets.lowerBound), \(a.dataOffsets.upperBound)) and "
                + "'\(b.name)' [\(b.dataOffsets.lowerBound), \(b.dataOffsets.upperBound)) overlap")
        }
    }

    /// A JSON number that is exactly an integer (not a Bool, not 1.5).
    static func exactInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else { return nil }  // "c": a JSON Bool
        let i = n.int64Value
        return Double(i) == n.doubleValue ? Int(i) : nil   // rejects 1.5; keeps integers too big for a Double
    }
}
