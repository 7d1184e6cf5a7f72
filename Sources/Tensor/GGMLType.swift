import CKernels

/// Tensor element types this engine can read (ggml numbering). Other ggml types are rejected at parse time
/// with their ggml name (see `GGMLType.name(ofRawType:)`).
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case bf16 = 30

    /// Elements per block: 1 for f32/f16/bf16, 32 for q4_x/q5_x/q8_0, 256 for the K-quants (the geometry lives in
    /// CQuant.h).
    public var blockSize: Int { Int(swl_type_block_elems(Int32(rawValue))) }

    /// Bytes per block: f32 4, f16 2, bf16 2, q4_0 18 (f16 scale + 16 nibble bytes),
    /// q4_1 20 (f16 scale, f16 min + 16 nibble bytes), q5_0 22, q5_1 24, q8_0 34 (f16 scale + 32 int8);
    /// per 256-element super-block q2_K 84, q3_K 110, q4_K 144, q5_K 176, q6_K 210.
    public var bytesPerBlock: Int { Int(swl_type_block_bytes(Int32(rawValue))) }

    /// Bytes of one row of `elements` values (a whole number of blocks).
    public func rowBytes(_ elements: Int) -> Int { elements / blockSize * bytesPerBlock }

    /// dst[0..<count] = the first `count` values at `src` (count a multiple of the block size).
    public func dequantize(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        swl_dequant(Int32(rawValue), src, dst, count)
    }

    /// Alignment a block needs in memory (its widest scalar field).
    public var requiredAlignment: Int { self == .f32 ? 4 : 2 }

    /// The ggml name, e.g. "Q4_1".
    public var name: String { Self.name(ofRawType: rawValue) }

    public var description: String { name }

    /// Bytes for `elements` values, or nil if `elements` is not a whole number of blocks or overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// The ggml name of any type id, including ones this engine does not support (e.g. 12 -> "Q4_K").
    public static func name(ofRawType raw: UInt32) -> String {
        let names = [
            "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
            "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
            "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
            "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
            "IQ4_NL_8_8", "MXFP4",
        ]
        return raw < names.count ? names[Int(raw)] : "unknown"
    }

    /// "F32, F16, BF16, Q8_0, Q4_0, Q4_1, ..." — for error messages.
    public static let supportedList = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K"
}
