// Random sampling of one token per row of logits: temperature, then top-k, top-p (over the
// top-k mass), min-p, in vLLM's order, then one inverse-CDF draw with a uniform u supplied by
// the host (the request's seeded stream stays the only source of randomness). CPU twin:
// KilnEngine's GPUSamplingReference, which computes the same ids bit for bit.
//
// The contract (the CPU Sampler keeps the same set; see GPUSamplingReference for the proof
// sketch and the twin):
// - Rank order: logit descending, ties to the lower id; NaN ranks as -inf, -0 as +0.
// - Weight of a token: w = e^z, z = (logit - max) * (1 / temperature) in fp32, with the CPU
//   Sampler's own exp polynomial (Sampler.fastExp), evaluated here with explicitly rounded
//   operations (no FMA contraction) so that every w is bit-identical to the CPU's. expf would
//   differ by an ulp now and then, and min-p's test w >= minP would then differ at its edge.
// - Mass: W = floor(w * 2^40) as an unsigned 64-bit integer. Sums of W are exact and do not
//   depend on the order of summation, so the kernel is deterministic and its twin reproduces
//   it exactly. A token lighter than 2^-40 of the top one has mass 0: it is never drawn.
// - top-k (0 < k < vocabulary): the first k tokens in rank order.
// - top-p (p < 1): in rank order among the top-k tokens (all tokens without top-k), a token is
//   kept while the mass before it is < ceil(p * totalK) (double product; at most totalK),
//   totalK the mass of the top-k tokens. The top token is always kept.
// - min-p (minP > 0): a kept token must also have w >= minP (w is its probability relative to
//   the top token's after temperature).
// - Draw: target = floor(u * total) (double product; total - 1 at most), total the mass of the
//   kept tokens; the chosen id is the lowest kept id whose inclusive prefix mass, in id order,
//   exceeds target. The CPU Sampler draws in another order, so for the same u it may choose
//   another token; the distribution is the same up to the 2^-40 quantisation of weights.
// - Greedy (argmax, lowest id of the maximum; 0 for a row of only NaN/-inf): temperature <= 0
//   or with an infinite reciprocal, or a +inf maximum, or no finite maximum.
//
// No sort: thresholds are found by radix selection (4 passes of 8 bits) on an order-preserving
// 32-bit key of the logit, with block-wide histograms of counts (top-k) or masses (top-p); ties
// at a threshold are cut by id with a block scan. Every pass re-reads the row (L2-resident after
// the first) and recomputes weights rather than storing them: a 262,144-entry row of weights
// would not fit in shared memory.
#include "kiln_common.cuh"

typedef unsigned long long u64;

#define KILN_SAMPLE_INFINITY __int_as_float(0x7f800000)
#define KILN_SAMPLE_FULL_MASK 0xffffffffu
// 2^40, the fixed-point scale of masses: a row of up to 2^23 tokens sums below 2^63.
#define KILN_SAMPLE_MASS_SCALE 1099511627776.0f

// Sampler.fastExp (Cephes' single-precision polynomial) with every operation rounded as Swift
// rounds it: __fmul_rn/__fadd_rn/__fsub_rn are never fused into an FMA. Constants are the exact
// fp32 bit patterns of the Swift literals. NaN and x < -87 give 0.
__device__ __forceinline__ float sampler_exp(float x) {
    const float magic = __int_as_float(0x4b400000);  // 1.5 x 2^23
    float clamped = x >= -87.0f ? x : -87.0f;        // NaN -> -87, as Swift's select
    clamped = x > 88.0f ? 88.0f : clamped;
    const float shifted = __fadd_rn(__fmul_rn(clamped, __int_as_float(0x3fb8aa3b)), magic);  // x / ln 2 + magic
    const float n = __fsub_rn(shifted, magic);
    const float r = __fsub_rn(__fsub_rn(clamped, __fmul_rn(n, __int_as_float(0x3f318000))),
                              __fmul_rn(n, __int_as_float(0xb95e8083)));
    float p = __int_as_float(0x39506967);
    p = __fadd_rn(__fmul_rn(p, r), __int_as_float(0x3ab743ce));
    p = __fadd_rn(__fmul_rn(p, r), __int_as_float(0x3c088908));
    p = __fadd_rn(__fmul_rn(p, r), __int_as_float(0x3d2aa9c1));
    p = __fadd_rn(__fmul_rn(p, r), __int_as_float(0x3e2aaaaa));
    p = __fadd_rn(__fmul_rn(p, r), __int_as_float(0x3f000000));
    const float y = __fadd_rn(__fadd_rn(__fmul_rn(p, __fmul_rn(r, r)), r), 1.0f);  // e^r
    const int exponent = __float_as_int(shifted) - __float_as_int(magic);
    const float scale = __int_as_float((exponent + 127) << 23);  // 2^n
    return x >= -87.0f ? __fmul_rn(y, scale) : 0.0f;
}

// Order-preserving key: a larger logit has a larger key; NaN maps to -inf's key, -0 to +0's.
__device__ __forceinline__ unsigned int sample_key(float x) {
    if (x != x) x = KILN_NEG_INFINITY;
    if (x == 0.0f) x = 0.0f;
    const unsigned int bits = __float_as_uint(x);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The logit of a key (the inverse of sample_key on canonical values).
__device__ __forceinline__ float sample_key_value(unsigned int key) {
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// One row's state, uniform across the block after each step.
struct SampleRow {
    float maxLogit;
    float inverseTemperature;
    float minP;
    bool usesMinP;
    // Rank cut: a token is in the rank prefix iff key > cutKey, or key == cutKey and
    // id <= cutID. cutKey 0 is below every key (the smallest, -inf's, is 0x007fffff).
    unsigned int cutKey;
    int cutID;
};

__device__ __forceinline__ float sample_weight(const SampleRow& row, float logit) {
    return sampler_exp(__fmul_rn(__fsub_rn(logit, row.maxLogit), row.inverseTemperature));
}

__device__ __forceinline__ u64 sample_mass(float weight) {
    return (u64)__fmul_rn(weight, KILN_SAMPLE_MASS_SCALE);  // truncates, as Swift's UInt64(_:)
}

__device__ __forceinline__ bool sample_in_prefix(const SampleRow& row, unsigned int key, int id) {
    return key > row.cutKey || (key == row.cutKey && id <= row.cutID);
}

__device__ __forceinline__ u64 warp_sum_u64(u64 value) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(KILN_SAMPLE_FULL_MASK, value, offset);
    return value;
}

__device__ __forceinline__ u64 warp_inclusive_scan_u64(u64 value) {
    const int lane = threadIdx.x & 31;
    #pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
        const u64 other = __shfl_up_sync(KILN_SAMPLE_FULL_MASK, value, offset);
        if (lane >= offset) value += other;
    }
    return value;
}

// Sum over the block; every thread gets it. scratch: 32 u64 of shared memory.
__device__ __forceinline__ u64 block_sum_u64(u64 value, u64* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    value = warp_sum_u64(value);
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = lane < warps ? scratch[lane] : 0ull;
    value = warp_sum_u64(value);
    __syncthreads();
    return value;
}

// hist[bin] += value for every lane with bin < 256, one shared atomic per distinct bin per
// warp (lanes of a row's logits often share their top byte: unaggregated atomics would
// serialise). Every lane of the warp must call it. value < 2^41, split so the 32-bit warp
// reductions cannot overflow.
__device__ __forceinline__ void histogram_add(u64* hist, unsigned int bin, u64 value) {
    const unsigned int peers = __match_any_sync(KILN_SAMPLE_FULL_MASK, bin);
    const unsigned int high = __reduce_add_sync(peers, (unsigned int)(value >> 20));
    const unsigned int low = __reduce_add_sync(peers, (unsigned int)(value & 0xfffffu));
    const int lane = threadIdx.x & 31;
    if (bin < 256u && lane == __ffs(peers) - 1) atomicAdd(hist + bin, ((u64)high << 20) + (u64)low);
}

// Shared state of the selections, written by one thread between barriers.
struct SampleShared {
    u64 hist[256];
    u64 scratch[32];
    unsigned int prefix;
    u64 above;  // measure of the keys above the current prefix
    u64 at;     // measure of the keys equal to the selected key (after the last pass)
    int found;
};

// Radix selection over the tokens in the row's rank prefix: the largest key t whose tokens
// with key >= t measure at least `needed` (>= 1, at most the prefix's total), where a token
// measures 1 (byMass false: counts) or its mass W. Returns t; shared->above holds the measure
// of the prefix's tokens with key > t, shared->at that of those with key == t.
template <typename T>
__device__ unsigned int radix_select(const T* __restrict__ input, int vocabulary, const SampleRow& row, bool byMass,
                                     u64 needed, SampleShared* shared) {
    const int lane = threadIdx.x & 31;
    if (threadIdx.x == 0) {
        shared->prefix = 0;
        shared->above = 0;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) shared->hist[i] = 0;
        __syncthreads();
        const unsigned int prefix = shared->prefix;
        const u64 remaining = needed - shared->above;  // read before anyone writes it below
        const unsigned int highMask = shift == 24 ? 0u : (0xffffffffu << (shift + 8));
        // Every thread runs the same number of iterations: histogram_add needs whole warps.
        for (int base = 0; base < vocabulary; base += blockDim.x) {
            const int i = base + threadIdx.x;
            unsigned int bin = 256u;
            u64 value = 0;
            if (i < vocabulary) {
                const float logit = to_float(input[i]);
                const unsigned int key = sample_key(logit);
                if ((key & highMask) == prefix && sample_in_prefix(row, key, i)) {
                    bin = (key >> shift) & 255u;
                    value = byMass ? sample_mass(sample_weight(row, logit)) : 1ull;
                }
            }
            histogram_add(shared->hist, bin, value);
        }
        __syncthreads();
        if (threadIdx.x < 32) {
            // Bins from the highest down: lane l owns bins 255 - 8l ... 248 - 8l.
            u64 local = 0;
            #pragma unroll
            for (int j = 0; j < 8; ++j) local += shared->hist[255 - 8 * lane - j];
            const u64 inclusive = warp_inclusive_scan_u64(local);
            const u64 exclusive = inclusive - local;
            if (exclusive < remaining && remaining <= inclusive) {
                u64 before = exclusive;
                for (int j = 0; j < 8; ++j) {
                    const unsigned int bin = 255 - 8 * lane - j;
                    const u64 count = shared->hist[bin];
                    if (before + count >= remaining) {
                        shared->prefix = prefix | (bin << shift);
                        shared->above += before;
                        shared->at = count;
                        break;
                    }
                    before += count;
                }
            }
        }
        __syncthreads();
    }
    return shared->prefix;
}

// The id of the `rank`-th (1-based) token with key `key`, in id order; the caller knows there
// are at least `rank`. One block-wide count per tile of blockDim ids until the tile holding it.
template <typename T>
__device__ int nth_with_key(const T* __restrict__ input, int vocabulary, unsigned int key, u64 rank, SampleShared* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned int* warpCounts = (unsigned int*)shared->scratch;
    u64 running = 0;
    for (int base = 0; base < vocabulary; base += blockDim.x) {
        const int i = base + threadIdx.x;
        const bool match = i < vocabulary && sample_key(to_float(input[i])) == key;
        const int count = __syncthreads_count(match);
        if (running + (u64)count >= rank) {
            const unsigned int ballot = __ballot_sync(KILN_SAMPLE_FULL_MASK, match);
            if (lane == 0) warpCounts[warp] = __popc(ballot);
            __syncthreads();
            u64 before = running + __popc(ballot & ((1u << lane) - 1u));
            for (int w = 0; w < warp; ++w) before += warpCounts[w];
            if (match && before + 1 == rank) shared->found = i;
            __syncthreads();
            const int found = shared->found;
            __syncthreads();  // everyone has read it before shared->found or the scratch is reused
            return found;
        }
        running += (u64)count;
    }
    return 0x7fffffff;  // unreachable when the caller's count is right
}

// grid.x = rows, one block per row, blockDim.x a multiple of 32 (the launcher uses 1024).
// logits: [rows, rowStride], the first `vocabulary` (<= 2^23) of each row read. Per row:
// temperatures fp32, topKs int32 (0 = off), topPs fp32 (>= 1 = off), minPs fp32 (<= 0 = off),
// uniforms fp64 in [0, 1). ids: [rows] int32, the chosen token.
template <typename T>
__device__ __forceinline__ void sample_body(const T* __restrict__ logits, int vocabulary, long long rowStride,
                                            const float* __restrict__ temperatures, const int* __restrict__ topKs,
                                            const float* __restrict__ topPs, const float* __restrict__ minPs,
                                            const double* __restrict__ uniforms, int* __restrict__ ids) {
    __shared__ SampleShared shared;
    __shared__ float maxValues[32];
    __shared__ int maxIndices[32];
    const long long rowIndex = blockIdx.x;
    const T* input = logits + rowIndex * rowStride;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;

    // 1. Argmax, as argmax.cu: larger wins, ties to the lower id, NaN never.
    float best = KILN_NEG_INFINITY;
    int bestIndex = 0x7fffffff;
    for (int i = threadIdx.x; i < vocabulary; i += blockDim.x) {
        const float value = to_float(input[i]);
        if (value > best) {
            best = value;
            bestIndex = i;
        }
    }
    block_argmax(best, bestIndex, maxValues, maxIndices);
    const int greedyID = best > KILN_NEG_INFINITY ? bestIndex : 0;
    const float temperature = temperatures[rowIndex];
    const float inverseTemperature = __fdiv_rn(1.0f, temperature);
    // Greedy: no distribution to draw from (all -inf/NaN, a +inf logit) or temperature 0.
    if (!(temperature > 0.0f) || !(fabsf(inverseTemperature) < KILN_SAMPLE_INFINITY) || !(fabsf(best) < KILN_SAMPLE_INFINITY)) {
        if (threadIdx.x == 0) ids[rowIndex] = greedyID;
        return;
    }
    SampleRow row;
    row.maxLogit = best;
    row.inverseTemperature = inverseTemperature;
    row.minP = minPs[rowIndex];
    row.usesMinP = row.minP > 0.0f;
    row.cutKey = 0u;
    row.cutID = 0x7fffffff;

    // 2. Top-k: the k-th key, then the ties kept by id.
    const int topK = topKs[rowIndex];
    if (topK > 0 && topK < vocabulary) {
        const unsigned int key = radix_select(input, vocabulary, row, false, (u64)topK, &shared);
        const u64 ties = (u64)topK - shared.above, tieCount = shared.at;
        __syncthreads();  // everyone has read shared.above and shared.at
        row.cutID = ties < tieCount ? nth_with_key(input, vocabulary, key, ties, &shared) : 0x7fffffff;
        row.cutKey = key;
    }

    // 3. Top-p over the rank prefix (the top-k tokens, or all).
    const float topP = topPs[rowIndex];
    if (topP < 1.0f) {
        u64 local = 0;
        for (int i = threadIdx.x; i < vocabulary; i += blockDim.x) {
            const float logit = to_float(input[i]);
            if (sample_in_prefix(row, sample_key(logit), i)) local += sample_mass(sample_weight(row, logit));
        }
        const u64 totalK = block_sum_u64(local, shared.scratch);
        u64 target = (u64)ceil((double)topP * (double)totalK);
        if (target > totalK) target = totalK;
        if (target == 0) target = 1;  // topP > 0: the top token (mass 2^40) is always kept
        const unsigned int key = radix_select(input, vocabulary, row, true, target, &shared);
        const u64 above = shared.above, atMass = shared.at;
        __syncthreads();
        // Ties at `key` weigh the same: the j-th of them is kept iff above + (j - 1) W < target.
        const u64 tieMass = sample_mass(sample_weight(row, sample_key_value(key)));
        // tieMass > 0: the ties carry at least target - above > 0 (the guard is for safety).
        const u64 tieCount = tieMass > 0 ? atMass / tieMass : 0;
        const u64 keptTies = tieMass > 0 ? (target - above + tieMass - 1) / tieMass : 0;
        if (keptTies < tieCount) {
            // The candidates among ties are the first ones in id order (all of them, or the
            // first `ties` when top-k cut at the same key), so the keptTies-th overall is the cut.
            row.cutID = nth_with_key(input, vocabulary, key, keptTies, &shared);
        } else if (key != row.cutKey) {
            row.cutID = 0x7fffffff;
        }
        row.cutKey = key;
    }

    // 4. Draw: warp w owns ids [w * span, (w + 1) * span), span a multiple of 32; the warp
    // holding the target walks its range 32 ids at a time.
    const int span = ((vocabulary + warps - 1) / warps + 31) / 32 * 32;
    const int begin = warp * span;
    const int end = min(vocabulary, begin + span);
    u64 local = 0;
    for (int i = begin + lane; i < end; i += 32) {
        const float logit = to_float(input[i]);
        if (!sample_in_prefix(row, sample_key(logit), i)) continue;
        const float weight = sample_weight(row, logit);
        if (!row.usesMinP || weight >= row.minP) local += sample_mass(weight);
    }
    local = warp_sum_u64(local);
    if (lane == 0) shared.scratch[warp] = local;
    if (threadIdx.x == 0) shared.found = -1;
    __syncthreads();
    u64 total = 0, before = 0;
    for (int w = 0; w < warps; ++w) {
        if (w < warp) before += shared.scratch[w];
        total += shared.scratch[w];
    }
    const double product = uniforms[rowIndex] * (double)total;
    const u64 target = product >= (double)total ? total - 1 : (product > 0.0 ? (u64)product : 0ull);
    if (before <= target && target < before + local) {
        u64 running = before;
        for (int base = begin; base < end; base += 32) {
            const int i = base + lane;
            u64 mass = 0;
            if (i < end) {
                const float logit = to_float(input[i]);
                const float weight = sample_weight(row, logit);
                if (sample_in_prefix(row, sample_key(logit), i) && (!row.usesMinP || weight >= row.minP)) mass = sample_mass(weight);
            }
            const u64 inclusive = warp_inclusive_scan_u64(mass);
            const unsigned int crossing = __ballot_sync(KILN_SAMPLE_FULL_MASK, running + inclusive > target);
            if (crossing != 0) {
                if (lane == __ffs(crossing) - 1) shared.found = i;
                break;
            }
            running += __shfl_sync(KILN_SAMPLE_FULL_MASK, inclusive, 31);
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) ids[rowIndex] = shared.found >= 0 ? shared.found : greedyID;
}

#define KILN_SAMPLE(T, SUFFIX)                                                                                  \
    extern "C" __global__ void __launch_bounds__(1024)                                                           \
        sample_##SUFFIX(const T* logits, int vocabulary, long long rowStride, const float* temperatures,          \
                        const int* topKs, const float* topPs, const float* minPs, const double* uniforms, int* ids) { \
        sample_body<T>(logits, vocabulary, rowStride, temperatures, topKs, topPs, minPs, uniforms, ids);         \
    }

KILN_SAMPLE(float, f32)
KILN_SAMPLE(bf16, bf16)
