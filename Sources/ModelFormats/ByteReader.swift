/// A bounds-checked little-endian cursor over a file's bytes. Every read checks the remaining length first,
/// so a truncated or fuzzed file produces an error, never an out-of-bounds read.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer  // [count] the whole file
    let path: String
    /// Next byte to read; invariant `0 <= offset <= bytes.count`.
    private(set) var offset: Int

    init(bytes: UnsafeRawBufferPointer, path: String, offset: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.offset = min(max(offset, 0), bytes.count)
    }

    var remaining: Int { bytes.count - offset }

    func fault(_ message: String) -> ModelFileError {
        ModelFileError(path: path, message: message)
    }

    /// Reserves `n` bytes and returns their start offset.
    @inline(__always)
    mutating func take(_ n: Int) throws(ModelFileError) -> Int {
        guard n >= 0, n <= remaining else {
            throw fault("truncated: needs \(n) bytes at offset \(offset) but the file has \(bytes.count) bytes")
        }
        let start = offset
        offset += n
        return start
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(ModelFileError) -> T {
        let start = try take(MemoryLayout<T>.size)
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    @inline(__always)
    mutating func readFloat32() throws(ModelFileError) -> Float {
        Float(bitPattern: try read(UInt32.self))
    }

    @inline(__always)
    mutating func readFloat64() throws(ModelFileError) -> Double {
        Double(bitPattern: try read(UInt64.self))
    }

    /// A count or length read from the file, checked against the bytes left (each item needs at least
    /// `minimumItemSize` bytes) before anything is allocated. Huge values are "absurd", others "truncated".
    func checkedCount(_ raw: UInt64, minimumItemSize: Int, what: String) throws(ModelFileError) -> Int {
        guard raw > UInt64(remaining / max(minimumItemSize, 1)) else { return Int(raw) }
        let kind = raw > UInt64(bytes.count) ? "absurd" : "truncated:"
        let need = minimumItemSize == 1 ? "\(raw) bytes" : "at least \(minimumItemSize) bytes per item"
        throw fault("\(kind) \(what) \(raw) needs \(need), but only \(remaining) bytes remain after offset "
            + "\(offset) of \(bytes.count)")
    }

    /// `n` raw bytes as a view into the file.
    @inline(__always)
    mutating func readBytes(_ n: Int) throws(ModelFileError) -> UnsafeRawBufferPointer {
        let start = try take(n)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)])
    }

    /// A UTF-8 string of `n` bytes (invalid sequences become U+FFFD).
    @inline(__always)
    mutating func readString(byteCount n: Int) throws(ModelFileError) -> String {
        String(decoding: try readBytes(n), as: UTF8.self)
    }
}

extension ModelFileError {
    /// The same error with `context` appended, e.g. "truncated: ... (in value of key 'x')".
    func within(_ context: String) -> ModelFileError {
        ModelFileError(path: path, message: "\(message) (in \(context))")
    }
}
