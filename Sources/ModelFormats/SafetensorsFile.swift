/// One memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header mapping
/// tensor names to `{dtype, shape, data_offsets}` (plus optional `__metadata__`), then the data section.
/// Every fault is a `ModelFileError` naming the file; tensor views stay valid while this object lives.
public final class SafetensorsFile: Sendable {
    public let path: String
    public let file: MappedFile
    /// String key/values of `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensors in data order.
    public let tensorInfos: [SafetensorsTensorInfo]
    /// Byte offset of the data section in the file (8 + header length).
    public let dataStart: Int
    private let byName: [String: Int]

    public init(path: String) throws(ModelFileError) {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        var reader = ByteReader(bytes: bytes, path: path)
        guard bytes.count >= 8 else {
            throw ModelFileError(path: path, message: "truncated: \(bytes.count) bytes, the safetensors header "
                + "length field alone needs 8")
        }
        let rawLength = try reader.read(UInt64.self)
        guard rawLength <= UInt64(SafetensorsHeaderParser.maxHeaderLength) else {
            throw ModelFileError(path: path, message: "absurd header length \(rawLength) (limit "
                + "\(SafetensorsHeaderParser.maxHeaderLength); file has \(bytes.count) bytes) - not a safetensors file?")
        }
        let length = Int(rawLength)
        guard length <= reader.remaining else {
            throw ModelFileError(path: path, message: "truncated: header length \(length) but only "
                + "\(reader.remaining) bytes follow the length field")
        }
        let json = try reader.readBytes(length)
        let parser = SafetensorsHeaderParser(path: path, dataSize: reader.remaining)
        let (tensors, metadata) = try parser.parse(json)
        self.path = path
        self.file = file
        self.metadata = metadata
        self.tensorInfos = tensors
        self.dataStart = 8 + length
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.byName = index
    }

    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        byName[name].map { tensorInfos[$0] }
    }

    /// The tensor, checked to exist and (if given) to have `shape`.
    public func requireTensor(_ name: String, shape: [Int]? = nil) throws(ModelFileError) -> SafetensorsTensorInfo {
        guard let info = tensorInfo(name) else {
            throw ModelFileError(path: path, message: "missing tensor '\(name)'")
        }
        if let shape, info.shape != shape {
            throw ModelFileError(path: path, message: "tensor '\(name)' has shape \(info.shape), expected \(shape)")
        }
        return info
    }

    /// The tensor's bytes as a view into the mapping (bounds were checked when the header was read).
    public func tensorBytes(_ name: String) throws(ModelFileError) -> UnsafeRawBufferPointer {
        bytes(of: try requireTensor(name))
    }

    public func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        let lo = dataStart + info.dataOffsets.lowerBound, hi = dataStart + info.dataOffsets.upperBound
        return UnsafeRawBufferPointer(rebasing: file.bytes[lo..<hi])
    }
}
