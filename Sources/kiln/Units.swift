/// Human-readable counts and sizes (decimal units, as model cards state them).
enum Units {
    /// 1,543,714,304 -> "1.54 B".
    static func count(_ value: Int) -> String {
        let number = Double(value)
        if number >= 1e9 { return format(number / 1e9) + " B" }
        if number >= 1e6 { return format(number / 1e6) + " M" }
        if number >= 1e3 { return format(number / 1e3) + " K" }
        return "\(value)"
    }

    /// Bytes in GB/MB/KB (powers of ten).
    static func bytes(_ value: Int) -> String {
        let number = Double(value)
        if number >= 1e9 { return format(number / 1e9) + " GB" }
        if number >= 1e6 { return format(number / 1e6) + " MB" }
        if number >= 1e3 { return format(number / 1e3) + " KB" }
        return "\(value) B"
    }

    /// Three significant digits.
    static func format(_ value: Double) -> String {
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        let scale = [1.0, 10.0, 100.0][digits]
        let rounded = (value * scale).rounded() / scale
        return digits == 0 ? String(Int(rounded)) : String(rounded)
    }
}
