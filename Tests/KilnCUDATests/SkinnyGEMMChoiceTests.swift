import Testing
@testable import KilnCUDA

/// The skinny GEMM's launch arithmetic and candidate rule (GPU-free): every shape skinny_gemm.cu
/// exports is listed, the grid covers every output, the ring fits an H100 SM twice, and split-K
/// is offered only where clusters exist and the tiles alone leave SMs idle.
@Suite struct SkinnyGEMMChoiceTests {
    @Test func exportedShapesAndResources() {
        #expect(SkinnyGEMMChoice.shapes.map(\.suffix) == ["_n64_m32", "_n64_m64", "_n128_m32", "_n128_m64"])
        for shape in SkinnyGEMMChoice.shapes {
            #expect(shape.threads == 2 * shape.rowsPerBlock)
            // Two blocks an SM within the H100's 227 KB of shared memory per SM.
            #expect(2 * shape.sharedBytes <= 227 * 1024, "\(shape)")
            // The epilogue stages [BN][MT + 1] fp32 inside the ring.
            #expect(shape.rowsPerBlock * (shape.batchTile + 1) * 4 <= shape.sharedBytes)
        }
        let names = KernelLibrary.source(defining: "skinny_gemm_gateup_gelu_bf16_n128_m64")?.kernels ?? []
        #expect(names.count == 32 && names.contains("skinny_gemm_bf16_f32_n64_m32") && names.contains("skinny_gemm_bf16_f32_n64_m32_tma"))
        // The TMA variants: the same ring and 64 bytes of stage mbarriers; still two blocks an SM.
        let tma = SkinnyGEMMChoice.shapes.map { shape -> SkinnyGEMMChoice in
            var variant = shape
            variant.tma = true
            return variant
        }
        #expect(tma.map(\.suffix) == ["_n64_m32_tma", "_n64_m64_tma", "_n128_m32_tma", "_n128_m64_tma"])
        #expect(tma.allSatisfy { 2 * $0.sharedBytes <= 227 * 1024 })
        #expect(tma.map(\.sharedBytes).max() == SkinnyGEMMChoice.largestSharedBytes)
        #expect(zip(tma, SkinnyGEMMChoice.shapes).allSatisfy { $0.sharedBytes == $1.sharedBytes + 64 })
    }

    @Test func tilesCoverEveryOutput() {
        let choice = SkinnyGEMMChoice(rowsPerBlock: 128, batchTile: 64, splits: 1)
        #expect(choice.tiles(outputs: 2560, gated: false) == 20)
        #expect(choice.tiles(outputs: 2561, gated: false) == 21)
        // Gate/up: BN / 2 outputs a block (8 gate rows + their 8 up rows per 16-row A tile).
        #expect(choice.tiles(outputs: 16384, gated: true) == 256)
        #expect(choice.tiles(outputs: 100, gated: true) == 2)
    }

    @Test func candidates() {
        // Gemma-2B o-proj at 64 rows on 132 SMs: 16 or 32 tiles, so clusters of 2-8 are offered.
        let o = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2048, inputs: 2048, gated: false, multiprocessors: 132, clusters: true)
        #expect(o.contains(SkinnyGEMMChoice(rowsPerBlock: 128, batchTile: 64, splits: 8)))
        #expect(!o.contains { $0.batchTile == 32 }, "64 rows need the 64-row tile")
        // With TMA offered, each configuration comes in both copy forms.
        let withTMA = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2048, inputs: 2048, gated: false, multiprocessors: 132, clusters: true,
                                                  tma: true)
        #expect(withTMA.count == 2 * o.count && withTMA.filter(\.tma).count == o.count)
        #expect(withTMA.contains(SkinnyGEMMChoice(rowsPerBlock: 128, batchTile: 64, splits: 8, tma: true)))
        // Without clusters (sm_80) only whole-K launches.
        let plain = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2048, inputs: 2048, gated: false, multiprocessors: 132, clusters: false)
        #expect(plain.allSatisfy { $0.splits == 1 } && plain.count == 2)
        // The LM head has thousands of tiles: no split.
        let head = SkinnyGEMMChoice.candidates(rows: 20, outputs: 256000, inputs: 2048, gated: false, multiprocessors: 132, clusters: true)
        #expect(head.allSatisfy { $0.splits == 1 } && head.count == 4)
        // K = 72: two 64-wide stages, no slice would keep two.
        let short = SkinnyGEMMChoice.candidates(rows: 9, outputs: 300, inputs: 72, gated: false, multiprocessors: 132, clusters: true)
        #expect(short.allSatisfy { $0.splits == 1 }, "K = 72: two stages, none to split")
        // The kernel cuts K by ceil(steps / S): no candidate may leave a slice of fewer than two
        // stages (K = 576: 9 steps, S = 4 would give 3, 3, 3, 0; K = 1032: 17 steps, S = 8 gives
        // 3 x 5, 2, 0, 0).
        let k576 = SkinnyGEMMChoice.candidates(rows: 64, outputs: 576, inputs: 576, gated: false, multiprocessors: 132, clusters: true)
        #expect(Set(k576.map(\.splits)) == [1, 2])
        let k1032 = SkinnyGEMMChoice.candidates(rows: 64, outputs: 1000, inputs: 1032, gated: false, multiprocessors: 132, clusters: true)
        #expect(Set(k1032.map(\.splits)) == [1, 2, 4])
    }

    @Test func swappedKernels() {
        // skinny_gemm_swap.cu: `_w<BN>`, 160 threads, slots of 64 x rows + BN weight rows and two mbarriers.
        let qkv = SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 16, splits: 1)
        #expect(qkv.suffix == "_w24" && qkv.threads == 160 && qkv.batchTile == 64 && qkv.tma)
        #expect(qkv.sharedBytes == 16 * ((64 + 24) * 128 + 16))
        #expect(qkv.tiles(outputs: 2560, gated: false) == 107)
        #expect(qkv.description == "w24 s16 x1")
        let names = KernelLibrary.source(defining: "skinny_gemm_bf16_w24")?.kernels ?? []
        #expect(names.count == 3 * (2 * 6 + 2 * 5) + 2 && names.contains("skinny_gemm_reduce_bf16") && names.contains("skinny_gemm_reduce_f32") && names.contains("skinny_gemm_gateup_gelu_bf16_w128_c2") && names.contains("skinny_gemm_bf16_w16_c4")
                && !names.contains("skinny_gemm_gateup_gelu_bf16_w24"))
        // Two consumer warpgroups: `_c2`, 288 threads, warpgroup 1's [12][128] fp32 sums after the ring.
        let two = SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 16, splits: 1, consumers: 2)
        #expect(two.suffix == "_w24_c2" && two.threads == 288 && two.sharedBytes == qkv.sharedBytes + 12 * 128 * 4)
        #expect(two.description == "w24 s16 x1 c2")
        #expect(SkinnyGEMMChoice.swappedWidths(gated: true) == [16, 32, 48, 64, 128])

        // Offered only when asked for (sm_90a), with the H100's 227 KB a block.
        let perBlock = 232_448
        let without = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2560, inputs: 2048, gated: false, multiprocessors: 132, clusters: true, tma: true)
        #expect(!without.contains { $0.swapped })
        let with = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2560, inputs: 2048, gated: false, multiprocessors: 132, clusters: true,
                                               tma: true, swapped: true, sharedBytesPerBlock: perBlock)
        let swapped = with.filter(\.swapped)
        // Both ring depths for w24: one block an SM (20 slots of 11,280 bytes) and two (10).
        #expect(swapped.contains(.swapped(rowsPerBlock: 24, stages: 20, splits: 1)))
        #expect(swapped.contains(.swapped(rowsPerBlock: 24, stages: 10, splits: 1)))
        #expect(swapped.contains(.swapped(rowsPerBlock: 24, stages: 20, splits: 1, consumers: 2)))
        #expect(swapped.filter { $0.consumers > 1 }.allSatisfy { $0.stages >= 2 * $0.consumers && $0.stages % $0.consumers == 0 })
        #expect(swapped.contains(.swapped(rowsPerBlock: 24, stages: 16, splits: 1, consumers: 4)))  // 20 slots less the sums' 18 KB
        let four = SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 8, splits: 1, consumers: 4)
        #expect(four.suffix == "_w24_c4" && four.threads == 544 && four.sharedBytes == 8 * ((64 + 24) * 128 + 16) + 3 * 12 * 128 * 4)
        // Multicast: whole K only, clusters of 2 and 4 tiles; grid.x rounded up to whole clusters.
        #expect(!swapped.contains { $0.multicast > 1 }, "multicast only when asked for (KILN_SKINNY_MULTICAST=1)")
        let shared = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2560, inputs: 2048, gated: false, multiprocessors: 132, clusters: true,
                                                 tma: true, swapped: true, multicast: true, sharedBytesPerBlock: perBlock).filter(\.swapped)
        #expect(shared.contains(.swapped(rowsPerBlock: 24, stages: 20, splits: 1, multicast: 4)))
        #expect(shared.filter { $0.multicast > 1 }.allSatisfy { $0.splits == 1 })
        let m4 = SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 20, splits: 1, multicast: 4)
        #expect(m4.gridColumns(outputs: 2560, gated: false) == 108 && m4.clusterShape! == (4, 1, 1) && m4.description == "w24 s20 x1 m4")
        #expect(SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 20, splits: 2).clusterShape! == (1, 2, 1))
        #expect(SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 20, splits: 1).clusterShape == nil)
        let noClusters = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2560, inputs: 2048, gated: false, multiprocessors: 132, clusters: false,
                                                     tma: true, swapped: true, multicast: true, sharedBytesPerBlock: perBlock)
        // Without clusters, K is sliced only through a workspace.
        #expect(noClusters.allSatisfy { $0.multicast == 1 && ($0.splits == 1 || $0.workspace) })
        #expect(noClusters.contains { $0.workspace })
        // The workspace split-K: no cluster, up to 16 slices, its own record suffix; plain products
        // with N a multiple of 4 only.
        let sliced = SkinnyGEMMChoice.swapped(rowsPerBlock: 128, stages: 8, splits: 16, consumers: 2, workspace: true)
        #expect(sliced.clusterShape == nil && sliced.description == "w128 s8 x16 c2 ws" && sliced.suffix == "_w128_c2")
        #expect(swapped.filter(\.workspace).allSatisfy { $0.tiles(outputs: 2560, gated: false) * $0.splits <= 2 * 132 })
        let downShape = SkinnyGEMMChoice.candidates(rows: 64, outputs: 2048, inputs: 16384, gated: false, multiprocessors: 132, clusters: true,
                                                    tma: true, swapped: true, sharedBytesPerBlock: perBlock)
        // Gemma-2B's down (K = 16384): 16 tiles of 128 rows in 8 or 16 slices, one or two blocks an SM.
        #expect(downShape.contains(.swapped(rowsPerBlock: 128, stages: 9, splits: 8, workspace: true)) && downShape.contains(sliced))
        #expect(downShape.filter { $0.splits == 16 }.allSatisfy { $0.workspace } && !downShape.contains { $0.splits > 8 && !$0.workspace })
        #expect(!SkinnyGEMMChoice.candidates(rows: 64, outputs: 2558, inputs: 2048, gated: false, multiprocessors: 132, clusters: true,
                                             tma: true, swapped: true, sharedBytesPerBlock: perBlock).contains { $0.workspace })
        #expect(!SkinnyGEMMChoice.candidates(rows: 64, outputs: 16384, inputs: 2048, gated: true, multiprocessors: 132, clusters: true,
                                             tma: true, swapped: true, sharedBytesPerBlock: perBlock).contains { $0.workspace })
        #expect(swapped.allSatisfy { $0.sharedBytes <= perBlock && $0.stages >= 2 })
        // Slices only while tiles x slices fill at most two waves: w16 has 160 tiles, so none.
        #expect(!swapped.contains { $0.rowsPerBlock == 16 && $0.splits > 1 })
        #expect(swapped.contains { $0.rowsPerBlock == 64 && $0.splits == 4 })  // 40 tiles x 4
        // No more slots than the slice has stages: K = 2048 in 8 slices is 4 stages each.
        #expect(swapped.filter { $0.splits == 8 }.allSatisfy { $0.stages <= 4 })
        // Gate/up: only the widths that halve into whole 8-row groups.
        let gated = SkinnyGEMMChoice.candidates(rows: 64, outputs: 16384, inputs: 2048, gated: true, multiprocessors: 132, clusters: true,
                                                tma: true, swapped: true, sharedBytesPerBlock: perBlock)
        #expect(Set(gated.filter(\.swapped).map(\.rowsPerBlock)) == [16, 32, 48, 64, 128])
        // More than 64 rows: not the skinny kernels' range.
        #expect(!SkinnyGEMMChoice.candidates(rows: 65, outputs: 2560, inputs: 2048, gated: false, multiprocessors: 132, clusters: true,
                                             tma: true, swapped: true, sharedBytesPerBlock: perBlock).contains { $0.swapped })
    }
}
