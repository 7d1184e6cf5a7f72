import Tensor
extension GGUFParser {
    /// Tensor descriptors as stored: name, dims (ggml order), type, offset. Byte counts are computed here;
    /// ranges are checked against the file in `validateTensorData`.
    mutating func parseTensorInfos(count: Int) throws(ModelFileError) -> [GGUFTensorInfo] {
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(count)
        var seen = Set<String>()
        seen.reserveCapacity(count)
        for index in 0..<count {
            let name: String
            do { name = try readString() } catch { throw error.within("name of tensor info #\(index)") }
            do throws(ModelFileError) {
                let info = try readTensorInfo(name: name)
                guard seen.insert(name).inserted else { throw reader.fault("duplicate tensor name") }
                infos.append(info)
            } catch {
                throw error.message.contains(name) ? error : error.within("tensor info '\(name)'")
            }
        }
        return infos
    }

    private mutating func readTensorInfo(name: String) throws(ModelFileError) -> GGUFTensorInfo {
        let nDims = try reader.read(UInt32.self)
        guard nDims <= Self.maxDims else {
            throw reader.fault("tensor \(name) has \(nDims) dimensions (at most \(Self.maxDims) allowed)")
        }
        var dims: [Int] = []
        dims.reserveCapacity(Int(nDims))
        for _ in 0..<nDims {
            let d = try reader.read(UInt64.self)
            guard let dim = Int(exactly: d) else { throw reader.fault("tensor \(name) has absurd dimension \(d)") }
            dims.append(dim)
        }
        let rawType = try reader.read(UInt32.self)
        guard let type = GGMLType(rawValue: rawType) else {
            throw reader.fault("tensor \(name) has unsupported type \(rawType) (\(GGMLType.name(ofRawType: rawType)));"
                + " supported: \(GGMLType.supportedList)")
        }
        let rawOffset = try reader.read(UInt64.self)
        guard let offset = Int(exactly: rawOffset) else {
            throw reader.fault("tensor \(name) has absurd data offset \(rawOffset)")
        }
        let byteCount = try Self.byteCount(name: name, dims: dims, type: type, reader: reader)
        return GGUFTensorInfo(name: name, dims: dims, type: type, offset: offset, byteCount: byteCount)
    }

    private static func byteCount(name: String, dims: [Int], type: GGMLType,
                                  reader: ByteReader) throws(ModelFileError) -> Int {
        var elements = 1
        for d in dims {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw reader.fault("tensor \(name) has absurd dims \(dims): element count overflows") }
            elements = product
        }
        if let rowLength = dims.first, rowLength % type.blockSize != 0 {
            throw reader.fault("tensor \(name) row length \(rowLength) is not a multiple of the \(type.name) "
                + "block size \(type.blockSize)")
        }
        guard let bytes = type.byteCount(elements: elements) else {
            throw reader.fault("tensor \(name) has absurd dims \(dims) for type \(type.name)")
        }
        return bytes
    }

    /// Checks each tensor's data range: offset a multiple of `alignment`, naturally aligned in memory,
    /// inside the file, not overlapping another tensor.
    func validateTensorData(_ infos: [GGUFTensorInfo], dataOffset: Int,
                            alignment: Int) throws(ModelFileError) -> [GGUFTensorInfo] {
        let fileSize = reader.bytes.count
        for info in infos {
            guard info.offset % alignment == 0 else {
                throw reader.fault("tensor \(info.name) data offset \(info.offset) is misaligned: "
                    + "not a multiple of alignment \(alignment)")
            }
            let (start, o1) = dataOffset.addingReportingOverflow(info.offset)
            let (end, o2) = start.addingReportingOverflow(info.byteCount)
            guard !o1, !o2, end <= fileSize else {
                throw reader.fault("tensor \(info.name) data out of range: \(info.byteCount) bytes at data offset "
                    + "\(info.offset) (data section starts at \(dataOffset)) end past the end of the file "
                    + "(\(fileSize) bytes)")
            }
            guard start % info.type.requiredAlignment == 0 else {
                throw reader.fault("tensor \(info.name) data at absolute offset \(start) is misaligned for "
                    + "\(info.type.name) (needs \(info.type.requiredAlignment)-byte alignment)")
            }
        }
        try checkNoOverlap(infos)
        return infos
    }

    private func checkNoOverlap(_ infos: [GGUFTensorInfo]) throws(ModelFileError) {
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw reader.fault("tensor \(a.name) data [\(a.offset), \(a.offset + a.byteCount)) overlaps "
                + "tensor \(b.name) starting at \(b.offset)")
        }
    }
}
