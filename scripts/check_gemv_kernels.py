#!/usr/bin/env python3
"""Checks and times Kiln's small-batch matrix-vector kernels (Sources/KilnCUDA/Kernels/gemv.cu) on
the GPU, through CuPy (compile, launch) and PyTorch (tensors, events, CUDA graphs, cuBLAS peer).

Runs ON THE GPU machine:
    PYTHONUNBUFFERED=1 python3 scripts/check_gemv_kernels.py [--quick] [--no-bench] [--no-tune]

1. Compiles gemv.cu with NVRTC exactly as the Swift side does (KernelLibrary.options:
   --gpu-architecture=sm_90a -std=c++17 -default-device, kiln_common.cuh given by include name),
   for sm_90a and sm_80 (what CI compiles), and through cupy.RawModule(code=..., backend='nvrtc')
   as a second path; the first path's CUBIN is the one tested and timed.
2. Correctness: every entry point against a float64 reference on the upcast bf16 inputs, fresh
   random inputs per case, outputs poisoned with NaN first (every element must be written, nothing
   outside [batch, N] of the padded output may change). ||gpu - ref|| / ||ref|| < 1e-2 for bf16
   output, < 1e-3 for fp32 output. Shapes N in {1, 7, 257, 2560, 32768, 256000} x K in
   {64, 576, 2048, 16384} x batch in {1, 2, 4, 8} (batch {1, 8} for the largest), K tails,
   row strides, and K % 8 != 0 rejected by the launcher (as the Swift launcher must).
3. Timing (CUDA events, warm, median of 50, each launch after a GPU sleep so the events bracket
   the kernel and not the Python launch; weights rotated over 18 layer copies so L2 holds none):
   the Gemma-2B decode shapes at batch 1 and 8, next to torch.nn.functional.linear (cuBLAS) on the
   same tensors, and one whole decode step's products captured in a CUDA graph, vs the floor
   (bytes / a device-to-device copy's bandwidth measured in the same run).
Last line: `N passed, M failed`. Logs and JSON under $OUT (default /tmp/kiln-gemv).
"""
import argparse
import json
import ctypes
import math
import os
import re
import statistics
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn.functional as F
import cupy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "Sources", "KilnCUDA", "Kernels")
OUT = os.environ.get("OUT") or "/tmp/kiln-gemv"
os.makedirs(OUT, exist_ok=True)
LOG = open(os.path.join(OUT, "check_gemv_log.txt"), "w")

results = {"passed": 0, "failed": 0, "failures": [], "cases": [], "bench": {}, "tune": []}


def say(*parts):
    line = " ".join(str(p) for p in parts)
    print(line)
    LOG.write(line + "\n")
    LOG.flush()


def record(name, ok, detail=""):
    results["cases"].append({"name": name, "ok": bool(ok), "detail": detail})
    if ok:
        results["passed"] += 1
        LOG.write(f"PASS {name} {detail}\n")
    else:
        results["failed"] += 1
        results["failures"].append(f"{name} {detail}")
        say(f"FAIL {name} {detail}")


# ----------------------------------------------------------------------------------------------
# Compilation
# ----------------------------------------------------------------------------------------------

SOURCE = open(os.path.join(KERNELS, "gemv.cu")).read()
HEADER = open(os.path.join(KERNELS, "kiln_common.cuh")).read()
PLAIN = ["gemv_bf16", "gemv_bf16_f32"]
GATEUP = ["gemv_gateup_silu_bf16", "gemv_gateup_gelu_bf16"]


def shipped_config():
    """(chunks, tiles) of the shipped entry points, read from gemv.cu's #defines."""
    return tuple(int(re.search(rf"#define KILN_GEMV_{key} (\d+)", SOURCE).group(1)) for key in ("CHUNKS", "TILES"))


def tuning_configs():
    return [tuple(int(v) for v in m) for m in re.findall(r"KILN_GEMV_TUNE\((\d+), (\d+)\)", SOURCE)]


def nvrtc_swift(arch, defines=()):
    """Compiles with the Swift side's exact options; returns (cubin bytes, log)."""
    from cupy_backends.cuda.libs import nvrtc
    options = [f"--gpu-architecture={arch}", "-std=c++17", "-default-device"] + [f"-D{d}" for d in defines]
    try:
        prog = nvrtc.createProgram(SOURCE, "gemv.cu", [HEADER], ["kiln_common.cuh"])
    except TypeError:
        prog = nvrtc.createProgram(SOURCE, "gemv.cu", [HEADER.encode()], [b"kiln_common.cuh"])
    try:
        try:
            try:
                nvrtc.compileProgram(prog, options)
            except TypeError:
                nvrtc.compileProgram(prog, [o.encode() for o in options])
        except nvrtc.NVRTCError:
            raise RuntimeError(nvrtc.getProgramLog(prog))
        return nvrtc.getCUBIN(prog), nvrtc.getProgramLog(prog)
    finally:
        nvrtc.destroyProgram(prog)


def load_module(arch, defines=(), tag="main"):
    """The module the tests use: the Swift-option CUBIN loaded by CuPy (path also returned, for the
    driver-API launches with PDL); cupy.RawModule(code=...) as the fallback (path None)."""
    try:
        cubin, log = nvrtc_swift(arch, defines)
        path = os.path.join(OUT, f"gemv_{tag}_{arch}.cubin")
        with open(path, "wb") as f:
            f.write(cubin)
        return cupy.RawModule(path=path), path, f"NVRTC with the Swift options for {arch}"
    except Exception as error:  # noqa: BLE001
        say(f"note: Swift-option NVRTC path failed ({str(error)[:300]}); using cupy.RawModule(code=...)")
        options = ("--std=c++17", f"-arch={arch}", f"-I{KERNELS}") + tuple(f"-D{d}" for d in defines)
        module = cupy.RawModule(code=SOURCE, backend="nvrtc", options=options)
        module.get_function("gemv_bf16")
        return module, None, f"cupy.RawModule(code, options={options})"


# ----------------------------------------------------------------------------------------------
# Launchers (what the Swift launcher must do: check the shape rules, pick grid, block, workspace)
# ----------------------------------------------------------------------------------------------

SMS = 132


class Kernel:
    """One entry point with its compile-time configuration (CHUNKS, TILES)."""

    def __init__(self, module, cubin_path, name, config, gateup):
        self.function = module.get_function(name)
        self.cubin_path, self.name, self.gateup = cubin_path, name, gateup
        self.chunks, self.tiles = config
        self.label = f"c{self.chunks}_t{self.tiles}"

    def tile_groups(self, rows):
        tiles = (rows + 7) // 8 if self.gateup else (rows + 15) // 16
        return (tiles + self.tiles - 1) // self.tiles

    def steps(self, K):
        return ((K // 8) + 4 * self.chunks - 1) // (4 * self.chunks)


def default_launch(kernel, rows, K):
    """(threads, splits): split K until there are >= 2 blocks per SM while each slice keeps >= 4 k
    steps; as many warps as the slice has steps (at most 8), 4 when there are very many blocks."""
    groups, steps = kernel.tile_groups(rows), kernel.steps(K)
    splits = 1
    while groups * splits < 2 * SMS and steps // (2 * splits) >= 4:
        splits *= 2
    warps = max(1, min(8, -(-steps // splits)))
    if groups * splits >= 32 * SMS:
        warps = min(warps, 4)
    return 32 * warps, splits


class Workspace:
    """Split-K scratch of one launch site: partial sums [groups * TILES][splits][32] float4 and one
    uint32 counter per tile group, zeroed once here and reset by the kernel after every use."""

    def __init__(self, kernel, rows, splits):
        groups = kernel.tile_groups(rows)
        self.splits, self.groups = splits, groups
        self.sums = torch.empty(groups * kernel.tiles * splits * 32 * 4, dtype=torch.float32, device="cuda") \
            if splits > 1 else None
        self.counters = torch.zeros(groups, dtype=torch.int32, device="cuda") if splits > 1 else None


def pointer(tensor):
    return np.uint64(tensor.data_ptr() if tensor is not None else 0)


def check_shape(kernel, weight, x, y, rows, K, batch, ldx, ldy, threads, splits, workspace):
    if K % 8 != 0 or ldx % 8 != 0:
        raise ValueError(f"gemv needs K % 8 == 0 and ldx % 8 == 0 (K {K}, ldx {ldx})")
    if not 1 <= batch <= 8:
        raise ValueError(f"gemv takes batch 1...8, not {batch}")
    if weight.data_ptr() % 16 or x.data_ptr() % 16:
        raise ValueError("gemv needs 16-byte aligned weight and x")
    if weight.numel() < (2 if kernel.gateup else 1) * rows * K or ldx < K or ldy < rows:
        raise ValueError("gemv: buffers smaller than the shape")
    if threads % 32 or not 32 <= threads <= 256:
        raise ValueError(f"gemv: blockDim.x {threads} must be a multiple of 32 in 32...256")
    if splits > 1 and (workspace is None or workspace.splits < splits or workspace.groups < kernel.tile_groups(rows)):
        raise ValueError("gemv: split-K needs a workspace for this many splits and tile groups")


def kernel_args(kernel, weight, x, y, rows, K, batch, ldx, ldy, bias, workspace, splits):
    sums = workspace.sums if splits > 1 else None
    counters = workspace.counters if splits > 1 else None
    if kernel.gateup:
        return (pointer(weight), pointer(x), pointer(y), np.int32(rows), np.int32(K), np.int32(batch),
                np.int32(ldx), np.int32(ldy), pointer(sums), pointer(counters))
    return (pointer(weight), pointer(x), pointer(bias), pointer(y), np.int32(rows), np.int32(K),
            np.int32(batch), np.int32(ldx), np.int32(ldy), pointer(sums), pointer(counters))


def launch(kernel, weight, x, y, rows, K, batch, ldx, ldy, bias=None, threads=None, splits=None, grid=None,
           workspace=None, driver=None):
    """rows = N (plain) or mlp (gate/up). driver: a DriverLauncher to launch with PDL instead of CuPy."""
    if threads is None or splits is None:
        default_threads, default_splits = default_launch(kernel, rows, K)
        threads, splits = threads or default_threads, splits or default_splits
    if splits > 1 and workspace is None:
        workspace = Workspace(kernel, rows, splits)  # stream-ordered allocator: safe to drop after launch
    check_shape(kernel, weight, x, y, rows, K, batch, ldx, ldy, threads, splits, workspace)
    grid = grid or kernel.tile_groups(rows)
    args = kernel_args(kernel, weight, x, y, rows, K, batch, ldx, ldy, bias, workspace, splits)
    if driver is not None:
        driver.launch(kernel, (grid, splits, 1), (threads, 1, 1), args)
    else:
        kernel.function((grid, splits), (threads,), args)
    return workspace


class DriverLauncher:
    """cuLaunchKernelEx through ctypes with the programmatic-stream-serialization attribute (PDL),
    which CuPy cannot set; functions come from the same CUBIN files CuPy loaded."""

    class Value(ctypes.Union):
        _fields_ = [("pad", ctypes.c_char * 64), ("align", ctypes.c_uint64), ("flag", ctypes.c_int)]

    def __init__(self):
        class Attribute(ctypes.Structure):
            _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", DriverLauncher.Value)]

        class Config(ctypes.Structure):
            _fields_ = [("gridDimX", ctypes.c_uint), ("gridDimY", ctypes.c_uint), ("gridDimZ", ctypes.c_uint),
                        ("blockDimX", ctypes.c_uint), ("blockDimY", ctypes.c_uint), ("blockDimZ", ctypes.c_uint),
                        ("sharedMemBytes", ctypes.c_uint), ("hStream", ctypes.c_void_p),
                        ("attrs", ctypes.POINTER(Attribute)), ("numAttrs", ctypes.c_uint)]

        self.AttributeType, self.ConfigType = Attribute, Config
        assert ctypes.sizeof(Attribute) == 72 and ctypes.sizeof(Config) == 56
        self.cuda = ctypes.CDLL("libcuda.so.1")
        self.modules, self.functions = {}, {}
        self.attribute = Attribute()
        self.attribute.id = 6  # CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
        self.attribute.value.flag = 1

    def check(self, result, what):
        if result != 0:
            raise RuntimeError(f"{what} failed with CUresult {result}")

    def function(self, kernel):
        key = (kernel.cubin_path, kernel.name)
        if key not in self.functions:
            if kernel.cubin_path not in self.modules:
                data = open(kernel.cubin_path, "rb").read()
                module = ctypes.c_void_p()
                self.check(self.cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(data)), "cuModuleLoadData")
                self.modules[kernel.cubin_path] = module
            handle = ctypes.c_void_p()
            self.check(self.cuda.cuModuleGetFunction(ctypes.byref(handle), self.modules[kernel.cubin_path],
                                                     kernel.name.encode()), "cuModuleGetFunction")
            self.functions[key] = handle
        return self.functions[key]

    def launch(self, kernel, grid, block, args):
        values = [ctypes.c_uint64(int(a)) if a.dtype == np.uint64 else ctypes.c_int(int(a)) for a in args]
        params = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        config = self.ConfigType(grid[0], grid[1], grid[2], block[0], block[1], block[2], 0,
                                 ctypes.c_void_p(torch.cuda.current_stream().cuda_stream),
                                 ctypes.pointer(self.attribute), 1)
        self.check(self.cuda.cuLaunchKernelEx(ctypes.byref(config), self.function(kernel), params, None),
                   "cuLaunchKernelEx")


# ----------------------------------------------------------------------------------------------
# Correctness
# ----------------------------------------------------------------------------------------------

def reference(weight, x, rows, K, batch, bias, activation):
    """float64 reference on the upcast inputs, computed on the GPU in row chunks."""
    xd = x[:batch, :K].double()
    total_rows = weight.shape[0]
    out = torch.empty(batch, total_rows, dtype=torch.float64, device="cuda")
    step = max(1, (1 << 27) // K)
    for start in range(0, total_rows, step):
        out[:, start:start + step] = xd @ weight[start:start + step, :K].double().T
    if activation is None:
        return out + (bias.double() if bias is not None else 0.0)
    gate, up = out[:, :rows], out[:, rows:2 * rows]
    if activation == "silu":
        act = gate / (1.0 + torch.exp(-gate))
    else:
        act = 0.5 * gate * (1.0 + torch.tanh(0.7978845608028654 * (gate + 0.044715 * gate ** 3)))
    return act * up


def check_case(kernel, rows, K, batch, *, bias=False, ldx_pad=0, ldy_pad=0, threads=None, splits=None, grid=None,
               repeat=1):
    """One shape, fresh random inputs; `repeat` > 1 relaunches with new inputs into the same
    workspace (split-K counters must have been reset by the previous launch)."""
    name = f"{kernel.name} N={rows} K={K} B={batch}" + (" bias" if bias else "") + \
        (f" ldx=K+{ldx_pad}" if ldx_pad else "") + (f" ldy=N+{ldy_pad}" if ldy_pad else "") + \
        (f" threads={threads}" if threads else "") + (f" splits={splits}" if splits else "") + \
        (f" grid={grid}" if grid else "") + (f" x{repeat}" if repeat > 1 else "")
    try:
        out_dtype = torch.float32 if kernel.name.endswith("_f32") else torch.bfloat16
        int_view = torch.int16 if out_dtype == torch.bfloat16 else torch.int32
        activation = None
        if kernel.gateup:
            activation = "silu" if "silu" in kernel.name else "gelu"
        weight_rows = 2 * rows if kernel.gateup else rows
        ldx, ldy = K + ldx_pad, rows + ldy_pad
        workspace = Workspace(kernel, rows, splits) if splits and splits > 1 else None
        worst, details = 0.0, []
        ok = True
        for _ in range(repeat):
            weight = (torch.randn(weight_rows, K, device="cuda") * (1.0 / math.sqrt(K))).to(torch.bfloat16)
            x = torch.randn(batch, ldx, device="cuda").to(torch.bfloat16)
            bias_tensor = torch.randn(rows, device="cuda") if bias else None
            # One extra row past `batch`: nothing may be written there, nor in columns N..ldy.
            y = torch.full((batch + 1, ldy), float("nan"), dtype=out_dtype, device="cuda")
            poison = y.clone()
            used = launch(kernel, weight, x, y, rows, K, batch, ldx, ldy, bias=bias_tensor, threads=threads,
                          splits=splits, grid=grid, workspace=workspace)
            torch.cuda.synchronize()
            ref = reference(weight, x, rows, K, batch, bias_tensor, activation)
            got = y[:batch, :rows].double()
            written = not torch.isnan(got).any().item()
            untouched = torch.equal(y[:batch, rows:].view(int_view), poison[:batch, rows:].view(int_view)) \
                and torch.isnan(y[batch]).all().item()
            reset = used is None or used.counters is None or not used.counters.any().item()
            error = ((got - ref).norm() / ref.norm().clamp_min(1e-30)).item()
            tolerance = 1e-3 if out_dtype == torch.float32 else 1e-2
            ok = ok and written and untouched and reset and math.isfinite(error) and error < tolerance
            worst = max(worst, error) if math.isfinite(error) else float("nan")
            details += ([] if written else ["UNWRITTEN"]) + ([] if untouched else ["WROTE-OUTSIDE"]) + \
                ([] if reset else ["COUNTERS-NOT-RESET"])
            del weight, x, y, poison, ref, got
        record(name, ok, f"rel {worst:.2e} (tol {tolerance:.0e}) " + " ".join(sorted(set(details))))
    except Exception as error:  # noqa: BLE001
        record(name, False, f"exception {type(error).__name__}: {str(error)[:300]}")
        LOG.write(traceback.format_exc())


def check_rejected(kernel, K):
    weight = torch.randn(16, K, device="cuda").to(torch.bfloat16)
    x = torch.randn(1, K, device="cuda").to(torch.bfloat16)
    y = torch.empty(1, 16, dtype=torch.bfloat16, device="cuda")
    try:
        launch(kernel, weight, x, y, 8 if kernel.gateup else 16, K, 1, K, 16)
        record(f"{kernel.name} K={K} rejected", False, "launched with K % 8 != 0")
    except ValueError:
        record(f"{kernel.name} K={K} rejected", True, "K % 8 != 0 refused by the launcher")


def correctness(kernels, quick):
    """Every shipped entry point; launch parameters from default_launch unless a case names them."""
    Ns = [1, 7, 257, 2560, 32768, 256000]
    Ks = [64, 576, 2048, 16384]
    for kernel in kernels.values():
        for N in Ns:
            for K in Ks:
                size = N * K * (2 if kernel.gateup else 1)
                if kernel.gateup and size > (1 << 30):
                    continue
                if kernel.name == "gemv_bf16_f32" and N * K > (1 << 26) and not (N == 256000 and K == 2048):
                    continue  # the fp32-output kernel shares all code with gemv_bf16; its large case is the lm head
                batches = [1, 2, 4, 8] if size <= (1 << 26) else [1, 8]
                if quick:
                    batches = [1, 8] if size <= (1 << 26) else [8]
                for B in batches:
                    check_case(kernel, N, K, B)
        # K tails (multiples of 8 not of the step), odd batches, bias, strides, grid-stride loop.
        for N, K, B in [(257, 8, 3), (33, 24, 5), (1000, 1000, 7), (2560, 2056, 8), (7, 4104, 2)]:
            check_case(kernel, N, K, B)
        if not kernel.gateup:
            check_case(kernel, 2560, 2048, 4, bias=True)
            check_case(kernel, 257, 576, 1, bias=True)
            check_case(kernel, 2048, 16384, 3, bias=True, splits=4)
        check_case(kernel, 2560, 2048, 8, ldx_pad=8, ldy_pad=3)
        check_case(kernel, 257, 1000, 3, ldx_pad=24, ldy_pad=1)
        check_case(kernel, 2560, 2048, 8, grid=7, splits=1)
        check_case(kernel, 32768, 576, 2, grid=132, splits=1)
        for threads in (32, 64, 128, 256):
            check_case(kernel, 2560, 2048, 8, threads=threads, splits=1)
            check_case(kernel, 1000, 1000, 3, threads=threads, splits=1)
        # Split-K: more slices than steps, uneven slices, the tail in the last slice, grid-stride
        # with slices, and relaunches that reuse the counters.
        for N, K, B, threads, splits, grid, repeat in [
                (2048, 2048, 8, 128, 2, None, 3), (2560, 2048, 1, 64, 4, None, 2), (2048, 16384, 8, 256, 4, None, 3),
                (2048, 16384, 1, 256, 16, None, 1), (257, 1000, 5, 64, 3, None, 2), (7, 64, 2, 32, 4, None, 2),
                (33, 4104, 8, 128, 5, None, 2), (2560, 2048, 4, 128, 2, 9, 2), (1, 576, 1, 32, 8, None, 1)]:
            check_case(kernel, N, K, B, threads=threads, splits=splits, grid=grid, repeat=repeat)
        for K in (63, 1001):
            check_rejected(kernel, K)


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

def median_time_ms(launch_once, reps=50, warmup=5):
    """Median over reps of one launch bracketed by events, each after a GPU sleep that keeps the GPU
    busy while Python enqueues (so the events measure the kernel, not the host)."""
    for i in range(warmup):
        launch_once(i)
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        torch.cuda._sleep(200_000)
        starts[i].record()
        launch_once(i)
        ends[i].record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def copy_bandwidth():
    n = 1 << 29  # 512 Mi bf16 = 1 GiB each way
    src = torch.randn(n // 2, device="cuda").to(torch.bfloat16).repeat(2)
    dst = torch.empty_like(src)
    ms = median_time_ms(lambda i: dst.copy_(src), reps=20, warmup=3)
    del src, dst
    return 2 * n * 2 / (ms * 1e-3), ms


LAYERS = 18
HIDDEN, QKV, MLP, VOCAB = 2048, 2560, 16384, 256000
SHAPES = {  # name: (weight rows, K, output columns = rows argument of the kernel, kind)
    "qkv": (QKV, HIDDEN, QKV, "plain"),
    "o": (HIDDEN, HIDDEN, HIDDEN, "plain"),
    "gate_up": (2 * MLP, HIDDEN, MLP, "gateup"),
    "down": (HIDDEN, MLP, HIDDEN, "plain"),
    "lm_head": (VOCAB, HIDDEN, VOCAB, "plain"),
}
STEP_SHAPES = ["qkv", "o", "gate_up", "down"]


def shape_bytes(name, batch):
    rows, K, out_cols, _ = SHAPES[name]
    return rows * K * 2 + batch * K * 2 + batch * out_cols * 2


def make_weights():
    """18 layer copies of each layer matrix (so rotating through them defeats L2), one lm head."""
    weights = {name: [] for name in SHAPES}
    for name, (rows, K, _, _) in SHAPES.items():
        for _ in range(1 if name == "lm_head" else LAYERS):
            w = torch.empty(rows, K, dtype=torch.bfloat16, device="cuda")
            for start in range(0, rows, 8192):
                count = min(8192, rows - start)
                w[start:start + count] = (torch.randn(count, K, device="cuda") / math.sqrt(K)).to(torch.bfloat16)
            weights[name].append(w)
    return weights


class Choice:
    """A kernel and its launch parameters for one shape."""

    def __init__(self, kernel, threads, splits, name):
        rows, K, out_cols, _ = SHAPES[name]
        self.kernel, self.threads, self.splits = kernel, threads, splits
        self.workspace = Workspace(kernel, out_cols, splits) if splits > 1 else None
        self.label = f"{kernel.label} threads={threads} splits={splits}"

    def run(self, weight, x, y, name, batch, driver=None):
        rows, K, out_cols, _ = SHAPES[name]
        launch(self.kernel, weight, x, y, out_cols, K, batch, K, out_cols, threads=self.threads, splits=self.splits,
               workspace=self.workspace, driver=driver)


def candidates(kernels_by_config, name):
    """Launch parameters to try for one shape: every configuration x block size x split count."""
    rows, K, out_cols, kind = SHAPES[name]
    for kernel in kernels_by_config:
        kernel = kernel[1] if kind == "gateup" else kernel[0]
        groups, steps = kernel.tile_groups(out_cols), kernel.steps(K)
        for splits in (1, 2, 4, 8, 16):
            if splits > 1 and (groups >= 4 * SMS or splits > steps):
                continue
            for threads in (64, 128, 256):
                if threads > 64 and threads // 32 > -(-steps // splits):
                    continue  # warps with no k step
                yield kernel, threads, splits


def bench(kernels, tune_kernels, do_tune):
    bandwidth, copy_ms = copy_bandwidth()
    results["bench"]["copy_bandwidth_Bps"] = bandwidth
    say(f"device-to-device copy: {bandwidth / 1e12:.3f} TB/s (1 GiB each way, {copy_ms:.3f} ms, read + write counted)")
    weights = make_weights()
    torch.cuda.synchronize()
    shipped = (kernels["gemv_bf16"], kernels["gemv_gateup_gelu_bf16"])
    configs = [shipped] + list(tune_kernels.values())
    table, tuned = [], {}
    for batch in (1, 8):
        xs = {K: torch.randn(batch, K, device="cuda").to(torch.bfloat16) for K in (HIDDEN, MLP)}
        for name, (rows, K, out_cols, kind) in SHAPES.items():
            x = xs[K]
            y = torch.empty(batch, out_cols, dtype=torch.bfloat16, device="cuda")
            count = len(weights[name])
            nbytes = shape_bytes(name, batch)
            peer_ms = median_time_ms(lambda i: F.linear(x, weights[name][i % count]))
            kernel = shipped[1] if kind == "gateup" else shipped[0]
            default = Choice(kernel, *default_launch(kernel, out_cols, K), name)
            default_ms = median_time_ms(lambda i: default.run(weights[name][i % count], x, y, name, batch))
            best_ms, best = default_ms, default
            if do_tune:
                for kernel_c, threads, splits in candidates(configs, name):
                    choice = Choice(kernel_c, threads, splits, name)
                    ms = median_time_ms(lambda i: choice.run(weights[name][i % count], x, y, name, batch))
                    results["tune"].append({"shape": name, "batch": batch, "config": choice.label, "ms": ms,
                                            "GBps": nbytes / ms / 1e6})
                    if ms < best_ms:
                        best_ms, best = ms, choice
            tuned[(name, batch)] = best
            row = {"shape": name, "batch": batch, "bytes": nbytes, "default": default.label, "default_ms": default_ms,
                   "tuned": best.label, "tuned_ms": best_ms, "cublas_ms": peer_ms,
                   "floor_ms": nbytes / bandwidth * 1e3}
            table.append(row)
            say(f"  {name:8s} B={batch}: default {default_ms * 1e3:7.1f} us {nbytes / default_ms / 1e6:5.0f} GB/s "
                f"({default.label}) | tuned {best_ms * 1e3:7.1f} us {nbytes / best_ms / 1e6:5.0f} GB/s ({best.label}) | "
                f"cuBLAS {peer_ms * 1e3:7.1f} us {nbytes / peer_ms / 1e6:5.0f} GB/s | floor {row['floor_ms'] * 1e3:6.1f} us")
    results["bench"]["shapes"] = table
    decode_steps(kernels, weights, bandwidth, tuned)
    return table


def decode_steps(kernels, weights, bandwidth, tuned):
    """One Gemma-2B decode step's matrix-vector products (18 x (qkv, o, gate_up, down) + lm head with
    fp32 logits), captured in a CUDA graph: Kiln with the default launch parameters, with the tuned
    ones, each also with PDL; cuBLAS on the same weights (with and without a separate GeGLU kernel)."""
    try:
        driver = DriverLauncher() if kernels["gemv_bf16"].cubin_path else None
    except Exception as error:  # noqa: BLE001
        say(f"  PDL launcher unavailable: {type(error).__name__}: {error}")
        driver = None
    steps = {}
    for batch in (1, 8):
        x_h = torch.randn(batch, HIDDEN, device="cuda").to(torch.bfloat16)
        x_m = torch.randn(batch, MLP, device="cuda").to(torch.bfloat16)
        outs = {"qkv": torch.empty(batch, QKV, dtype=torch.bfloat16, device="cuda"),
                "o": torch.empty(batch, HIDDEN, dtype=torch.bfloat16, device="cuda"),
                "gate_up": torch.empty(batch, MLP, dtype=torch.bfloat16, device="cuda"),
                "down": torch.empty(batch, HIDDEN, dtype=torch.bfloat16, device="cuda")}
        logits = torch.empty(batch, VOCAB, dtype=torch.float32, device="cuda")
        inputs = {"qkv": x_h, "o": x_h, "gate_up": x_h, "down": x_m}
        total = sum(LAYERS * shape_bytes(n, batch) for n in STEP_SHAPES) + shape_bytes("lm_head", batch)
        default_choices = {}
        for name in STEP_SHAPES:
            kernel = kernels["gemv_gateup_gelu_bf16"] if name == "gate_up" else kernels["gemv_bf16"]
            default_choices[name] = Choice(kernel, *default_launch(kernel, SHAPES[name][2], SHAPES[name][1]), name)
        head = kernels["gemv_bf16_f32"]
        default_choices["lm_head"] = Choice(head, *default_launch(head, VOCAB, HIDDEN), "lm_head")
        tuned_choices = {name: tuned.get((name, batch), default_choices[name]) for name in STEP_SHAPES}
        best_head = tuned.get(("lm_head", batch))
        tuned_choices["lm_head"] = default_choices["lm_head"]
        if best_head is not None and best_head.kernel.chunks == head.chunks and best_head.kernel.tiles == head.tiles:
            tuned_choices["lm_head"] = Choice(head, best_head.threads, best_head.splits, "lm_head")

        def kiln_step(choices, use_driver):
            d = driver if use_driver else None
            for layer in range(LAYERS):
                for name in STEP_SHAPES:
                    choices[name].run(weights[name][layer], inputs[name], outs[name], name, batch, d)
            choices["lm_head"].run(weights["lm_head"][0], x_h, logits, "lm_head", batch, d)

        def cublas_step(with_activation):
            for layer in range(LAYERS):
                F.linear(x_h, weights["qkv"][layer])
                F.linear(x_h, weights["o"][layer])
                gate_up = F.linear(x_h, weights["gate_up"][layer])
                if with_activation:
                    F.gelu(gate_up[:, :MLP], approximate="tanh") * gate_up[:, MLP:]
                F.linear(x_m, weights["down"][layer])
            F.linear(x_h, weights["lm_head"][0])

        def graph_of(body):
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                with cupy.cuda.ExternalStream(stream.cuda_stream):
                    for _ in range(2):
                        body()
            torch.cuda.current_stream().wait_stream(stream)
            torch.cuda.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                with cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
                    body()
            torch.cuda.synchronize()
            return graph

        entry = {"bytes": total, "floor_ms": total / bandwidth * 1e3,
                 "default": {n: c.label for n, c in default_choices.items()},
                 "tuned": {n: c.label for n, c in tuned_choices.items()}}
        variants = [("kiln default", lambda: kiln_step(default_choices, False)),
                    ("kiln tuned", lambda: kiln_step(tuned_choices, False))]
        if driver is not None:
            variants += [("kiln default+PDL", lambda: kiln_step(default_choices, True)),
                         ("kiln tuned+PDL", lambda: kiln_step(tuned_choices, True))]
        variants += [("cuBLAS", lambda: cublas_step(False)), ("cuBLAS+GeGLU", lambda: cublas_step(True))]
        snapshots = {}
        for label, body in variants:
            try:
                graph = graph_of(body)
                graph.replay()
                torch.cuda.synchronize()
                if label.startswith("kiln"):
                    snapshots[label] = [t.clone() for t in list(outs.values()) + [logits]]
                entry[label] = median_time_ms(lambda i: graph.replay(), reps=20, warmup=3)
                del graph
            except Exception as error:  # noqa: BLE001
                entry[label] = float("nan")
                say(f"  graph {label} B={batch} failed: {type(error).__name__}: {str(error)[:300]}")
                LOG.write(traceback.format_exc())
        for base in ("kiln default", "kiln tuned"):
            if base in snapshots and base + "+PDL" in snapshots:
                same = all(torch.equal(a, b) for a, b in zip(snapshots[base], snapshots[base + "+PDL"]))
                record(f"graph B={batch}: {base}+PDL outputs equal {base}'s bit for bit", same)
        if "kiln default" in snapshots:
            ref = snapshots["kiln default"][-1].double()
            check = ((x_h.double() @ weights["lm_head"][0].double().T) - ref).norm() / ref.norm()
            record(f"graph B={batch}: lm head logits of the graph vs float64", check.item() < 1e-3, f"rel {check.item():.2e}")
        steps[batch] = entry
        say(f"  decode step B={batch} (floor {entry['floor_ms']:.3f} ms = {total / 1e9:.3f} GB at {bandwidth / 1e12:.2f} TB/s): "
            + " | ".join(f"{label} {entry[label]:.3f} ms" for label, _ in variants))
    results["bench"]["decode_step"] = {str(k): v for k, v in steps.items()}


# ----------------------------------------------------------------------------------------------

def main():
    global SMS
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer correctness cases")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--no-tune", action="store_true", help="time only the shipped configuration")
    args = parser.parse_args()
    started = time.time()

    properties = torch.cuda.get_device_properties(0)
    major, minor = torch.cuda.get_device_capability(0)
    arch = "sm_90a" if (major, minor) == (9, 0) else f"sm_{major}{minor}"
    SMS = properties.multi_processor_count
    say(f"device: {properties.name}, {SMS} SMs, {properties.total_memory / 2**30:.1f} GiB, cc {major}.{minor}; "
        f"torch {torch.__version__}, cupy {cupy.__version__}")
    results["device"] = properties.name

    # NVRTC with the Swift side's options for the architectures CI compiles.
    for target in ("sm_90a", "sm_80"):
        try:
            cubin, log = nvrtc_swift(target)
            record(f"nvrtc compile {target} (Swift options)", True, f"{len(cubin)} bytes")
        except Exception as error:  # noqa: BLE001
            record(f"nvrtc compile {target} (Swift options)", False, str(error)[:500])
    try:
        module_b = cupy.RawModule(code=SOURCE, backend="nvrtc", options=("--std=c++17", f"-arch={arch}", f"-I{KERNELS}"))
        module_b.get_function("gemv_bf16")
        record(f"cupy.RawModule(code, -arch={arch}) compile", True)
    except Exception as error:  # noqa: BLE001
        record(f"cupy.RawModule(code, -arch={arch}) compile", False, str(error)[:300])

    module, path, how = load_module(arch)
    say(f"module: {how}")
    config = shipped_config()
    kernels = {name: Kernel(module, path, name, config, name in GATEUP) for name in PLAIN + GATEUP}
    for kernel in kernels.values():
        f = kernel.function
        local = getattr(f, "local_size_bytes", 0)
        say(f"  {kernel.name}: {getattr(f, 'num_regs', '?')} registers, {getattr(f, 'shared_size_bytes', '?')} B shared, "
            f"{local} B local; chunks={kernel.chunks} tiles={kernel.tiles}")
        record(f"{kernel.name} uses no local memory (no spills)", not local, f"{local} B local")

    tune_kernels = {}
    if not args.no_tune and not args.no_bench:
        tune_module, tune_path, _ = load_module(arch, ("KILN_GEMV_TUNING",), tag="tune")
        for cfg in tuning_configs():
            suffix = "_c%d_t%d" % cfg
            tune_kernels[cfg] = (Kernel(tune_module, tune_path, "gemv_bf16" + suffix, cfg, False),
                                 Kernel(tune_module, tune_path, "gemv_gateup_gelu_bf16" + suffix, cfg, True))

    torch_stream = cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)
    torch_stream.use()

    say("correctness ...")
    correctness(kernels, args.quick)
    for cfg, pair in tune_kernels.items():
        for kernel in pair:
            for N, K, B, splits in [(257, 1000, 3, 1), (2560, 2048, 8, 2), (7, 576, 1, 1), (2048, 16384, 8, 4)]:
                check_case(kernel, N, K, B, splits=splits)
    say(f"correctness: {results['passed']} passed, {results['failed']} failed ({time.time() - started:.0f} s)")

    if not args.no_bench:
        say("timing (median of 50 launches, each alone between events; GB/s = (weights + x + y) bytes / time) ...")
        try:
            bench(kernels, tune_kernels, not args.no_tune)
        except Exception as error:  # noqa: BLE001
            record("bench", False, f"{type(error).__name__}: {str(error)[:300]}")
            LOG.write(traceback.format_exc())

    with open(os.path.join(OUT, "check_gemv_results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    if results["tune"]:
        say("tuning (best 3 per shape):")
        by_shape = {}
        for t in results["tune"]:
            by_shape.setdefault((t["shape"], t["batch"]), []).append(t)
        for key, items in by_shape.items():
            items.sort(key=lambda t: t["ms"])
            say(f"  {key[0]:8s} B={key[1]}: " + " | ".join(f"{t['config']} {t['ms'] * 1e3:.1f}us" for t in items[:3]))
    say(f"elapsed {time.time() - started:.0f} s")
    for failure in results["failures"][:20]:
        say("failed:", failure)
    say(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(0 if results["failed"] == 0 else 1)


if __name__ == "__main__":
    main()
