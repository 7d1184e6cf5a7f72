/// A GGUF metadata value. Value type ids (GGUF spec): 0 uint8, 1 int8, 2 uint16, 3 int16, 4 uint32, 5 int32,
/// 6 float32, 7 bool, 8 string, 9 array, 10 uint64, 11 int64, 12 float64.
/// (Not `indirect`: the only recursive case holds an Array, which is already a reference, so no box is needed
/// per value — that keeps 49k-string vocabularies to one allocation per string.)
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    case array([GGUFValue])

    /// Any integer value as Int; a float only if it is an exact integer. Nil for strings, arrays, bools,
    /// and values that do not fit.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        case .float32(let v): Int(exactly: v)
        case .float64(let v): Int(exactly: v)
        case .bool, .string, .array: nil
        }
    }

    /// Any integer or float value as Float (rounded to nearest). Nil for strings, arrays, bools.
    public var floatValue: Float? {
        switch self {
        case .uint8(let v): Float(v)
        case .int8(let v): Float(v)
        case .uint16(let v): Float(v)
        case .int16(let v): Float(v)
        case .uint32(let v): Float(v)
        case .int32(let v): Float(v)
        case .uint64(let v): Float(v)
        case .int64(let v): Float(v)
        case .float32(let v): v
        case .float64(let v): Float(v)
        case .bool, .string, .array: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { s } else { nil }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }

    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { a } else { nil }
    }
}

/// GGUF value type ids.
enum GGUFValueType: UInt32 {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The fewest bytes one value of this type can occupy (used to reject absurd array counts before allocating).
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string: 8  // UInt64 length
        case .array: 12  // UInt32 type + UInt64 count
        }
    }
}
