// Paged KV cache write: the new tokens' K and V rows go to their cache slots.
// CPU twin: CPUBackend.writeCache. ABI: README-attention.md.
#include "kiln_common.cuh"

// keyCache[slots[t], :] = keys[t, 0..<width], valueCache[slots[t], :] = values[t, 0..<width].
//   keys:   [tokens, keyStride]   (row t's first `width` elements; keyStride >= width, so keys
//   values: [tokens, valueStride]  and values may be slices of one fused QKV projection)
//   keyCache, valueCache: [numBlocks * blockSize, width], width = kvHeads * headDim,
//                         slot = block * blockSize + offsetInBlock.
//   slots: [tokens] int32. A negative slot skips its token (padding rows).
// grid = (tokens, 2): blockIdx.y 0 writes keys, 1 writes values. block: any multiple of 32 (128).
// The copy is bit-exact (no conversion); 16-byte accesses when both rows are 16-byte aligned.
template <typename T>
__device__ __forceinline__ void kv_cache_write_body(const T* __restrict__ keys, const T* __restrict__ values,
                                                    T* __restrict__ keyCache, T* __restrict__ valueCache,
                                                    const int* __restrict__ slots, int width, int keyStride,
                                                    int valueStride) {
    const long long token = blockIdx.x;
    const int slot = slots[token];
    if (slot < 0) return;
    const bool isValue = blockIdx.y != 0;
    const T* source = isValue ? values + token * valueStride : keys + token * keyStride;
    T* destination = (isValue ? valueCache : keyCache) + (long long)slot * width;
    const int bytes = width * (int)sizeof(T);
    const unsigned long long addresses = (unsigned long long)source | (unsigned long long)destination;
    if ((addresses & 15ull) == 0 && (bytes & 15) == 0) {
        const uint4* from = reinterpret_cast<const uint4*>(source);
        uint4* to = reinterpret_cast<uint4*>(destination);
        for (int i = threadIdx.x; i < bytes / 16; i += blockDim.x) to[i] = from[i];
    } else {
        for (int i = threadIdx.x; i < width; i += blockDim.x) destination[i] = source[i];
    }
}

#define KILN_KV_CACHE_WRITE(T, SUFFIX)                                                                        \
    extern "C" __global__ void kv_cache_write_##SUFFIX(const T* keys, const T* values, T* keyCache,           \
                                                       T* valueCache, const int* slots, int width,            \
                                                       int keyStride, int valueStride) {                      \
        kv_cache_write_body<T>(keys, values, keyCache, valueCache, slots, width, keyStride, valueStride);     \
    }

KILN_KV_CACHE_WRITE(float, f32)
KILN_KV_CACHE_WRITE(bf16, bf16)
