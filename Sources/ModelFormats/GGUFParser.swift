/// Everything `GGUFFile` learns from the header, metadata and tensor-info sections.
struct GGUFLayout {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var tensorInfos: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
}

/// Parses and validates a mapped GGUF v2/v3 file with raw pointer reads. Every count is checked against the
/// bytes left before anything is allocated; every tensor range is checked against the file length.
struct GGUFParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    static let maxDims = 4  // GGML_MAX_DIMS
    static let maxArrayNesting = 8
    static let defaultAlignment = 32

    var reader: ByteReader

    init(bytes: UnsafeRawBufferPointer, path: String) {
        reader = ByteReader(bytes: bytes, path: path)
    }

    mutating func parse() throws(ModelFileError) -> GGUFLayout {
        let (version, tensorCount, kvCount) = try parseHeader()
        let metadata = try parseMetadata(count: kvCount)
        let alignment = try alignment(from: metadata)
        var infos = try parseTensorInfos(count: tensorCount)
        let (dataOffset, overflow) = reader.offset.addingReportingOverflow(
            (alignment - reader.offset % alignment) % alignment)
        guard !overflow else { throw reader.fault("data section offset overflows") }
        infos = try validateTensorData(infos, dataOffset: dataOffset, alignment: alignment)
        return GGUFLayout(version: version, metadata: metadata, tensorInfos: infos,
                          alignment: alignment, dataOffset: dataOffset)
    }

    // MARK: header

    private mutating func parseHeader() throws(ModelFileError) -> (UInt32, Int, Int) {
        guard reader.bytes.count >= 4 else {
            throw reader.fault("not a GGUF file: too small (\(reader.bytes.count) bytes) to hold the magic 'GGUF'")
        }
        let magic = try reader.read(UInt32.self)
        guard magic == Self.magic else {
            throw reader.fault("not a GGUF file: bad magic \(Self.printable(magic)), expected 'GGUF'")
        }
        let version: UInt32
        do { version = try reader.read(UInt32.self) } catch { throw error.within("GGUF version") }
        switch version {
        case 2, 3: break
        case 1: throw reader.fault("unsupported GGUF version 1 (32-bit counts); only versions 2 and 3 are supported")
        default:
            let hint = version.byteSwapped == 2 || version.byteSwapped == 3 ? " (big-endian GGUF?)" : ""
            throw reader.fault("unsupported GGUF version \(version)\(hint); only versions 2 and 3 are supported")
        }
        let tensorCount = try readCount("tensor count", minimumItemSize: 24)  // name len, n_dims, type, offset
        let kvCount = try readCount("metadata key-value count", minimumItemSize: 13)  // key len, type, 1 byte
        return (version, tensorCount, kvCount)
    }

    /// A UInt64 count, rejected if even the smallest encoding of that many items cannot fit in the bytes left.
    private mutating func readCount(_ what: String, minimumItemSize: Int) throws(ModelFileError) -> Int {
        let raw: UInt64
        do { raw = try reader.read(UInt64.self) } catch { throw error.within(what) }
        return try reader.checkedCount(raw, minimumItemSize: minimumItemSize, what: what)
    }

    private static func printable(_ magic: UInt32) -> String {
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: magic >> (8 * $0)) }
        let text = bytes.allSatisfy { (0x20..<0x7f).contains($0) }
            ? " ('" + String(decoding: bytes, as: UTF8.self) + "')" : ""
        let hex = bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: " ")
        return "[\(hex)]\(text)"
    }

    // MARK: metadata

    private mutating func parseMetadata(count: Int) throws(ModelFileError) -> [String: GGUFValue] {
        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(count)
        for index in 0..<count {
            let key: String
            do { key = try readString() } catch { throw error.within("key of metadata entry #\(index)") }
            do throws(ModelFileError) {
                let rawType = try reader.read(UInt32.self)
                let value = try readValue(type: try valueType(rawType), depth: 0)
                guard metadata.updateValue(value, forKey: key) == nil else {
                    throw reader.fault("duplicate metadata key")
                }
            } catch {
                throw error.within("metadata key '\(key)'")
            }
        }
        return metadata
    }

    private func valueType(_ raw: UInt32) throws(ModelFileError) -> GGUFValueType {
        guard let type = GGUFValueType(rawValue: raw) else {
            throw reader.fault("unknown metadata value type \(raw) (known: 0...12)")
        }
        return type
    }

    mutating func readString() throws(ModelFileError) -> String {
        let length = try reader.read(UInt64.self)
        let n = try reader.checkedCount(length, minimumItemSize: 1, what: "string length")
        return try reader.readString(byteCount: n)
    }

    private mutating func readValue(type: GGUFValueType, depth: Int) throws(ModelFileError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self))
        case .int8: return .int8(try reader.read(Int8.self))
        case .uint16: return .uint16(try reader.read(UInt16.self))
        case .int16: return .int16(try reader.read(Int16.self))
        case .uint32: return .uint32(try reader.read(UInt32.self))
        case .int32: return .int32(try reader.read(Int32.self))
        case .uint64: return .uint64(try reader.read(UInt64.self))
        case .int64: return .int64(try reader.read(Int64.self))
        case .float32: return .float32(try reader.readFloat32())
        case .float64: return .float64(try reader.readFloat64())
        case .bool: return .bool(try readBool())
        case .string: return .string(try readString())
        case .array: return .array(try readArray(depth: depth + 1))
        }
    }

    private mutating func readBool() throws(ModelFileError) -> Bool {
        let byte = try reader.read(UInt8.self)
        guard byte <= 1 else { throw reader.fault("invalid bool byte \(byte) at offset \(reader.offset - 1)") }
        return byte == 1
    }

    private mutating func readArray(depth: Int) throws(ModelFileError) -> [GGUFValue] {
        guard depth <= Self.maxArrayNesting else {
            throw reader.fault("arrays nested deeper than \(Self.maxArrayNesting) levels")
        }
        let elementType = try valueType(try reader.read(UInt32.self))
        let count = try readCount("array count", minimumItemSize: elementType.minimumEncodedSize)
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            do { values.append(try readValue(type: elementType, depth: depth)) } catch {
                throw depth == 1 ? error.within("array element #\(index)") : error  // outermost index only
            }
        }
        return values
    }

    private func alignment(from metadata: [String: GGUFValue]) throws(ModelFileError) -> Int {
        guard let value = metadata["general.alignment"] else { return Self.defaultAlignment }
        guard let a = value.intValue, a > 0, a <= 1 << 30, a & (a - 1) == 0 else {
            throw reader.fault("general.alignment \(value) is not a positive power of two")
        }
        return a
    }
}
