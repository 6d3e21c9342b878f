import Foundation
import KilnCore
import Testing
@testable import KilnCUDA

@Suite struct CuBLASLtTests {
    // MARK: - Finding the library

    @Test func missingLibraryIsAClearError() throws {
        var search = CUDALibraryLocations(environment: ["HOME": "/nonexistent"], askPython: false).cublasLt()
        #expect(search.fileNames == ["libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12"])
        // Only folders that certainly lack it, so the error is the same on every machine.
        search.useLoaderPath = false
        search.preferredDirectories = []
        search.directories = ["/nonexistent/kiln-cublas-test"]
        do {
            _ = try CuBLASLt.open(search, maximumMajor: 12)
            Issue.record("opened a cuBLASLt that does not exist")
        } catch let error as KilnError {
            guard case let .missingFile(path, reason) = error else { Issue.record("wrong case: \(error)"); return }
            #expect(path == "libcublasLt.so")
            for expected in ["cuBLASLt, CUDA's matrix-product library not found", "libcublasLt.so.13", "libcublasLt.so.12",
                             "/nonexistent/kiln-cublas-test", "The driver supports CUDA 12", "nvidia-cublas-cu12",
                             "python3 -m pip install nvidia-cublas", "KILN_CUDA_LIBRARY_PATH", "--backend cpu"] {
                #expect(reason.contains(expected), "\(expected) missing from: \(reason)")
            }
        }
    }

    @Test func aFileThatIsNotALibraryIsFoundButNotUsed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: folder + "/libcublasLt.so.13"))
        var search = CUDALibraryLocations(environment: ["HOME": "/nonexistent"], askPython: false).cublasLt()
        search.useLoaderPath = false
        search.preferredDirectories = []
        search.directories = [folder]
        #expect {
            try CuBLASLt.open(search, maximumMajor: nil)
        } throws: { error in
            "\(error)".contains("found but not used: \(folder)/libcublasLt.so.13")
        }
    }

    @Test func searchedWhereTheOtherCUDALibrariesAre() throws {
        // pip: nvidia-cublas (CUDA 13) -> nvidia/cu13/lib; nvidia-cublas-cu12 -> nvidia/cublas/lib.
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let site = "\(root)/venv/lib/python3.12/site-packages"
        for package in ["cu13", "cublas"] {
            try FileManager.default.createDirectory(atPath: "\(site)/nvidia/\(package)/lib", withIntermediateDirectories: true)
        }
        let locations = CUDALibraryLocations(environment: ["VIRTUAL_ENV": "\(root)/venv", "HOME": root, "KILN_CUDA_LIBRARY_PATH": "/mine",
                                                           "CUDA_HOME": "/opt/cuda"], askPython: false)
        let search = locations.cublasLt()
        #expect(search.preferredDirectories == ["/mine"])
        #expect(search.useLoaderPath)
        #expect(search.directories.first == "/opt/cuda/lib64")
        let cu13 = try #require(search.directories.firstIndex(of: site + "/nvidia/cu13/lib"))
        let cu12 = try #require(search.directories.firstIndex(of: site + "/nvidia/cublas/lib"))
        #expect(cu13 < cu12)
        #expect(search.directories.firstIndex(of: "/usr/local/cuda/lib64")! < cu13)
        #expect(search.probeSymbol == "cublasLtCreate")
    }

    // MARK: - Shapes

    @Test func rowsBuckets() {
        let expected: [(Int, Int)] = [(0, 1), (1, 1), (2, 2), (3, 4), (4, 4), (5, 8), (8, 8), (9, 16), (17, 32), (100, 128), (128, 128),
                                      (129, 256), (1000, 1024), (2048, 2048), (2049, 4096), (4096, 4096), (4097, 8192), (8192, 8192),
                                      (8193, 8192), (1_000_000, 8192)]
        for (rows, bucket) in expected { #expect(LinearProblem.rowsBucket(rows) == bucket, "M \(rows)") }
        #expect(LinearProblem.rowsBuckets == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192])
        // Every M up to 4096 lies in (bucket / 2, bucket]; the bucket is one of the list.
        for rows in 1...4096 {
            let bucket = LinearProblem.rowsBucket(rows)
            #expect(LinearProblem.rowsBuckets.contains(bucket) && rows <= bucket && (bucket == 1 || rows > bucket / 2), "M \(rows)")
        }
    }

    @Test func rowMajorLinearAsColumnMajorProduct() {
        let problem = LinearProblem(rows: 3, outputs: 5, inputs: 7)
        #expect(problem.a == ColumnMajorLayout(rows: 7, columns: 5, leadingDimension: 7))
        #expect(problem.b == ColumnMajorLayout(rows: 7, columns: 3, leadingDimension: 7))
        #expect(problem.d == ColumnMajorLayout(rows: 5, columns: 3, leadingDimension: 5))
        #expect(problem.transposeA && !problem.transposeB)
        #expect(problem.blasShape == (m: 5, n: 3, k: 7))
    }

    /// Runs the column-major product the layouts describe, reading the row-major buffers as
    /// cuBLASLt would, and compares it with x · Wᵀ + bias computed row-major.
    @Test(arguments: [(1, 1, 1), (1, 7, 5), (3, 5, 7), (17, 2, 9), (4, 4, 4)])
    func layoutsComputeTheLinear(_ shape: (Int, Int, Int)) {
        let (rows, outputs, inputs) = shape
        let problem = LinearProblem(rows: rows, outputs: outputs, inputs: inputs)
        let x = (0..<(rows * inputs)).map { Double($0 % 11) - 5 }       // row-major [M, K]
        let weight = (0..<(outputs * inputs)).map { Double($0 % 7) - 3 } // row-major [N, K]
        let bias = (0..<outputs).map { Double($0) * 0.5 }
        // Column-major element (r, c) of a buffer with leading dimension ld.
        func element(_ buffer: [Double], _ layout: ColumnMajorLayout, _ row: Int, _ column: Int) -> Double {
            precondition(row < layout.rows && column < layout.columns)
            return buffer[column * layout.leadingDimension + row]
        }
        let (m, n, k) = problem.blasShape
        var d = [Double](repeating: .nan, count: rows * outputs)
        for i in 0..<m {
            for j in 0..<n {
                var sum = bias[i]  // CUBLASLT_EPILOGUE_BIAS: bias[i] over D's rows, broadcast over columns
                for p in 0..<k {
                    let a = problem.transposeA ? element(weight, problem.a, p, i) : element(weight, problem.a, i, p)
                    let b = problem.transposeB ? element(x, problem.b, j, p) : element(x, problem.b, p, j)
                    sum += a * b
                }
                d[j * problem.d.leadingDimension + i] = sum
            }
        }
        for token in 0..<rows {
            for output in 0..<outputs {
                var expected = bias[output]
                for input in 0..<inputs { expected += x[token * inputs + input] * weight[output * inputs + input] }
                #expect(d[token * outputs + output] == expected, "out[\(token), \(output)]")
            }
        }
    }

    @Test func alignmentIsTheLargestPowerOfTwoDividingEveryAddress() {
        #expect(LinearProblem.alignment([]) == 256)
        #expect(LinearProblem.alignment([0x7F00_0000_0000, 0x7F00_0000_0200]) == 256)
        #expect(LinearProblem.alignment([0x7F00_0000_0040, 0]) == 64)
        #expect(LinearProblem.alignment([0x7F00_0000_0000, 0x7F00_0000_0002]) == 2)
        #expect(LinearProblem.alignment([0x7F00_0000_1010]) == 16)
    }

    // MARK: - Autotune records

    @Test func precisions() {
        #expect(MatmulPrecision.f32.description == "f32")
        #expect(MatmulPrecision.bf16ToF32.description == "bf16>f32")
        for precision in [MatmulPrecision.f32, .bf16, .bf16ToF32] { #expect(MatmulPrecision(precision.description) == precision) }
        #expect(MatmulPrecision("f16") == nil)
        #expect(MatmulPrecision("bf16>f32>f32") == nil)
        #expect(!MatmulPrecision(input: .f32, output: .bf16).isSupported)
        #expect(MatmulPrecision.bf16ToF32.isSupported)
    }

    @Test func tuningKeysRoundTrip() {
        let key = MatmulTuningKey(LinearProblem(rows: 17, outputs: 2560, inputs: 2048), precision: .bf16ToF32, bias: true)
        #expect(key.rowsBucket == 32)
        #expect(key.description == "matmul bf16>f32 m32 n2560 k2048 bias")
        #expect(MatmulTuningKey(key.description) == key)
        let plain = MatmulTuningKey(rowsBucket: 8192, outputs: 7, inputs: 577, precision: .f32, bias: false)
        #expect(plain.description == "matmul f32 m8192 n7 k577")
        #expect(MatmulTuningKey(plain.description) == plain)
        for malformed in ["", "matmul f32 m3 n7 k577", "matmul f32 m4 n7", "matmul f32 m4 n7 k577 bias extra", "matmul f8 m4 n7 k577",
                          "matmul f32 m4 n0 k577", "conv f32 m4 n7 k577", "matmul f32 m4 n7 k577 biased"] {
            #expect(MatmulTuningKey(malformed) == nil, "\(malformed)")
        }
    }

    @Test func choicesRoundTripThroughTheRecord() throws {
        let choice = MatmulChoice(algorithm: [0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF, 42, 0, 7, 0x8000_0000_0000_0000],
                                  algorithmID: 66, tile: 20, stages: 35, splitK: 1, workspaceBytes: 4_194_304,
                                  microseconds: 12.3456, heuristicMicroseconds: 15.5, rank: 3, candidates: 8, tunedRows: 64)
        let value = choice.recordValue
        #expect(value.hasPrefix("id=66 tile=20 stages=35 splitk=1 ws=4194304 us=12.346 first_us=15.500 rank=3 of=8 m=64 algo="))
        #expect(value.hasSuffix("algo=00000000000000000000000000000001ffffffffffffffff0123456789abcdef000000000000002a000000000000000000000000000000078000000000000000"))
        let parsed = try #require(MatmulChoice(recordValue: value))
        #expect(parsed.algorithm == choice.algorithm)
        #expect(parsed.algorithmID == 66 && parsed.tile == 20 && parsed.stages == 35 && parsed.splitK == 1 && parsed.workspaceBytes == 4_194_304)
        #expect(parsed.rank == 3 && parsed.candidates == 8 && parsed.tunedRows == 64)
        #expect(abs(parsed.microseconds - 12.346) < 1e-9 && parsed.heuristicMicroseconds == 15.5)
        #expect(MatmulChoice(recordValue: value.replacingOccurrences(of: "algo=0", with: "algo=")) == nil)  // 127 digits
        #expect(MatmulChoice(recordValue: value.replacingOccurrences(of: " rank=3", with: "")) == nil)
        #expect(MatmulChoice(recordValue: value.replacingOccurrences(of: "algo=00", with: "algo=0g")) == nil)
    }

    @Test func structLayoutsMatchCublasLtH() {
        // cublasLtMatmulAlgo_t is uint64_t[8]; cublasLtMatmulHeuristicResult_t adds size_t, int, float, int[4].
        #expect(CuBLASLtConstant.algorithmBytes == 8 * MemoryLayout<UInt64>.size)
        #expect(CuBLASLtConstant.heuristicWorkspaceOffset == CuBLASLtConstant.algorithmBytes)
        #expect(CuBLASLtConstant.heuristicStateOffset == CuBLASLtConstant.heuristicWorkspaceOffset + MemoryLayout<Int>.size)
        #expect(CuBLASLtConstant.heuristicWavesOffset == CuBLASLtConstant.heuristicStateOffset + MemoryLayout<Int32>.size)
        #expect(CuBLASLtConstant.heuristicResultBytes == CuBLASLtConstant.heuristicWavesOffset + MemoryLayout<Float>.size + 4 * MemoryLayout<Int32>.size)
    }
}
