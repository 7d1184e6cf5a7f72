/// Conversion of GGML block formats to Float. Each function reads `count` elements from `src`
/// (a tightly packed run of blocks) into `dst`. `count` must be a multiple of the block size.
public enum Dequant {
    @inline(__always)
    public static func half(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 {
        UInt16(p.load(fromByteOffset: o, as: UInt8.self)) | UInt16(p.load(fromByteOffset: o + 1, as: UInt8.self)) << 8
    }

    public static func f32(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    }

    public static func f16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = half(u16(src, 2 * i)) }
    }

    public static func bf16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = Float(bitPattern: UInt32(u16(src, 2 * i)) << 16) }
    }

    /// Q8_0: blocks of 34 bytes: f16 scale d, 32 × int8 q; x = q·d.
    public static func q8_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<(count / 32) {
            let p = src + b * 34
            let d = half(u16(p, 0))
            let out = dst + b * 32
            for j in 0..<32 { out[j] = Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }

    /// Q4_0: blocks of 18 bytes: f16 d, 16 bytes of nibbles; element j < 16 is the low nibble of byte j,
    /// element j + 16 the high nibble; x = (q − 8)·d.
    public static func q4_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<(count / 32) {
            let p = src + b * 18
            let d = half(u16(p, 0))
            let out = dst + b * 32
            for j in 0..<16 {
                let q = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                out[j] = (Float(q & 0xF) - 8) * d
                out[j + 16] = (Float(q >> 4) - 8) * d
            }
        }
    }

    /// Q4_1: blocks of 20 bytes: f16 d, f16 m, 16 bytes of nibbles (layout as Q4_0); x = q·d + m.
    public static func q4_1(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<(count / 32) {
            let p = src + b * 20
            let d = half(u16(p, 0)), m = half(u16(p, 2))
            let out = dst + b * 32
            for j in 0..<16 {
                let q = p.load(fromByteOffset: 4 + j, as: UInt8.self)
                out[j] = Float(q & 0xF) * d + m
                out[j + 16] = Float(q >> 4) * d + m
            }
        }
    }
}
