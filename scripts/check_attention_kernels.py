#!/usr/bin/env python3
"""Checks and times Kiln's attention kernels (Sources/KilnCUDA/Kernels/attention_prefill.cu,
attention_decode.cu, kv_cache_write.cu) on the GPU, before they are wired into Swift.

    PYTHONUNBUFFERED=1 python3 scripts/check_attention_kernels.py            # GPU: check + time
    python3 scripts/check_attention_kernels.py --compile-only              # no GPU: NVRTC only

Each .cu file is compiled by NVRTC (opened with ctypes, as the Swift side opens it) with the
options of KernelLibrary.options(architecture:) and kiln_common.cuh given as a named header,
to a CUBIN for the device's architecture (sm_90a on Hopper), which CuPy loads (RawModule(path=))
and launches. Inputs come from PyTorch (random, fresh each run: the seed is printed and
--seed repeats a run); outputs are poisoned with NaN before each launch; unused cache slots and
block-table entries hold NaN / a NaN block, so a read outside a sequence's context shows up.

The reference is the CPU twin's maths (CPUBackend.attention, .writeCache) in float64 on the
GPU, from the same (rounded) inputs the kernel reads. Per case: ||gpu - ref|| / ||ref|| over
every output row, which must be < 1e-5 for f32 and < 1e-2 for bf16, with no NaN and the
output's padding columns untouched. kv_cache_write must be bit-exact and touch nothing else.

Then timings (CUDA events, 5 warm-up launches, median of 20) for Gemma-2B's attention shape
(8 query heads, 1 kv head, head 256, bf16): prefill of one 2048-token prompt, decode at
context 1024 for batch 1 and 64, each next to its two floors (bytes / 3.0 TB/s,
FLOPs / 790 TFLOP/s) and to PyTorch's scaled_dot_product_attention on the same shapes
(contiguous, not paged) measured in the same run. The last line is `N passed, M failed`.
"""

import argparse
import ctypes
import glob
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "Sources" / "KilnCUDA" / "Kernels"
FILES = ["kv_cache_write.cu", "attention_prefill.cu", "attention_decode.cu", "attention_decode_reduce.cu"]
HEAD_SIZES = [64, 128, 256]
GROUP_TILES = [1, 2, 4, 8]

# ----------------------------------------------------------------------------------------------
# NVRTC through ctypes
# ----------------------------------------------------------------------------------------------


def find_nvrtc():
    candidates = []
    for base in sys.path:
        candidates += glob.glob(os.path.join(base, "nvidia", "*", "lib", "libnvrtc.so*"))
    for home in [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]:
        if home:
            candidates += glob.glob(os.path.join(home, "lib64", "libnvrtc.so*"))
    candidates = [c for c in candidates if "builtins" not in c and ".alt." not in c]
    for candidate in sorted(candidates, reverse=True):
        try:
            return ctypes.CDLL(candidate), candidate
        except OSError:
            continue
    raise SystemExit("libnvrtc not found (pip install nvidia-cuda-nvrtc, or set CUDA_HOME)")


class NVRTC:
    def __init__(self):
        self.lib, self.path = find_nvrtc()
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
        self.version = f"{major.value}.{minor.value}"
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p

    def compile(self, file_name, architecture, verbose=False):
        """CUBIN bytes and NVRTC's log; the options are KernelLibrary.options(architecture:)."""
        source = (KERNELS / file_name).read_text()
        header_names = ["kiln_common.cuh", "attention_decode.cuh"]  # KernelLibrary.headers
        program = ctypes.c_void_p()
        headers = (ctypes.c_char_p * len(header_names))(*[(KERNELS / n).read_text().encode() for n in header_names])
        names = (ctypes.c_char_p * len(header_names))(*[n.encode() for n in header_names])
        result = self.lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), file_name.encode(), len(header_names),
                                             headers, names)
        if result != 0:
            raise RuntimeError(f"nvrtcCreateProgram({file_name}): {result}")
        options = [f"--gpu-architecture={architecture}", "-std=c++17", "-default-device"]
        if verbose:
            options.append("--ptxas-options=-v")
        array = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        result = self.lib.nvrtcCompileProgram(program, len(options), array)
        size = ctypes.c_size_t()
        self.lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        self.lib.nvrtcGetProgramLog(program, log)
        log = log.value.decode(errors="replace")
        if result != 0:
            self.lib.nvrtcDestroyProgram(ctypes.byref(program))
            raise RuntimeError(f"NVRTC {self.version} could not compile {file_name} for {architecture} "
                               f"({self.lib.nvrtcGetErrorString(result).decode()}):\n{log}")
        self.lib.nvrtcGetCUBINSize(program, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        self.lib.nvrtcGetCUBIN(program, cubin)
        self.lib.nvrtcDestroyProgram(ctypes.byref(program))
        return cubin.raw, log


def resource_summary(log):
    """One line per kernel: registers, spills, shared memory (from ptxas -v)."""
    lines, name = [], None
    for line in log.splitlines():
        if "Compiling entry function" in line:
            name = line.split("'")[1]
        elif name and "spill stores" in line:
            spill = line.split(",")[1].strip().split()[0] + "/" + line.split(",")[2].strip().split()[0]
        elif name and "Used" in line and "registers" in line:
            registers = line.split("Used")[1].split("registers")[0].strip()
            smem = line.split("bytes smem")[0].split(",")[-1].strip() if "smem" in line else "0"
            lines.append(f"  {name:36s} {registers:>4s} registers, spill bytes (store/load) {spill}, static smem {smem}")
            name = None
    return "\n".join(lines)


def compile_only():
    nvrtc = NVRTC()
    print(f"NVRTC {nvrtc.version} ({nvrtc.path})")
    failures = 0
    for file_name in FILES:
        for architecture in ["sm_90a", "sm_80"]:
            started = time.time()
            try:
                cubin, log = nvrtc.compile(file_name, architecture, verbose=True)
            except RuntimeError as error:
                print(error)
                failures += 1
                continue
            print(f"{file_name} {architecture}: {len(cubin)} bytes of CUBIN in {time.time() - started:.1f} s")
            if architecture == "sm_90a":
                print(resource_summary(log))
    print(f"{2 * len(FILES) - failures} passed, {failures} failed")
    return failures == 0


# ----------------------------------------------------------------------------------------------
# GPU side
# ----------------------------------------------------------------------------------------------


class Kernels:
    def __init__(self, cp, architecture):
        self.cp = cp
        nvrtc = NVRTC()
        self.nvrtc_version = nvrtc.version
        self.directory = tempfile.mkdtemp(prefix="kiln-attention-")
        self.modules = {}
        self.logs = {}
        for file_name in FILES:
            started = time.time()
            cubin, log = nvrtc.compile(file_name, architecture, verbose=True)
            path = os.path.join(self.directory, file_name + ".cubin")
            with open(path, "wb") as handle:
                handle.write(cubin)
            self.modules[file_name] = cp.RawModule(path=path)
            self.logs[file_name] = log
            print(f"compiled {file_name} for {architecture} with NVRTC {nvrtc.version} in {time.time() - started:.1f} s")
        self.functions = {}

    def function(self, file_name, name, shared_bytes=0):
        key = (file_name, name)
        if key not in self.functions:
            self.functions[key] = self.modules[file_name].get_function(name)
        function = self.functions[key]
        if shared_bytes > 48 * 1024 and function.max_dynamic_shared_size_bytes < shared_bytes:
            function.max_dynamic_shared_size_bytes = shared_bytes
        return function


# attention_prefill_* launch (README-attention.md): 128 threads, one tile of packed (token,
# head-of-group) rows per block in x (64 rows bf16, 32 rows f32), kv heads in y, sequences in z.
def prefill_shared_bytes(dtype_name, head_dim):
    if dtype_name == "bf16":
        return 3 * 64 * (head_dim + 8) * 2
    return 3 * 32 * (head_dim + 4) * 4 + 32 * 4


def prefill_rows_per_tile(dtype_name):
    return 64 if dtype_name == "bf16" else 32


def group_tile_for(group):
    tile = 1
    while tile < group and tile < 8:
        tile *= 2
    return tile


class Harness:
    def __init__(self, torch, cp, kernels, generator, device="cuda"):
        self.torch, self.cp, self.kernels, self.generator = torch, cp, kernels, generator
        self.device = torch.device(device)
        self.cpu_generator = torch.Generator().manual_seed(int(generator.initial_seed()))

    # Pointer views for CuPy launches (bf16 travels as int16 bits).
    def arg(self, tensor):
        torch = self.torch
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.view(torch.int16)
        return self.cp.from_dlpack(tensor)

    def randn(self, *shape, std=1.0, dtype=None):
        torch = self.torch
        return (torch.randn(*shape, generator=self.generator, device=self.device, dtype=torch.float32) * std).to(dtype)

    def randint(self, low, high, shape):
        return self.torch.randint(low, high, shape, generator=self.generator, device=self.device)

    def sync(self):
        self.cp.cuda.runtime.deviceSynchronize()


class Batch:
    """Sequences (prefix already cached, new tokens) over a paged cache with scrambled blocks."""

    def __init__(self, h, specs, heads, kv_heads, head_dim, block_size, dtype, query_std, decode_rows=False,
                 permute_rows=False):
        torch = h.torch
        self.h, self.specs, self.decode_rows = h, specs, decode_rows
        self.heads, self.kv_heads, self.head_dim, self.block_size, self.dtype = heads, kv_heads, head_dim, block_size, dtype
        width = kv_heads * head_dim
        self.width = width
        contexts = [prefix + new for prefix, new in specs]
        block_counts = [math.ceil(c / block_size) for c in contexts]
        extra = 5
        total_blocks = sum(block_counts) + extra + 1
        self.poison_block = total_blocks - 1  # never written: NaN
        order = torch.randperm(total_blocks - 1, generator=h.cpu_generator).tolist()
        self.table_stride = max(block_counts) + 3
        tables = torch.full((len(specs), self.table_stride), self.poison_block, dtype=torch.int32)
        cursor = 0
        for s, count in enumerate(block_counts):
            tables[s, :count] = torch.tensor(order[cursor:cursor + count], dtype=torch.int32)
            cursor += count
        self.tables_cpu = tables
        self.tables = tables.to(h.device)
        slots_total = total_blocks * block_size
        nan = float("nan")
        self.key_cache = torch.full((slots_total, kv_heads, head_dim), nan, device=h.device, dtype=dtype)
        self.value_cache = torch.full((slots_total, kv_heads, head_dim), nan, device=h.device, dtype=dtype)

        def slot(s, position):
            return int(tables[s, position // block_size]) * block_size + position % block_size

        # Prefix K/V straight into the cache.
        for s, (prefix, new) in enumerate(specs):
            if prefix:
                slots = torch.tensor([slot(s, p) for p in range(prefix)], device=h.device, dtype=torch.long)
                self.key_cache[slots] = h.randn(prefix, kv_heads, head_dim, dtype=dtype)
                self.value_cache[slots] = h.randn(prefix, kv_heads, head_dim, dtype=dtype)

        # New tokens: one fused QKV row each, [tokens, (heads + 2 kvHeads) * headDim + 8].
        self.tokens = sum(new for _, new in specs)
        self.qkv_stride = (heads + 2 * kv_heads) * head_dim + 8
        qkv = h.randn(self.tokens, self.qkv_stride, dtype=torch.float32)
        qkv[:, :heads * head_dim] *= query_std
        self.qkv = qkv.to(dtype)
        starts, counts, positions, new_slots = [], [], [], []
        row = 0
        for s, (prefix, new) in enumerate(specs):
            starts.append(row)
            counts.append(new)
            for p in range(prefix, prefix + new):
                positions.append(p)
                new_slots.append(slot(s, p))
            row += new
        self.starts_cpu, self.counts_cpu, self.contexts_cpu = starts, counts, contexts
        self.positions_cpu = positions
        i32 = lambda values: torch.tensor(values, dtype=torch.int32, device=h.device)
        self.starts, self.counts, self.contexts = i32(starts), i32(counts), i32(contexts)
        self.positions, self.slots = i32(positions), i32(new_slots)
        # Decode rows: row r is sequence row_sequence[r]'s one new token.
        self.row_sequence_cpu = list(range(len(specs)))
        if decode_rows:
            assert all(new == 1 for _, new in specs)
            if permute_rows:
                self.row_sequence_cpu = torch.randperm(len(specs), generator=h.cpu_generator).tolist()
            # Query row r holds the token of sequence row_sequence[r].
            order = torch.tensor(self.row_sequence_cpu, device=h.device, dtype=torch.long)
            self.qkv = self.qkv[order].contiguous()
            self.positions_cpu = [positions[s] for s in self.row_sequence_cpu]
            self.positions = i32(self.positions_cpu)
            self.slots = i32([new_slots[s] for s in self.row_sequence_cpu])
        self.row_sequence = i32(self.row_sequence_cpu)

    def write_new_tokens(self):
        """kv_cache_write of the new tokens' K/V (slices of the fused QKV rows)."""
        h, torch = self.h, self.h.torch
        suffix = "bf16" if self.dtype == torch.bfloat16 else "f32"
        keys = self.qkv[:, self.heads * self.head_dim:]
        values = self.qkv[:, (self.heads + self.kv_heads) * self.head_dim:]
        function = h.kernels.function("kv_cache_write.cu", f"kv_cache_write_{suffix}")
        # The views start inside the fused buffer: pass them as flat pointers with the row stride.
        function((self.tokens, 2, 1), (128, 1, 1),
                 (self._offset(keys), self._offset(values),
                  h.arg(self.key_cache), h.arg(self.value_cache), h.arg(self.slots),
                  _i32(self.width), _i32(self.qkv_stride), _i32(self.qkv_stride)))

    def _offset(self, view):
        """A CuPy array starting at `view`'s first element (views of the fused buffer)."""
        base = self.qkv
        offset = view.data_ptr() - base.data_ptr()
        flat = base.reshape(-1)
        element = base.element_size()
        return self.h.arg(flat[offset // element:])

    def query_view(self):
        return self.qkv  # query heads at column 0, row stride qkv_stride

    def reference(self, heads_scale, window, softcap):
        """float64 attention per the CPU twin, [tokens, heads, headDim]."""
        torch = self.h.torch
        heads, kv_heads, head_dim, group = self.heads, self.kv_heads, self.head_dim, self.heads // self.kv_heads
        q_all = self.qkv[:, :heads * head_dim].double().reshape(self.tokens, heads, head_dim)
        out = torch.zeros(self.tokens, heads, head_dim, dtype=torch.float64, device=self.h.device)
        for s, (prefix, new) in enumerate(self.specs):
            context = prefix + new
            # Query rows of sequence s: its one row in a decode batch, else its token range.
            if self.decode_rows:
                rows = [r for r, owner in enumerate(self.row_sequence_cpu) if owner == s]
            else:
                rows = list(range(self.starts_cpu[s], self.starts_cpu[s] + new))
            slots = torch.tensor([int(self.tables_cpu[s, p // self.block_size]) * self.block_size + p % self.block_size
                                  for p in range(context)], device=self.h.device, dtype=torch.long)
            keys = self.key_cache[slots].double().repeat_interleave(group, dim=1)      # [context, heads, D]
            values = self.value_cache[slots].double().repeat_interleave(group, dim=1)  # [context, heads, D]
            positions = torch.tensor([self.positions_cpu[r] for r in rows], device=self.h.device)
            rows_t = torch.tensor(rows, device=self.h.device, dtype=torch.long)
            chunk = max(1, int(48_000_000 // (heads * context)))
            for c0 in range(0, len(rows), chunk):
                r = rows_t[c0:c0 + chunk]
                p = positions[c0:c0 + chunk]
                q = q_all[r]  # [n, heads, D]
                scores = torch.einsum("nhd,jhd->hnj", q, keys) * heads_scale
                if softcap:
                    scores = softcap * torch.tanh(scores / softcap)
                j = torch.arange(context, device=self.h.device)
                visible = j[None, :] <= p[:, None]
                if window:
                    visible &= j[None, :] > (p[:, None] - window)
                scores = scores.masked_fill(~visible[None], float("-inf"))
                weights = torch.softmax(scores, dim=-1)
                out[r] = torch.einsum("hnj,jhd->nhd", weights, values)
        return out


def _i32(value):
    import numpy as np
    return np.int32(value)


def _f32(value):
    import numpy as np
    return np.float32(value)


def relative_error(torch, got, ref):
    got = got.double()
    if torch.isnan(got).any():
        return float("nan")
    return float(torch.linalg.vector_norm(got - ref) / torch.linalg.vector_norm(ref))


def prefill_launcher(h, batch, dtype_name, scale, window, softcap, out):
    """A no-argument function launching attention_prefill_* over the batch into `out`
    ([tokens, outStride]); the arguments are converted once, so a timed launch costs no Python
    conversions."""
    heads, head_dim, group = batch.heads, batch.head_dim, batch.heads // batch.kv_heads
    shared = prefill_shared_bytes(dtype_name, head_dim)
    function = h.kernels.function("attention_prefill.cu", f"attention_prefill_{dtype_name}_h{head_dim}", shared)
    grid = (math.ceil(max(batch.counts_cpu) * group / prefill_rows_per_tile(dtype_name)), batch.kv_heads, len(batch.specs))
    arguments = (h.arg(batch.query_view()), _i32(batch.qkv_stride), h.arg(batch.key_cache), h.arg(batch.value_cache),
                 h.arg(out), _i32(out.shape[1]), h.arg(batch.positions), h.arg(batch.starts), h.arg(batch.counts),
                 h.arg(batch.contexts), h.arg(batch.tables), _i32(batch.table_stride), _i32(batch.block_size),
                 _i32(heads), _i32(batch.kv_heads), _f32(scale), _i32(window or 0), _f32(softcap or 0.0))
    return lambda: function(grid, (128, 1, 1), arguments, shared_mem=shared)


def run_prefill(h, batch, dtype_name, scale, window, softcap):
    """attention_prefill_* over the batch; output [tokens, heads * headDim + 8], NaN-poisoned
    (the 8 padding columns must stay NaN)."""
    torch = h.torch
    out = torch.full((batch.tokens, batch.heads * batch.head_dim + 8), float("nan"), device=h.device, dtype=batch.dtype)
    prefill_launcher(h, batch, dtype_name, scale, window, softcap, out)()
    return out


def decode_partitions(batch, window, partition_size):
    most = 0
    for r, s in enumerate(batch.row_sequence_cpu):
        p = batch.positions_cpu[r]
        last = min(p, batch.contexts_cpu[s] - 1)
        first = max(0, p - window + 1) if window else 0
        most = max(most, (last - first + partition_size) // partition_size if last >= first else 0)
    return max(1, most)


def decode_buffers(h, batch, window, partition_size):
    """NaN-poisoned output [rows, heads * headDim + 8] and partial buffers
    ([rows, heads, partitions, headDim], [rows, heads, partitions] x 2) for a decode launch."""
    torch = h.torch
    rows, heads, head_dim = len(batch.row_sequence_cpu), batch.heads, batch.head_dim
    partitions = decode_partitions(batch, window, partition_size)
    nan = float("nan")
    return (torch.full((rows, heads * head_dim + 8), nan, device=h.device, dtype=batch.dtype),
            torch.full((rows, heads, partitions, head_dim), nan, device=h.device),
            torch.full((rows, heads, partitions), nan, device=h.device),
            torch.full((rows, heads, partitions), nan, device=h.device))


def decode_launcher(h, batch, dtype_name, scale, window, softcap, partition_size, group_tile, buffers):
    """A no-argument function launching attention_decode_* (and the reduce when some row needs
    more than one partition)."""
    out, partial_out, partial_max, partial_sum = buffers
    heads, head_dim, group = batch.heads, batch.head_dim, batch.heads // batch.kv_heads
    rows = len(batch.row_sequence_cpu)
    partitions = partial_max.shape[2]
    chunks = math.ceil(group / group_tile)
    split = h.kernels.function("attention_decode.cu", f"attention_decode_{dtype_name}_h{head_dim}_g{group_tile}")
    reduce = h.kernels.function("attention_decode_reduce.cu", f"attention_decode_reduce_{dtype_name}")
    split_arguments = (h.arg(batch.query_view()), _i32(batch.qkv_stride), h.arg(batch.key_cache),
                       h.arg(batch.value_cache), h.arg(out), _i32(out.shape[1]), h.arg(batch.positions),
                       h.arg(batch.row_sequence), h.arg(batch.contexts), h.arg(batch.tables), _i32(batch.table_stride),
                       _i32(batch.block_size), _i32(heads), _i32(batch.kv_heads), _f32(scale), _i32(window or 0),
                       _f32(softcap or 0.0), _i32(partition_size), h.arg(partial_out), h.arg(partial_max),
                       h.arg(partial_sum))
    reduce_arguments = (h.arg(partial_out), h.arg(partial_max), h.arg(partial_sum), h.arg(out), _i32(out.shape[1]),
                        h.arg(batch.positions), h.arg(batch.row_sequence), h.arg(batch.contexts), _i32(heads),
                        _i32(head_dim), _i32(window or 0), _i32(partition_size), _i32(partitions))

    def launch():
        split((partitions, batch.kv_heads * chunks, rows), (128, 1, 1), split_arguments)
        if partitions > 1:
            reduce((heads, rows, 1), (128, 1, 1), reduce_arguments)
    return launch


def run_decode(h, batch, dtype_name, scale, window, softcap, partition_size, group_tile):
    buffers = decode_buffers(h, batch, window, partition_size)
    decode_launcher(h, batch, dtype_name, scale, window, softcap, partition_size, group_tile, buffers)()
    return buffers[0]


def check_output(h, batch, out, ref, dtype_name):
    torch = h.torch
    heads, head_dim = batch.heads, batch.head_dim
    body = out[:, :heads * head_dim].reshape(-1, heads, head_dim)
    padding_untouched = bool(torch.isnan(out[:, heads * head_dim:].float()).all())
    error = relative_error(torch, body, ref)
    tolerance = 1e-5 if dtype_name == "f32" else 1e-2
    passed = padding_untouched and error == error and error < tolerance
    note = "" if padding_untouched else " (padding written)"
    if not passed:
        note += diagnose(h, batch, body, ref)
    return passed, error, note


def diagnose(h, batch, body, ref):
    """Where a failing case goes wrong: NaN count, error per sequence, worst element."""
    torch = h.torch
    got = body.double()
    text = f" [NaN outputs {int(torch.isnan(got).sum())}/{got.numel()}"
    for s, (prefix, new) in enumerate(batch.specs):
        if batch.decode_rows:
            rows = [r for r, owner in enumerate(batch.row_sequence_cpu) if owner == s]
        else:
            rows = list(range(batch.starts_cpu[s], batch.starts_cpu[s] + new))
        g, r = got[rows], ref[rows]
        error = float(torch.linalg.vector_norm(torch.nan_to_num(g, nan=1e9) - r) / torch.linalg.vector_norm(r))
        heads_bad = sorted(set(int(x) for x in torch.nonzero(~(torch.abs(g - r) < 0.05 * (r.abs().max() + 1e-30)))[:, 1].tolist()))
        text += f"; seq ctx={prefix + new} new={new}: {error:.1e} heads off {heads_bad[:8]}"
    difference = torch.nan_to_num(torch.abs(got - ref), nan=float("inf"))
    worst = int(torch.argmax(difference))
    row, rest = divmod(worst, batch.heads * batch.head_dim)
    head, dim = divmod(rest, batch.head_dim)
    text += f"; worst row {row} head {head} dim {dim}: got {float(got.reshape(-1)[worst]):.4g} want {float(ref.reshape(-1)[worst]):.4g}]"
    return text


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

HEAD_CONFIGS = [(8, 1), (8, 8), (32, 8), (12, 2)]
PROMPT_LENGTHS = [1, 7, 33, 200, 1000, 2049]
VARIANTS = [(None, None), (100, None), (None, 50.0), (517, 50.0)]  # (window, softcap)


class Tally:
    def __init__(self):
        self.families = {}
        self.failures = []

    def add(self, family, passed, line):
        passed_count, failed_count = self.families.get(family, (0, 0))
        self.families[family] = (passed_count + passed, failed_count + (not passed))
        print(("PASS " if passed else "FAIL ") + line)
        if not passed:
            self.failures.append(line)


def case_parameters(h, index, head_dim, softcap):
    torch = h.torch
    scale = (0.6 + 0.8 * torch.rand(1, generator=h.generator, device=h.device).item()) / math.sqrt(head_dim)
    query_std = 10.0 if softcap else 1.0 + 3.0 * (index % 3)
    return scale, query_std


def check_cache_write(h, tally):
    torch = h.torch
    for dtype_name, dtype in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
        for kv_heads, head_dim, extra in [(1, 256, 8), (8, 128, 0), (2, 64, 3), (3, 64, 1)]:
            width = kv_heads * head_dim
            stride = width + extra  # extra 3 or 1: rows not 16-byte aligned, the scalar path
            tokens, slots_total = 77, 400
            source_k = h.randn(tokens, stride, dtype=dtype)
            source_v = h.randn(tokens, stride, dtype=dtype)
            slots = torch.randperm(slots_total, generator=h.cpu_generator)[:tokens].to(torch.int32)
            slots[5] = -1
            slots[40] = -1
            key_cache = h.randn(slots_total, width, dtype=dtype)
            value_cache = h.randn(slots_total, width, dtype=dtype)
            expected_k, expected_v = key_cache.clone(), value_cache.clone()
            keep = slots >= 0
            index = slots[keep].long().to(h.device)
            expected_k[index] = source_k[keep.to(h.device)][:, :width]
            expected_v[index] = source_v[keep.to(h.device)][:, :width]
            function = h.kernels.function("kv_cache_write.cu", f"kv_cache_write_{dtype_name}")
            function((tokens, 2, 1), (128, 1, 1),
                     (h.arg(source_k), h.arg(source_v), h.arg(key_cache), h.arg(value_cache),
                      h.arg(slots.to(h.device)), _i32(width), _i32(stride), _i32(stride)))
            h.sync()
            bits = lambda t: t.view(torch.int16) if dtype == torch.bfloat16 else t.view(torch.int32)
            exact = bool(torch.equal(bits(key_cache), bits(expected_k)) and torch.equal(bits(value_cache), bits(expected_v)))
            tally.add("kv_cache_write", exact,
                      f"kv_cache_write {dtype_name} kvHeads={kv_heads} headDim={head_dim} stride={stride}: "
                      f"{'bit-exact' if exact else 'MISMATCH'}")


def check_prefill(h, tally, quick):
    torch = h.torch
    index = 0
    lengths = PROMPT_LENGTHS if not quick else [1, 7, 33, 200]
    for heads, kv_heads in HEAD_CONFIGS:
        for head_dim in HEAD_SIZES:
            for dtype_name, dtype in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
                for variant, (window, softcap) in enumerate(VARIANTS):
                    block_size = 16 if variant % 2 == 0 else 32
                    scale, query_std = case_parameters(h, index, head_dim, softcap)
                    order = torch.randperm(len(lengths), generator=h.cpu_generator).tolist()
                    specs = [(0, lengths[i]) for i in order]
                    label = (f"prefill {dtype_name} heads={heads}/{kv_heads} headDim={head_dim} block={block_size} "
                             f"window={window} softcap={softcap} prompts={[n for _, n in specs]}")
                    index += 1
                    try:
                        batch = Batch(h, specs, heads, kv_heads, head_dim, block_size, dtype, query_std)
                        batch.write_new_tokens()
                        out = run_prefill(h, batch, dtype_name, scale, window, softcap)
                        h.sync()
                        ref = batch.reference(scale, window, softcap)
                        passed, error, note = check_output(h, batch, out, ref, dtype_name)
                        tally.add("prefill " + dtype_name, passed, f"{label}: rel error {error:.2e}{note}")
                    except Exception as error:  # report and go on
                        tally.add("prefill " + dtype_name, False, f"{label}: {type(error).__name__}: {error}")


CHUNKED_SPECS = [(1000, 49), (33, 200), (2000, 49), (7, 1), (200, 1), (0, 33), (1, 7), (64, 64)]


def check_chunked(h, tally, quick):
    torch = h.torch
    index = 0
    for heads, kv_heads in HEAD_CONFIGS:
        for head_dim in HEAD_SIZES:
            for dtype_name, dtype in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
                for variant, (window, softcap) in enumerate([(None, None), (300, 50.0)]):
                    block_size = 32 if variant == 0 else 16
                    scale, query_std = case_parameters(h, index, head_dim, softcap)
                    order = torch.randperm(len(CHUNKED_SPECS), generator=h.cpu_generator).tolist()
                    specs = [CHUNKED_SPECS[i] for i in order]
                    if quick:
                        specs = [s for s in specs if s[0] + s[1] < 600]
                    label = (f"chunked {dtype_name} heads={heads}/{kv_heads} headDim={head_dim} block={block_size} "
                             f"window={window} softcap={softcap} (prefix,new)={specs}")
                    index += 1
                    try:
                        batch = Batch(h, specs, heads, kv_heads, head_dim, block_size, dtype, query_std)
                        batch.write_new_tokens()
                        out = run_prefill(h, batch, dtype_name, scale, window, softcap)
                        h.sync()
                        ref = batch.reference(scale, window, softcap)
                        passed, error, note = check_output(h, batch, out, ref, dtype_name)
                        tally.add("chunked " + dtype_name, passed, f"{label}: rel error {error:.2e}{note}")
                    except Exception as error:
                        tally.add("chunked " + dtype_name, False, f"{label}: {type(error).__name__}: {error}")


DECODE_CONTEXTS = [1, 7, 33, 200, 1000, 2049, 513, 64]
PARTITION_SIZES = [32, 64, 256, 512]


def check_decode(h, tally, quick):
    torch = h.torch
    index = 0
    contexts = DECODE_CONTEXTS if not quick else [1, 7, 33, 200, 64]
    for heads, kv_heads in HEAD_CONFIGS:
        group = heads // kv_heads
        for head_dim in HEAD_SIZES:
            for dtype_name, dtype in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
                for variant, (window, softcap) in enumerate(VARIANTS):
                    block_size = 16 if (index // 2) % 2 == 0 else 32
                    partition_size = PARTITION_SIZES[index % len(PARTITION_SIZES)]
                    # The natural group tile, and every other case a smaller one (more head chunks).
                    group_tile = group_tile_for(group)
                    if index % 2 == 1 and group_tile > 1:
                        group_tile //= 2
                    scale, query_std = case_parameters(h, index, head_dim, softcap)
                    specs = [(c - 1, 1) for c in contexts]
                    permute = index % 2 == 0
                    label = (f"decode {dtype_name} heads={heads}/{kv_heads} headDim={head_dim} block={block_size} "
                             f"window={window} softcap={softcap} partition={partition_size} groupTile={group_tile} "
                             f"rows permuted={permute} contexts={contexts}")
                    index += 1
                    try:
                        batch = Batch(h, specs, heads, kv_heads, head_dim, block_size, dtype, query_std,
                                      decode_rows=True, permute_rows=permute)
                        batch.write_new_tokens()
                        out = run_decode(h, batch, dtype_name, scale, window, softcap, partition_size, group_tile)
                        h.sync()
                        ref = batch.reference(scale, window, softcap)
                        passed, error, note = check_output(h, batch, out, ref, dtype_name)
                        tally.add("decode " + dtype_name, passed, f"{label}: rel error {error:.2e}{note}")
                    except Exception as error:
                        tally.add("decode " + dtype_name, False, f"{label}: {type(error).__name__}: {error}")


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

BANDWIDTH = 3.0e12  # bytes/s, device-to-device copy measured on this workplace's H100
MATH_RATE = 790e12  # bf16 dense FLOP/s, measured 8192^3 matmul


def gpu_times_us(torch, cp, launches, repeats=20, warmup=5):
    """Median, min and max device time of one call of launches[i % len(launches)] (CUDA events
    around each call). The calls are queued behind a ~100 ms spin kernel, so the host's launch
    overhead is hidden and the events time the GPU alone."""
    for i in range(warmup):
        launches[i % len(launches)]()
    cp.cuda.runtime.deviceSynchronize()
    starts = [cp.cuda.Event() for _ in range(repeats)]
    ends = [cp.cuda.Event() for _ in range(repeats)]
    torch.cuda._sleep(200_000_000)
    for i in range(repeats):
        starts[i].record()
        launches[i % len(launches)]()
        ends[i].record()
    ends[-1].synchronize()
    times = sorted(cp.cuda.get_elapsed_time(a, b) * 1000.0 for a, b in zip(starts, ends))
    return times[len(times) // 2], times[0], times[-1]


def copy_bandwidth(torch, cp):
    """Device-to-device copy rate, bytes read + written per second (1 GiB buffers)."""
    source = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").random_()
    destination = torch.empty_like(source)
    median, _, _ = gpu_times_us(torch, cp, [lambda: destination.copy_(source)], repeats=10, warmup=3)
    return 2 * source.numel() / (median * 1e-6)


BANDWIDTH = 3.0e12  # bytes/s: the H100 device-to-device copy rate measured on this workplace
MATH_RATE = 790e12  # bf16 dense FLOP/s: 8192^3 matrix product measured on this workplace


def bench(h):
    torch, cp = h.torch, h.cp
    results = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    measured_bandwidth = copy_bandwidth(torch, cp)
    print(f"device-to-device copy on this card: {measured_bandwidth / 1e12:.2f} TB/s (read + write)")

    def prefill_case(label, count, tokens, heads, kv_heads, head_dim, scale, extra=False):
        batch = Batch(h, [(0, tokens)] * count, heads, kv_heads, head_dim, 16, torch.bfloat16, 1.0)
        batch.write_new_tokens()
        out = torch.empty(batch.tokens, heads * head_dim + 8, device=h.device, dtype=torch.bfloat16)
        median, low, high = gpu_times_us(torch, cp, [prefill_launcher(h, batch, "bf16", scale, None, None, out)])
        pairs = count * tokens * (tokens + 1) // 2
        flops = 4 * head_dim * heads * pairs
        bytes_moved = count * (2 * tokens * heads * head_dim * 2 + 2 * tokens * kv_heads * head_dim * 2)
        # Peer: SDPA with K/V expanded to every query head (plain MHA, so its flash kernel runs).
        qkv = batch.qkv[:, :(heads + 2 * kv_heads) * head_dim].reshape(count, tokens, heads + 2 * kv_heads, head_dim)
        q = qkv[:, :, :heads].transpose(1, 2).contiguous()
        k = qkv[:, :, heads:heads + kv_heads].repeat_interleave(heads // kv_heads, dim=2).transpose(1, 2).contiguous()
        v = qkv[:, :, heads + kv_heads:].repeat_interleave(heads // kv_heads, dim=2).transpose(1, 2).contiguous()
        try:
            peer, _, _ = gpu_times_us(torch, cp, [lambda: sdpa(q, k, v, is_causal=True, scale=scale)])
        except Exception as error:  # noqa: BLE001
            print(f"torch SDPA prefill failed: {error}")
            peer = float("nan")
        results.append((label, median, low, high, bytes_moved, flops, peer, "", extra))

    def decode_case(rows, context, heads, kv_heads, head_dim, scale, extra=False):
        # Each timed call reads a different cache (rotating sets, > 50 MB in all) so L2 does not
        # hold the previous call's K/V.
        sets = max(2, math.ceil(64 * 2**20 / (rows * context * kv_heads * head_dim * 4)))
        batches = []
        for _ in range(sets):
            b = Batch(h, [(context - 1, 1)] * rows, heads, kv_heads, head_dim, 16, torch.bfloat16, 1.0, decode_rows=True)
            b.write_new_tokens()
            batches.append(b)
        h.sync()
        flops = 4 * head_dim * heads * context * rows
        bytes_moved = rows * (2 * context * kv_heads * head_dim * 2 + 2 * heads * head_dim * 2)
        best = None
        group = heads // kv_heads
        natural = group_tile_for(group)
        for group_tile in sorted({natural, max(1, natural // 2)}, reverse=True):
            for partition_size in [32, 64, 128, 256, 512, 1024]:
                if partition_size > 2 * context:
                    continue
                launches = [decode_launcher(h, b, "bf16", scale, None, None, partition_size, group_tile,
                                            decode_buffers(h, b, None, partition_size)) for b in batches]
                median, low, high = gpu_times_us(torch, cp, launches)
                partitions = math.ceil(context / partition_size)
                chunks = math.ceil(group / group_tile)
                print(f"  decode batch {rows} context {context} heads {heads}/{kv_heads} head {head_dim}: group tile "
                      f"{group_tile}, partition {partition_size} ({partitions * chunks * kv_heads * rows} blocks): "
                      f"median {median:.1f} us (min {low:.1f}, max {high:.1f}), "
                      f"{bytes_moved / (median * 1e-6) / 1e12:.2f} TB/s")
                if best is None or median < best[0]:
                    best = (median, low, high, f"group tile {group_tile}, partition {partition_size}")
        b = batches[0]
        q = b.qkv[:, :heads * head_dim].reshape(rows, heads, 1, head_dim)
        slots = torch.tensor([int(b.tables_cpu[s, p // 16]) * 16 + p % 16 for s in range(rows) for p in range(context)],
                             device=h.device, dtype=torch.long)
        k = b.key_cache[slots].reshape(rows, context, kv_heads, head_dim).transpose(1, 2).contiguous()
        v = b.value_cache[slots].reshape(rows, context, kv_heads, head_dim).transpose(1, 2).contiguous()
        try:
            peer, _, _ = gpu_times_us(torch, cp, [lambda: sdpa(q, k, v, scale=scale, enable_gqa=True)])
        except Exception as error:  # noqa: BLE001
            print(f"torch SDPA decode failed: {error}")
            peer = float("nan")
        results.append((f"decode {rows} x context {context}" + (f" ({heads}/{kv_heads}, h{head_dim})" if extra else ""),
                        best[0], best[1], best[2], bytes_moved, flops, peer, best[3], extra))

    # Gemma-2B: 8 query heads, 1 kv head, head 256, scale 1/16.
    prefill_case("prefill 1 x 2048 tokens", 1, 2048, 8, 1, 256, 1.0 / 16.0)
    decode_case(1, 1024, 8, 1, 256, 1.0 / 16.0)
    decode_case(64, 1024, 8, 1, 256, 1.0 / 16.0)
    # Extra shapes: more tiles than one wave; a Llama-style GQA head size 128.
    prefill_case("prefill 4 x 2048 tokens (extra)", 4, 2048, 8, 1, 256, 1.0 / 16.0, extra=True)
    prefill_case("prefill 1 x 2048 (32/8, h128) (extra)", 1, 2048, 32, 8, 128, 128 ** -0.5, extra=True)
    decode_case(64, 1024, 32, 8, 128, 128 ** -0.5, extra=True)
    return results, measured_bandwidth


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compile-only", action="store_true", help="compile with NVRTC for sm_90a and sm_80, no GPU")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="shorter contexts")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--sanitize", action="store_true",
                        help="a small subset, no timing (to run under compute-sanitizer)")
    parser.add_argument("--families", default="write,prefill,chunked,decode",
                        help="comma-separated subset of write, prefill, chunked, decode")
    args = parser.parse_args()
    families = set(args.families.split(","))
    if args.sanitize:
        global HEAD_CONFIGS, HEAD_SIZES, VARIANTS, CHUNKED_SPECS
        HEAD_CONFIGS, HEAD_SIZES = [(8, 1), (12, 2)], [64, 256]
        VARIANTS = [(None, None), (20, 50.0)]
        CHUNKED_SPECS = [(100, 9), (3, 70), (7, 1), (0, 5)]
        args.quick, args.no_bench = True, True
    if args.compile_only:
        sys.exit(0 if compile_only() else 1)

    import cupy as cp
    import torch

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    properties = cp.cuda.runtime.getDeviceProperties(0)
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else properties["name"]
    major, minor = properties["major"], properties["minor"]
    architecture = f"sm_{major}{minor}" + ("a" if major == 9 else "")
    print(f"device: {name}, compute capability {major}.{minor}, {properties['multiProcessorCount']} SMs; "
          f"torch {torch.__version__}, cupy {cp.__version__}; seed {seed}")
    kernels = Kernels(cp, architecture)
    for file_name in FILES:
        print(f"{file_name} resources ({architecture}):\n{resource_summary(kernels.logs[file_name])}")
    generator = torch.Generator(device="cuda")
    generator.manual_seed(seed)
    h = Harness(torch, cp, kernels, generator)
    tally = Tally()
    started = time.time()
    if "write" in families:
        check_cache_write(h, tally)
    if "prefill" in families:
        check_prefill(h, tally, args.quick)
    if "chunked" in families:
        check_chunked(h, tally, args.quick)
    if "decode" in families:
        check_decode(h, tally, args.quick)
    print(f"checks took {time.time() - started:.0f} s")

    if not args.no_bench:
        try:
            results, measured = bench(h)
            print()
            print(f"Timings on {name} (bf16; CUDA events around each call, queued behind a spin kernel; 5 warm-up, "
                  f"median of 20).")
            print(f"Floors: bytes / 3.0 TB/s (H100 copy rate), bytes / {measured / 1e12:.2f} TB/s (this card's copy "
                  f"rate, measured above), FLOPs / 790 TFLOP/s (bf16 dense). torch SDPA: same shapes, contiguous "
                  f"K/V (prefill: K/V expanded to every head; decode: enable_gqa).")
            print(f"{'case':40s} {'kiln us':>8s} {'min':>7s} {'max':>7s} {'mem 3.0':>8s} {'mem card':>8s} "
                  f"{'math':>7s} {'TFLOP/s':>8s} {'TB/s':>6s} {'SDPA us':>8s}  note")
            for label, median, low, high, bytes_moved, flops, peer, note, extra in results:
                print(f"{label:40s} {median:8.1f} {low:7.1f} {high:7.1f} {bytes_moved / BANDWIDTH * 1e6:8.2f} "
                      f"{bytes_moved / measured * 1e6:8.2f} {flops / MATH_RATE * 1e6:7.2f} {flops / median / 1e6:8.1f} "
                      f"{bytes_moved / median / 1e6:6.2f} {peer:8.1f}  {note}")
        except Exception as error:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            print(f"timing failed: {error}")

    print()
    print("Per family:")
    for family, (passed, failed) in tally.families.items():
        print(f"  {family:20s} {passed} passed, {failed} failed")
    if tally.failures:
        print("Failures:")
        for line in tally.failures[:20]:
            print("  " + line)
    total_passed = sum(p for p, _ in tally.families.values())
    total_failed = sum(f for _, f in tally.families.values())
    print(f"{total_passed} passed, {total_failed} failed")
    sys.exit(0 if total_failed == 0 else 1)


if __name__ == "__main__":
    main()
