#!/usr/bin/env python3
"""Writes the reference fixtures for Tests/KilnFormatsTests/DequantizeTests.swift.

Made with the `gguf` Python package 0.19.0 (llama.cpp's gguf-py) and numpy 2.4.6:
    python3 scripts/make_dequant_fixtures.py

For each ggml type GGMLDequantizer supports, Tests/KilnFormatsTests/Fixtures/dequant/ gets
  <TYPE>.bin  raw blocks exactly as a GGUF file stores them, and
  <TYPE>.f32  the expected little-endian float32 values, from gguf.quants.dequantize
              (numpy's astype(float32) for the dense integer/f64 types and Q8_K, which
              gguf-py has no class for: x = d * q).
Blocks are gguf.quants.quantize output of random floats where gguf-py can quantise the type,
plus random bytes with moderate, finite f16 scales (gguf-py cannot quantise k-quants, and
random bytes reach bit patterns a quantiser rarely emits). types.tsv lists every ggml type
with its block size and bytes per block, from gguf.GGML_QUANT_SIZES.
The output is deterministic (fixed seed).
"""

from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

OUT = Path(__file__).resolve().parent.parent / "Tests" / "KilnFormatsTests" / "Fixtures" / "dequant"
rng = np.random.default_rng(20240607)


def random_halves(count: int, low: float, high: float) -> np.ndarray:
    """f16 bit patterns of random magnitudes in [low, high) with random signs."""
    values = rng.uniform(low, high, count) * rng.choice([-1.0, 1.0], count)
    return values.astype(np.float16).view(np.uint8).reshape(count, 2)


def random_blocks(qtype: T, blocks: int, half_offsets: list[int]) -> np.ndarray:
    """Random bytes, with the f16 scale fields at `half_offsets` replaced by finite values."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    data = rng.integers(0, 256, (blocks, type_size), dtype=np.uint8)
    for offset in half_offsets:
        data[:, offset:offset + 2] = random_halves(blocks, 1e-4, 0.1)
    return data


def quantized_blocks(qtype: T, blocks: int) -> np.ndarray:
    block_size, _ = gguf.GGML_QUANT_SIZES[qtype]
    floats = rng.standard_normal((blocks, block_size)).astype(np.float32)
    floats[0, :] = 0  # an all-zero block (zero scale)
    return quantize(floats, qtype).reshape(blocks, -1)


def write(name: str, raw: np.ndarray, expected: np.ndarray) -> None:
    (OUT / f"{name}.bin").write_bytes(np.ascontiguousarray(raw).astype(np.uint8, copy=False).tobytes())
    (OUT / f"{name}.f32").write_bytes(np.ascontiguousarray(expected, dtype="<f4").tobytes())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)

    # Legacy 32-element blocks: 16 quantised + 16 random.
    legacy_scales = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0]}
    for qtype, offsets in legacy_scales.items():
        raw = np.concatenate([quantized_blocks(qtype, 16), random_blocks(qtype, 16, offsets)])
        write(qtype.name, raw, dequantize(raw, qtype))

    # MXFP4: quantised blocks, plus random bytes with exponents 0..254 (255 is NaN in E8M0 but
    # ggml does not special-case it; avoid it so the reference stays finite).
    raw = np.concatenate([quantized_blocks(T.MXFP4, 16), rng.integers(0, 256, (16, 17), dtype=np.uint8)])
    raw[16:, 0] = rng.integers(0, 255, 16, dtype=np.uint8)
    raw[16, 0], raw[17, 0] = 0, 1  # the two subnormal scales
    write("MXFP4", raw, dequantize(raw, T.MXFP4))

    # K-quants: random super-blocks (gguf-py has no k-quant quantiser).
    k_scales = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
    for qtype, offsets in k_scales.items():
        raw = random_blocks(qtype, 6, offsets)
        write(qtype.name, raw, dequantize(raw, qtype))

    # Q8_K: d f32 @0, qs[256] i8 @4, bsums[16] i16 @260; x = d * q.
    raw = random_blocks(T.Q8_K, 6, [])
    d = rng.uniform(1e-4, 0.1, 6).astype(np.float32)
    raw[:, 0:4] = d.view(np.uint8).reshape(6, 4)
    expected = d.reshape(6, 1) * raw[:, 4:260].view(np.int8).astype(np.float32)
    write("Q8_K", raw, expected)

    # Dense floats, with the awkward values: signed zeros, subnormals, infinities, extremes.
    # Out-of-range specials overflow to inf on narrowing, as intended.
    np.seterr(over="ignore")
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 1e-40, -1e-45, 3.4e38, 65504.0, 6e-8, 1e-5])
    floats = np.concatenate([specials, rng.standard_normal(244) * 10]).astype(np.float32)
    write("F32", floats.view(np.uint8), floats)
    halves = np.concatenate([specials, rng.standard_normal(244) * 10]).astype(np.float16)
    halves[:20] = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
                            0x3C00, 0xBC00, 0x3555, 0x0200, 0x83FF, 0x0401, 0x7800, 0x1234, 0x4321, 0xC000],
                           dtype=np.uint16).view(np.float16)
    write("F16", halves.view(np.uint8), dequantize(halves.view(np.uint8), T.F16))
    bf16 = quantize(floats, T.BF16)
    write("BF16", bf16, dequantize(bf16, T.BF16))
    doubles = np.concatenate([specials, rng.standard_normal(244) * 1e3, [1e300, -1e-300]]).astype(np.float64)
    write("F64", doubles.view(np.uint8), doubles.astype(np.float32))

    # Integers, including values float32 must round (beyond 2^24).
    for name, dtype in [("I8", np.int8), ("I16", np.int16), ("I32", np.int32), ("I64", np.int64)]:
        info = np.iinfo(dtype)
        ints = np.concatenate([
            np.array([0, 1, -1, info.min, info.max], dtype=dtype),
            rng.integers(info.min, info.max, 251, dtype=dtype, endpoint=True),
        ])
        write(name, ints.view(np.uint8), ints.astype(np.float32))

    # Every ggml type gguf-py knows: id, name, elements per block, bytes per block.
    lines = [f"{qtype.value}\t{qtype.name}\t{block}\t{size}" for qtype, (block, size) in gguf.GGML_QUANT_SIZES.items()]
    (OUT / "types.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
