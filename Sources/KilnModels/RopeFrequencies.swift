import Foundation
import KilnCore

/// Inverse RoPE frequencies, as transformers computes them: inv[i] = base^(-2i / dim), then the
/// config's scaling rule.
public enum RopeFrequencies {
    /// `[dim / 2]` inverse frequencies for `base`, with `scaling` applied (llama3, linear).
    public static func inverse(dim: Int, base: Float, scaling: RopeScaling?) -> [Float] {
        var inverse = (0..<(dim / 2)).map { Float(1.0 / pow(Double(base), Double(2 * $0) / Double(dim))) }
        guard let scaling else { return inverse }
        switch scaling.type {
        case "linear":
            inverse = inverse.map { $0 / scaling.factor }
        case "llama3":
            // Long wavelengths are slowed by `factor`, short ones kept, the band between blended.
            let factor = scaling.factor
            let low = scaling.lowFrequencyFactor ?? 1, high = scaling.highFrequencyFactor ?? 4
            let original = Float(scaling.originalContextLength ?? 8192)
            let lowWavelength = original / low, highWavelength = original / high
            inverse = inverse.map { frequency in
                let wavelength = 2 * Float.pi / frequency
                if wavelength < highWavelength { return frequency }
                if wavelength > lowWavelength { return frequency / factor }
                let smooth = (original / wavelength - low) / (high - low)
                return (1 - smooth) * frequency / factor + smooth * frequency
            }
        default:
            break // Unknown rules are rejected when the model is built (see DecoderModel).
        }
        return inverse
    }
}
