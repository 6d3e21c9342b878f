#!/usr/bin/env python3
"""Shows what NVRTC makes of a Kiln kernel file, without a GPU: registers, spills, shared memory
and the SASS of chosen kernels, for reading instruction counts before spending device time (an
H100 `ncu` run in session 5 found the skinny GEMM's small grids issue-bound; the SASS showed why).

    python3 scripts/kernel_sass.py FILE.cu [--arch sm_90a] [-D NAME]... [--kernel REGEX]... [--sass]

Compiles Sources/KilnCUDA/Kernels/FILE.cu with NVRTC and the options KernelLibrary.options uses
(--gpu-architecture=ARCH -std=c++17 -default-device, the .cuh headers by include name, -D macros as
KILN_KERNEL_DEFINES would add them), then runs cuobjdump on the CUBIN: `-res-usage` for every
kernel matching --kernel (all by default), and with --sass the disassembly, summarised per kernel
(instructions; mma, ldmatrix, cp.async, global loads, barriers) and written to /tmp/kiln-sass/.

Needs libnvrtc (pip install nvidia-cuda-nvrtc, as CI installs), cuobjdump and, for --sass,
nvdisasm (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm; found on PATH or in
site-packages/nvidia/*/bin).
"""
import argparse
import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "Sources", "KilnCUDA", "Kernels")


def site_packages_files(pattern):
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    found = []
    for root in roots:
        found += glob.glob(os.path.join(root, "nvidia", "**", pattern), recursive=True)
    return sorted(found)


def find_nvrtc():
    for path in site_packages_files("libnvrtc.so*"):
        if "builtins" not in os.path.basename(path):
            return path
    return "libnvrtc.so"


def find_tool(name):
    return shutil.which(name) or next(iter(site_packages_files(name)), None)


def compile_cubin(file_name, arch, defines):
    library = ctypes.CDLL(find_nvrtc())
    source = open(os.path.join(KERNELS, file_name), "rb").read()
    header_paths = sorted(glob.glob(os.path.join(KERNELS, "*.cuh")))  # included by name, as KernelLibrary does
    program = ctypes.c_void_p()
    headers = (ctypes.c_char_p * len(header_paths))(*[open(path, "rb").read() for path in header_paths])
    names = (ctypes.c_char_p * len(header_paths))(*[os.path.basename(path).encode() for path in header_paths])
    if library.nvrtcCreateProgram(ctypes.byref(program), source, file_name.encode(), len(header_paths), headers, names) != 0:
        sys.exit("nvrtcCreateProgram failed")
    options = [f"--gpu-architecture={arch}", "-std=c++17", "-default-device"] + [f"-D{d}" for d in defines]
    array = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    result = library.nvrtcCompileProgram(program, len(options), array)
    size = ctypes.c_size_t()
    library.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    library.nvrtcGetProgramLog(program, log)
    if result != 0:
        sys.exit(f"NVRTC failed for {file_name}:\n{log.value.decode()}")
    library.nvrtcGetCUBINSize(program, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    library.nvrtcGetCUBIN(program, cubin)
    return cubin.raw


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", help="kernel file in Sources/KilnCUDA/Kernels, e.g. skinny_gemm.cu")
    parser.add_argument("--arch", default="sm_90a")
    parser.add_argument("-D", dest="defines", action="append", default=[])
    parser.add_argument("--kernel", action="append", default=[], help="regular expression (repeatable)")
    parser.add_argument("--sass", action="store_true", help="also disassemble and summarise")
    args = parser.parse_args()

    cuobjdump = find_tool("cuobjdump")
    if cuobjdump is None:
        sys.exit("cuobjdump not found: python3 -m pip install nvidia-cuda-cuobjdump")
    nvdisasm = find_tool("nvdisasm")
    if args.sass and nvdisasm is None:
        sys.exit("nvdisasm not found (cuobjdump -sass runs it): python3 -m pip install nvidia-cuda-nvdisasm")
    environment = dict(os.environ, NVDISASM_PATH=os.path.dirname(nvdisasm)) if nvdisasm else None
    os.makedirs("/tmp/kiln-sass", exist_ok=True)
    cubin_path = f"/tmp/kiln-sass/{os.path.splitext(args.file)[0]}-{args.arch}.cubin"
    open(cubin_path, "wb").write(compile_cubin(args.file, args.arch, args.defines))

    def wanted(name):
        return not args.kernel or any(re.search(pattern, name) for pattern in args.kernel)

    usage = subprocess.run([cuobjdump, "-res-usage", cubin_path], capture_output=True, text=True, check=True).stdout
    for name, resources in re.findall(r"Function (\S+):\s*\n\s*(REG:.*)", usage):
        if wanted(name):
            print(f"{name}: {resources.strip()}")
    if not args.sass:
        return
    sass = subprocess.run([cuobjdump, "-sass", cubin_path], capture_output=True, text=True, check=True, env=environment).stdout
    for block in re.split(r"\n\s*Function : ", sass)[1:]:
        name = block.split("\n", 1)[0].strip()
        if not wanted(name):
            continue
        instructions = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]+)", block)
        opcodes = [op for _, op in instructions]
        count = lambda prefix: sum(1 for op in opcodes if op.startswith(prefix))
        path = f"/tmp/kiln-sass/{name}.sass"
        open(path, "w").write(block)
        print(f"{name}: {len(opcodes)} instructions; HMMA {count('HMMA')}, LDSM {count('LDSM')}, LDGSTS {count('LDGSTS')}, "
              f"LDG {count('LDG.')}, STG {count('STG')}, BAR {count('BAR')}, BRA {count('BRA')} -> {path}")


if __name__ == "__main__":
    main()
