// Split-K decode attention on tensor cores (bf16, the attention input formed in the kernel): the
// same grid, arguments (plus `stages`), partial results and reduce kernel as
// attention_decode_input_bf16_h*_g8 (attention_decode.cuh), for groups of up to 8 query heads a
// block. Why: at batch 64 (Gemma-2B, 8 query heads on one kv head, head size 256) that kernel's
// fp32 dot products made it issue-bound: ncu on an H100 counted 4.3 M instructions a launch at
// 255 registers (10% occupancy), 0.3 instructions issued per scheduler cycle, 20 us a layer.
// CPU twin: CPUBackend.headRMSNorm, .rope, .writeCache, then .attention. ABI: README-attention.md.
//
// The block's query heads are the n8 of mma.m16n8k16 (heads past the group: zero queries, never
// written), so a tile of 16 keys costs 2 x headDim / 16 mma:
//   S^T [16 keys x 8 heads]  = K [16 keys x d] · Q^T [d x 8 heads]   (A: K rows, ldmatrix; B: Q, ldmatrix)
//   O^T [d x 8 heads]       += V^T [d x 16 keys] · P^T [16 keys x 8]  (A: V rows, ldmatrix.trans;
//                                                                     B: P through 256 bytes of shared memory)
// Accumulator layout (lane = 4g + t): S^T keys g, g + 8 x heads 2t, 2t + 1, so each lane's running
// max / sum cover its two heads and the O^T rescale needs no shuffle. Each warp takes the
// partition's 16-key tiles warp, warp + 4, ... and streams them through its own ring of `stages`
// (1 or 2) K + V tile buffers in dynamic shared memory, copied by cp.async with 16-byte chunk c
// of row r stored at c ^ (r & 7) (conflict-free ldmatrix). The first tile's copies go out before
// the programmatic-launch wait (cached keys are written by earlier steps only); the new key (the
// row's last) is never read from the cache: the tile holding it takes it from shared memory, as
// formed by decode_form_input. Keys past the partition are zero-filled and masked.
#include "attention_decode.cuh"

namespace {

constexpr int kMMAKeys = 16;  // keys of a tile (the mma's M)
constexpr int kMMAHeads = 8;  // query heads of a block (the mma's N)

// Chunk c (16 bytes) of row r of a tile or of the query tile: its place in the row.
__device__ __forceinline__ int swizzled_chunk(int row, int chunk) { return chunk ^ (row & 7); }

// Cache slot of key position `key` of a sequence.
__device__ __forceinline__ int cache_slot(const int* blockTable, int blockSize, int key) {
    return blockTable[key / blockSize] * blockSize + key % blockSize;
}

template <int HeadDim>
__device__ __forceinline__ void attention_decode_mma_body(
    const bf16* __restrict__ keyCache, const bf16* __restrict__ valueCache, bf16* __restrict__ out, int outStride,
    const int* __restrict__ positions, const int* __restrict__ rowSequence, const int* __restrict__ sequenceContextLength,
    const int* __restrict__ blockTables, int blockTableStride, int blockSize, int heads, int kvHeads, float scale,
    int slidingWindow, float softcap, int partitionSize, float* __restrict__ partialOut, float* __restrict__ partialMax,
    float* __restrict__ partialSum, const DecodeInput<bf16>& input, int stages) {
    KILN_TRACE_SCOPE(kTraceAttentionDecodeInput);
    static_assert(HeadDim % 64 == 0 && HeadDim <= 256, "head size 64, 128 or 256");
    constexpr int Chunks = HeadDim / 8;             // 16-byte chunks of a K, V or query row
    constexpr int DimSteps = HeadDim / 16;          // k16 steps of S^T, m16 tiles of O^T
    constexpr int TileElements = kMMAKeys * HeadDim;  // K (or V) of one tile
    extern __shared__ __align__(128) unsigned char dynamicShared[];  // [kWarps][stages][K tile, V tile]
    __shared__ __align__(16) bf16 queryTile[kMMAHeads * HeadDim];   // [head][dim], chunks swizzled
    __shared__ __align__(16) bf16 newKey[HeadDim], newValue[HeadDim];
    __shared__ __align__(16) bf16 probabilities[kWarps][kMMAHeads * kMMAKeys];  // P [head][key] of a warp's tile

    const int group = heads / kvHeads;
    const int chunks = (group + kMMAHeads - 1) / kMMAHeads;
    const int row = blockIdx.z, kvHead = blockIdx.y / chunks, chunk = blockIdx.y % chunks;
    const int headBase = kvHead * group + chunk * kMMAHeads;
    const int headCount = min(kMMAHeads, group - chunk * kMMAHeads);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;

    const int sequence = rowSequence[row];
    const int position = positions[row];
    const RowRange range = row_range(position, sequenceContextLength[sequence], slidingWindow, partitionSize);
    const int partition = blockIdx.x;
    bf16* outRow = out + (long long)row * outStride;
    const bool active = range.partitions > 0 && partition < range.partitions;
    const int start = range.first + partition * partitionSize;
    const int end = min(start + partitionSize - 1, range.last);  // inclusive
    const int* blockTable = blockTables + (long long)sequence * blockTableStride;
    const long long slotStride = (long long)kvHeads * HeadDim;
    const long long kvOffset = (long long)kvHead * HeadDim;
    const int tiles = active ? (end - start + kMMAKeys) / kMMAKeys : 0;
    const int rounds = warp < tiles ? (tiles - 1 - warp) / kWarps + 1 : 0;  // this warp's tiles
    bf16* ring = reinterpret_cast<bf16*>(dynamicShared) + (long long)warp * stages * 2 * TileElements;

    // cp.async of this warp's tile of `round` into its ring; keys past the partition zero-filled,
    // the new key left out (filled from shared memory before use).
    auto issue = [&](int round) {
        const int keyBase = start + (warp + kWarps * round) * kMMAKeys;
        bf16* keyTile = ring + (round % stages) * 2 * TileElements;
        bf16* valueTile = keyTile + TileElements;
        const int key = keyBase + (lane & 15);
        const int mySlot = key > end ? -1 : key == position ? -2 : cache_slot(blockTable, blockSize, key);
        for (int i = lane; i < kMMAKeys * Chunks; i += 32) {
            const int r = i / Chunks, c = i % Chunks;
            const int slot = __shfl_sync(0xffffffffu, mySlot, r);
            if (slot == -2) continue;
            const long long offset = (long long)max(slot, 0) * slotStride + kvOffset + c * 8;
            const int place = r * HeadDim + swizzled_chunk(r, c) * 8;
            kiln_copy_async_16(keyTile + place, keyCache + offset, slot >= 0);
            kiln_copy_async_16(valueTile + place, valueCache + offset, slot >= 0);
        }
        kiln_copy_async_commit();
    };
    // The first tile's copies go out before the programmatic-launch wait (cached keys are written
    // by earlier steps only). Issued after the prologue's loads of the Q/K/V product instead they
    // were slower (H100, batch 64: a block's 13.4 us became 16.6 us; session-6 results).
    if (rounds > 0) issue(0);
    __shared__ float trig[HeadDim];  // the RoPE cos / sin at the row's position (decode_form_trig)
    if (active) decode_form_trig(input, position, trig);
    kiln_wait_prerequisites();

    if (range.partitions == 0) {  // nothing visible (only for positions outside the context): zeros
        if (partition == 0)
            for (int i = threadIdx.x; i < headCount * HeadDim; i += kThreads) outRow[headBase * HeadDim + i] = from_float<bf16>(0.0f);
        return;
    }
    if (partition >= range.partitions) return;

    for (int i = headCount * HeadDim + threadIdx.x; i < kMMAHeads * HeadDim; i += kThreads) queryTile[i] = from_float<bf16>(0.0f);
    decode_form_input<bf16, HeadDim, false>(
        input, trig, row, position, heads, kvHeads, kvHead, headBase, headCount, position >= start && position <= end, chunk == 0,
        [&](int item, int i, bf16 stored) { queryTile[item * HeadDim + swizzled_chunk(item, i >> 3) * 8 + (i & 7)] = stored; },
        [&](int i, bf16 stored) { newKey[i] = stored; }, [&](int i, bf16 value) { newValue[i] = value; });

    // Q^T as B fragments for every k16 step (k = dims, n = heads): ldmatrix of [head][dim] rows.
    unsigned queryFragment[DimSteps][2];
#pragma unroll
    for (int s = 0; s < DimSteps / 2; ++s) {
        unsigned r[4];
        const int head = lane & 7, c = 4 * s + (lane >> 3);
        kiln_load_matrix_x4(r, queryTile + head * HeadDim + swizzled_chunk(head, c) * 8);
        queryFragment[2 * s][0] = r[0];
        queryFragment[2 * s][1] = r[1];
        queryFragment[2 * s + 1][0] = r[2];
        queryFragment[2 * s + 1][1] = r[3];
    }

    // Scores in log2 units: dot x scale x log2(e), or softcap x tanh(dot x scale / softcap) x log2(e).
    const float scoreScale = softcap > 0.0f ? scale / softcap : scale * kLog2e;
    float o[DimSteps][4];
#pragma unroll
    for (int i = 0; i < DimSteps; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float runningMax[2] = {KILN_NEG_INFINITY, KILN_NEG_INFINITY}, runningSum[2] = {0.0f, 0.0f};  // heads 2t, 2t + 1
    bf16* myProbabilities = probabilities[warp];

    for (int round = 0; round < rounds; ++round) {
        if (stages == 1 && round > 0) issue(round);
        if (stages == 2 && round + 1 < rounds) {
            issue(round + 1);
            kiln_copy_async_wait_group<1>();
        } else {
            kiln_copy_async_wait_group<0>();
        }
        const int keyBase = start + (warp + kWarps * round) * kMMAKeys;
        bf16* keyTile = ring + (round % stages) * 2 * TileElements;
        bf16* valueTile = keyTile + TileElements;
        const int newRow = position - keyBase;
        if (newRow >= 0 && newRow < kMMAKeys && position <= end) {
            for (int c = lane; c < Chunks; c += 32) {
                const int place = newRow * HeadDim + swizzled_chunk(newRow, c) * 8;
                *reinterpret_cast<uint4*>(keyTile + place) = *reinterpret_cast<const uint4*>(newKey + c * 8);
                *reinterpret_cast<uint4*>(valueTile + place) = *reinterpret_cast<const uint4*>(newValue + c * 8);
            }
        }
        __syncwarp();

        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int step = 0; step < DimSteps; ++step) {
            unsigned a[4];
            const int key = ((lane >> 3) & 1) * 8 + (lane & 7), c = 2 * step + (lane >> 4);
            kiln_load_matrix_x4(a, keyTile + key * HeadDim + swizzled_chunk(key, c) * 8);
            kiln_mma_bf16_16816(s, a[0], a[1], a[2], a[3], queryFragment[step][0], queryFragment[step][1]);
        }
        // s[0], s[1]: key g, heads 2t, 2t + 1; s[2], s[3]: key g + 8.
        float p[4], rescale[2];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const bool valid = keyBase + g + (j >> 1) * 8 <= end;
            const float score = softcap > 0.0f ? softcap * tanhf(s[j] * scoreScale) * kLog2e : s[j] * scoreScale;
            s[j] = valid ? score : KILN_NEG_INFINITY;
        }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float tileMax = fmaxf(s[h], s[2 + h]);
#pragma unroll
            for (int offset = 4; offset < 32; offset <<= 1) tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, offset));
            const float newMax = fmaxf(runningMax[h], tileMax);
            const float base = newMax == KILN_NEG_INFINITY ? 0.0f : newMax;
            rescale[h] = exp2f(runningMax[h] - base);
            p[h] = exp2f(s[h] - base);
            p[2 + h] = exp2f(s[2 + h] - base);
            runningMax[h] = newMax;
            runningSum[h] = runningSum[h] * rescale[h] + p[h] + p[2 + h];
        }
#pragma unroll
        for (int i = 0; i < DimSteps; ++i) {
            o[i][0] *= rescale[0];
            o[i][1] *= rescale[1];
            o[i][2] *= rescale[0];
            o[i][3] *= rescale[1];
        }
        // P^T as the B fragment (k = keys, n = heads): through shared memory as P [head][key].
        myProbabilities[(2 * t) * kMMAKeys + g] = from_float<bf16>(p[0]);
        myProbabilities[(2 * t + 1) * kMMAKeys + g] = from_float<bf16>(p[1]);
        myProbabilities[(2 * t) * kMMAKeys + g + 8] = from_float<bf16>(p[2]);
        myProbabilities[(2 * t + 1) * kMMAKeys + g + 8] = from_float<bf16>(p[3]);
        __syncwarp();
        unsigned b[2];
        kiln_load_matrix_x2(b, myProbabilities + (lane & 7) * kMMAKeys + ((lane >> 3) & 1) * 8);
#pragma unroll
        for (int i = 0; i < DimSteps; ++i) {
            unsigned a[4];
            const int key = (lane >> 4) * 8 + (lane & 7), c = 2 * i + ((lane >> 3) & 1);
            kiln_load_matrix_x4_transposed(a, valueTile + key * HeadDim + swizzled_chunk(key, c) * 8);
            kiln_mma_bf16_16816(o[i], a[0], a[1], a[2], a[3], b[0], b[1]);
        }
        __syncwarp();  // the tile buffers and P are rewritten next round
    }

    // Each head's sum over the warp's keys (the lanes of equal t).
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int offset = 4; offset < 32; offset <<= 1) runningSum[h] += __shfl_xor_sync(0xffffffffu, runningSum[h], offset);

    // Combine the warps: [kWarps][8] maxima and sums, [kWarps][8][HeadDim] outputs in the rings'
    // place (256 x HeadDim x stages bytes >= 128 x HeadDim).
    __shared__ float warpMax[kWarps][kMMAHeads], warpSum[kWarps][kMMAHeads];
    float* warpOut = reinterpret_cast<float*>(dynamicShared);
    __syncthreads();  // every warp is done with its ring
    if (g == 0) {
        warpMax[warp][2 * t] = runningMax[0];
        warpMax[warp][2 * t + 1] = runningMax[1];
        warpSum[warp][2 * t] = runningSum[0];
        warpSum[warp][2 * t + 1] = runningSum[1];
    }
#pragma unroll
    for (int i = 0; i < DimSteps; ++i) {
        float* head0 = warpOut + (warp * kMMAHeads + 2 * t) * HeadDim + 16 * i + g;
        float* head1 = head0 + HeadDim;
        head0[0] = o[i][0];
        head1[0] = o[i][1];
        head0[8] = o[i][2];
        head1[8] = o[i][3];
    }
    __syncthreads();
    decode_write_block_result<bf16, HeadDim, kMMAHeads>(warpMax, warpSum, warpOut, headCount, range.partitions == 1, outRow,
                                                        headBase, row, heads, partition, partialOut, partialMax, partialSum);
}

}  // namespace

// Dynamic shared memory: stages x 256 x HEAD_DIM bytes (README-attention.md).
#define KILN_DECODE_MMA(HEAD_DIM)                                                                                  \
    extern "C" __global__ void __launch_bounds__(kThreads) attention_decode_mma_bf16_h##HEAD_DIM(                  \
        const bf16* query, int queryStride, const bf16* keyCache, const bf16* valueCache, bf16* out, int outStride, \
        const int* positions, const int* rowSequence, const int* sequenceContextLength, const int* blockTables,     \
        int blockTableStride, int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap,  \
        int partitionSize, float* partialOut, float* partialMax, float* partialSum, const bf16* qkv, int qkvStride, \
        bf16* keyCacheOut, bf16* valueCacheOut, const int* slots, const float* queryNorm, const float* keyNorm,     \
        float epsilon, const float* inverseFrequencies, int pairs, int interleaved, int stages) {                  \
        attention_decode_mma_body<HEAD_DIM>(                                                                        \
            keyCache, valueCache, out, outStride, positions, rowSequence, sequenceContextLength, blockTables,       \
            blockTableStride, blockSize, heads, kvHeads, scale, slidingWindow, softcap, partitionSize, partialOut,  \
            partialMax, partialSum,                                                                                 \
            DecodeInput<bf16>{qkv, qkvStride, keyCacheOut, valueCacheOut, slots, queryNorm, keyNorm, epsilon,      \
                              inverseFrequencies, pairs, interleaved},                                             \
            stages);                                                                                                \
    }

KILN_DECODE_MMA(64)
KILN_DECODE_MMA(128)
KILN_DECODE_MMA(256)
