import Foundation

/// xoshiro256** seeded through SplitMix64: a small, fast, reproducible generator (same seed → same run).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = 1 - uniform()  // (0, 1]
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Gamma(shape, scale) by Marsaglia–Tsang; shape < 1 through Gamma(shape + 1)·U^(1/shape).
    /// Mean shape·scale, variance shape·scale².
    public mutating func gamma(shape: Double, scale: Double) -> Double {
        precondition(shape > 0 && scale > 0, "gamma needs positive shape and scale")
        if shape < 1 {
            let u = 1 - uniform()
            return gamma(shape: shape + 1, scale: scale) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal()
            var v = 1 + c * x
            if v <= 0 { continue }
            v = v * v * v
            let u = 1 - uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v * scale }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v * scale }
        }
    }
}

/// When each request is sent, relative to the start of the run (seconds).
public enum ArrivalSchedule {
    /// The first request goes at 0; the gaps after it are Gamma(shape: burstiness, scale: 1/(rate·burstiness)),
    /// i.e. mean 1/rate and coefficient of variation 1/√burstiness (burstiness 1 = a Poisson process), as
    /// `vllm bench serve`. An infinite rate sends everything at 0.
    public static func offsets(count: Int, rate: Double, burstiness: Double, seed: UInt64) -> [Double] {
        guard count > 0 else { return [] }
        guard rate.isFinite, rate > 0 else { return [Double](repeating: 0, count: count) }
        var rng = SeededGenerator(seed: seed ^ 0xA11_1CE5)
        let scale = 1 / (rate * burstiness)
        var out = [Double](repeating: 0, count: count)  // [count] seconds since start
        var t = 0.0
        for i in 1..<count {
            t += rng.gamma(shape: burstiness, scale: scale)
            out[i] = t
        }
        return out
    }
}
