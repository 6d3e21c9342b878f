import KilnCore

/// Element types of one matrix product: x and W are `input`, out (and the bias) are `output`;
/// accumulation is always fp32 (`CUBLAS_COMPUTE_32F`: fp32 inputs are multiplied in fp32, not TF32).
public struct MatmulPrecision: Hashable, Sendable, CustomStringConvertible {
    /// x and W.
    public var input: DeviceElementType
    /// out and bias.
    public var output: DeviceElementType

    /// Creates a precision.
    public init(input: DeviceElementType, output: DeviceElementType) {
        self.input = input
        self.output = output
    }

    /// fp32 throughout: the mode that matches the CPU backend (within ~1e-6 relative).
    public static let f32 = MatmulPrecision(input: .f32, output: .f32)
    /// bf16 x and W, bf16 out.
    public static let bf16 = MatmulPrecision(input: .bf16, output: .bf16)
    /// bf16 x and W, fp32 out (logits, residual streams kept in fp32).
    public static let bf16ToF32 = MatmulPrecision(input: .bf16, output: .f32)

    /// Whether cuBLASLt computes it (fp32 inputs give fp32 outputs only).
    public var isSupported: Bool { !(input == .f32 && output == .bf16) }

    /// "f32", "bf16", "bf16>f32".
    public var description: String { input == output ? input.rawValue : "\(input.rawValue)>\(output.rawValue)" }

    /// Parses `description`.
    public init?(_ text: String) {
        let parts = text.split(separator: ">", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || parts.count == 2, let input = DeviceElementType(rawValue: parts[0]),
              let output = DeviceElementType(rawValue: parts.last!) else { return nil }
        self.init(input: input, output: output)
    }

    /// `cudaDataType_t` of an element type.
    static func dataType(_ type: DeviceElementType) -> Int32 {
        type == .f32 ? CuBLASLtConstant.dataTypeR32F : CuBLASLtConstant.dataTypeR16BF
    }
}

/// A matrix as cuBLASLt sees it: column-major `[rows, columns]`, `leadingDimension` elements
/// from one column to the next.
public struct ColumnMajorLayout: Hashable, Sendable {
    /// Rows.
    public var rows: Int
    /// Columns.
    public var columns: Int
    /// Elements between the starts of two columns.
    public var leadingDimension: Int

    /// Creates a layout.
    public init(rows: Int, columns: Int, leadingDimension: Int) {
        self.rows = rows
        self.columns = columns
        self.leadingDimension = leadingDimension
    }
}

/// out[M, N] = x[M, K] · W[N, K]ᵀ (+ bias[N]), every matrix row-major, in cuBLASLt's
/// column-major terms. A row-major `[r, c]` matrix is the column-major `[c, r]` matrix with
/// leading dimension c, so the product is computed transposed: outᵀ[N, M] = W[N, K] · xᵀ[K, M],
/// i.e. D = op(A) · B with A = W read as column-major `[K, N]` and transposed (CUBLAS_OP_T),
/// B = x as column-major `[K, M]` (CUBLAS_OP_N), D = out as column-major `[N, M]`. The bias runs
/// along D's rows (N), which is what CUBLASLT_EPILOGUE_BIAS broadcasts over D's columns.
public struct LinearProblem: Hashable, Sendable {
    /// M: rows of x and out (tokens).
    public var rows: Int
    /// N: rows of W, columns of out (output features).
    public var outputs: Int
    /// K: columns of x and W (input features).
    public var inputs: Int

    /// Creates the problem of one `linear`.
    public init(rows: Int, outputs: Int, inputs: Int) {
        self.rows = rows
        self.outputs = outputs
        self.inputs = inputs
    }

    /// A: W stored row-major `[N, K]` = column-major `[K, N]`, ld K; used as op(A) = Aᵀ, `[N, K]`.
    public var a: ColumnMajorLayout { ColumnMajorLayout(rows: inputs, columns: outputs, leadingDimension: inputs) }
    /// Whether A is transposed (CUBLASLT_MATMUL_DESC_TRANSA = CUBLAS_OP_T).
    public var transposeA: Bool { true }
    /// B: x stored row-major `[M, K]` = column-major `[K, M]`, ld K; used as is.
    public var b: ColumnMajorLayout { ColumnMajorLayout(rows: inputs, columns: rows, leadingDimension: inputs) }
    /// Whether B is transposed (no: CUBLAS_OP_N).
    public var transposeB: Bool { false }
    /// C and D: out stored row-major `[M, N]` = column-major `[N, M]`, ld N.
    public var d: ColumnMajorLayout { ColumnMajorLayout(rows: outputs, columns: rows, leadingDimension: outputs) }
    /// cuBLASLt's (m, n, k): D is m x n, the sum runs over k.
    public var blasShape: (m: Int, n: Int, k: Int) { (outputs, rows, inputs) }

    /// Multiply-adds.
    public var multiplyAdds: Int { rows * outputs * inputs }

    /// The M bucket autotuning works per: 1, 2, 4, ..., 4096, then 8192 for every M above 4096.
    /// A choice tuned for a bucket serves every M in (bucket / 2, bucket].
    public static func rowsBucket(_ rows: Int) -> Int {
        guard rows > 1 else { return 1 }
        guard rows <= 4096 else { return 8192 }
        return 1 << (Int.bitWidth - (rows - 1).leadingZeroBitCount)
    }

    /// Every bucket, smallest first.
    public static let rowsBuckets: [Int] = (0...13).map { 1 << $0 }

    /// The M to tune at for each bucket that some M in 1...maxRows falls in: the bucket's largest
    /// M that can happen (the bucket itself, or maxRows in the last one), so the choice is timed
    /// at the size it matters most for. Smallest first; empty for maxRows < 1.
    public static func tuningRows(upTo maxRows: Int) -> [Int] {
        guard maxRows >= 1 else { return [] }
        return rowsBuckets.filter { $0 <= rowsBucket(maxRows) }.map { min($0, maxRows) }
    }

    /// The largest power of two (at most 256) dividing every address: the alignment cuBLASLt may
    /// assume for the operands (its default, 256, would let it pick kernels that fault on less).
    public static func alignment(_ addresses: [CUdeviceptr]) -> Int {
        var alignment = 256
        for address in addresses where address != 0 {
            alignment = min(alignment, Int(truncatingIfNeeded: address & (~address &+ 1)))
        }
        return alignment
    }
}

/// What an autotuned algorithm is chosen for: the M bucket, N, K, the precision and whether the
/// bias epilogue runs. Its `description` is the key of the engine manifest's `autotune` map.
public struct MatmulTuningKey: Hashable, Sendable, CustomStringConvertible {
    /// `LinearProblem.rowsBucket` of M.
    public var rowsBucket: Int
    /// N.
    public var outputs: Int
    /// K.
    public var inputs: Int
    /// Element types.
    public var precision: MatmulPrecision
    /// Whether a bias is added in the epilogue.
    public var bias: Bool

    /// Creates a key.
    public init(rowsBucket: Int, outputs: Int, inputs: Int, precision: MatmulPrecision, bias: Bool) {
        self.rowsBucket = rowsBucket
        self.outputs = outputs
        self.inputs = inputs
        self.precision = precision
        self.bias = bias
    }

    /// The key of a problem.
    public init(_ problem: LinearProblem, precision: MatmulPrecision, bias: Bool) {
        self.init(rowsBucket: LinearProblem.rowsBucket(problem.rows), outputs: problem.outputs, inputs: problem.inputs,
                  precision: precision, bias: bias)
    }

    /// "matmul bf16>f32 m64 n2560 k2048 bias" (without " bias" when there is none).
    public var description: String {
        "matmul \(precision) m\(rowsBucket) n\(outputs) k\(inputs)" + (bias ? " bias" : "")
    }

    /// Parses `description`.
    public init?(_ text: String) {
        let words = text.split(separator: " ").map(String.init)
        guard words.count == 5 || (words.count == 6 && words[5] == "bias"), words[0] == "matmul",
              let precision = MatmulPrecision(words[1]),
              words[2].hasPrefix("m"), let bucket = Int(words[2].dropFirst()), LinearProblem.rowsBuckets.contains(bucket),
              words[3].hasPrefix("n"), let outputs = Int(words[3].dropFirst()), outputs > 0,
              words[4].hasPrefix("k"), let inputs = Int(words[4].dropFirst()), inputs > 0 else { return nil }
        self.init(rowsBucket: bucket, outputs: outputs, inputs: inputs, precision: precision, bias: words.count == 6)
    }
}

/// One autotuned choice: cuBLASLt's algorithm (its 64-byte `cublasLtMatmulAlgo_t`, valid with
/// the cuBLASLt version that made it), what it is, and how fast it ran. `recordValue` is the
/// value of the engine manifest's `autotune` map.
public struct MatmulChoice: Hashable, Sendable {
    /// The `cublasLtMatmulAlgo_t`, as its eight 64-bit words.
    public var algorithm: [UInt64]
    /// `CUBLASLT_ALGO_CONFIG_ID`.
    public var algorithmID: Int
    /// `CUBLASLT_ALGO_CONFIG_TILE_ID` (cublasLtMatmulTile_t).
    public var tile: Int
    /// `CUBLASLT_ALGO_CONFIG_STAGES_ID` (cublasLtMatmulStages_t).
    public var stages: Int
    /// `CUBLASLT_ALGO_CONFIG_SPLITK_NUM` (1: no split).
    public var splitK: Int
    /// Workspace bytes it needs at the M it was tuned at.
    public var workspaceBytes: Int
    /// Its mean time, microseconds, at the M it was tuned at.
    public var microseconds: Double
    /// The heuristic's first candidate's mean time (what an untuned call gets).
    public var heuristicMicroseconds: Double
    /// Its place in the heuristic's order (0: the heuristic's own first choice).
    public var rank: Int
    /// Candidates timed.
    public var candidates: Int
    /// The M it was tuned at.
    public var tunedRows: Int

    /// Creates a choice.
    public init(algorithm: [UInt64], algorithmID: Int, tile: Int, stages: Int, splitK: Int, workspaceBytes: Int,
                microseconds: Double, heuristicMicroseconds: Double, rank: Int, candidates: Int, tunedRows: Int) {
        precondition(algorithm.count == 8, "a cublasLtMatmulAlgo_t is eight 64-bit words")
        self.algorithm = algorithm
        self.algorithmID = algorithmID
        self.tile = tile
        self.stages = stages
        self.splitK = splitK
        self.workspaceBytes = workspaceBytes
        self.microseconds = microseconds
        self.heuristicMicroseconds = heuristicMicroseconds
        self.rank = rank
        self.candidates = candidates
        self.tunedRows = tunedRows
    }

    /// "id=21 tile=20 stages=21 splitk=1 ws=0 us=12.345 first_us=13.210 rank=2 of=8 m=64 algo=<128 hex digits>".
    public var recordValue: String {
        let hex = algorithm.map { word in
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
        return "id=\(algorithmID) tile=\(tile) stages=\(stages) splitk=\(splitK) ws=\(workspaceBytes) "
            + "us=\(Self.decimal(microseconds)) first_us=\(Self.decimal(heuristicMicroseconds)) rank=\(rank) of=\(candidates) m=\(tunedRows) algo=\(hex)"
    }

    /// Parses `recordValue` (nil when any field is missing or malformed).
    public init?(recordValue: String) {
        var fields: [String: String] = [:]
        for word in recordValue.split(separator: " ") {
            guard let equals = word.firstIndex(of: "=") else { return nil }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        guard let hex = fields["algo"], hex.count == 128, hex.allSatisfy(\.isHexDigit) else { return nil }
        var words: [UInt64] = []
        var start = hex.startIndex
        while start < hex.endIndex {
            let end = hex.index(start, offsetBy: 16)
            guard let word = UInt64(hex[start..<end], radix: 16) else { return nil }
            words.append(word)
            start = end
        }
        func integer(_ name: String) -> Int? { fields[name].flatMap { Int($0) } }
        func real(_ name: String) -> Double? { fields[name].flatMap { Double($0) } }
        guard let id = integer("id"), let tile = integer("tile"), let stages = integer("stages"), let splitK = integer("splitk"),
              let workspace = integer("ws"), let micros = real("us"), let first = real("first_us"), let rank = integer("rank"),
              let candidates = integer("of"), let rows = integer("m") else { return nil }
        self.init(algorithm: words, algorithmID: id, tile: tile, stages: stages, splitK: splitK, workspaceBytes: workspace,
                  microseconds: micros, heuristicMicroseconds: first, rank: rank, candidates: candidates, tunedRows: rows)
    }

    /// "id 21 tile 20 stages 21 split-k 1 ws 0 B": what the algorithm is, for reports.
    public var summary: String {
        "id \(algorithmID) tile \(tile) stages \(stages) split-k \(splitK) ws \(DeviceAllocator.bytesText(workspaceBytes))"
    }

    /// Three decimals, no exponent.
    private static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let thousandths = (value * 1000).rounded()
        let whole = Int(thousandths) / 1000, fraction = abs(Int(thousandths) % 1000)
        let digits = String(fraction)
        return (thousandths < 0 && whole == 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
    }
}
