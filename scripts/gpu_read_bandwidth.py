# Read and copy bandwidth of the device machine's GPU with torch (the peer's library), for the
# floors of bench/results: copy of 1 GiB, x.sum() over 2 GiB of bf16 (a pure read), and per-launch
# times of cuBLAS GEMVs of Gemma-2B's shapes (those include launch overhead: small ones read low).
# Usage on the device machine: python3 scripts/gpu_read_bandwidth.py
import torch, time
torch.backends.cuda.matmul.allow_tf32 = False
dev = 'cuda'
def bench(fn, iters=50):
    s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    for _ in range(3): fn(0)
    torch.cuda.synchronize()
    ts = []
    for i in range(iters):
        s.record(); fn(i); e.record(); e.synchronize(); ts.append(s.elapsed_time(e) * 1000)
    ts.sort(); return ts[len(ts)//2]
print(torch.cuda.get_device_name())
# copy bandwidth
a = torch.empty(1 << 30, dtype=torch.uint8, device=dev); b = torch.empty_like(a)
t = bench(lambda i: b.copy_(a), 20); print(f"copy 1 GiB: {t:.1f} us, {2 * a.numel() / t / 1e6:.3f} TB/s (read+write)")
# pure read: sum of a 2 GiB bf16 tensor
x = torch.randn(1 << 30, dtype=torch.bfloat16, device=dev)
t = bench(lambda i: x.sum(dtype=torch.float32), 20); print(f"sum 2 GiB bf16: {t:.1f} us, {x.numel() * 2 / t / 1e6:.3f} TB/s read")
del a, b, x
# gate/up and down shapes, 18 layer copies (L2 cold), cuBLAS GEMV via F.linear
for name, (n, k) in {"gate_up": (32768, 2048), "down": (2048, 16384), "qkv": (2560, 2048), "o": (2048, 2048)}.items():
    ws = [torch.randn(n, k, dtype=torch.bfloat16, device=dev) for _ in range(18)]
    v = torch.randn(1, k, dtype=torch.bfloat16, device=dev)
    t = bench(lambda i: torch.nn.functional.linear(v, ws[i % 18]), 54)
    t2 = bench(lambda i: ws[i % 18].sum(dtype=torch.float32), 54)
    print(f"{name} [{n},{k}] {n*k*2/1e6:.1f} MB: cuBLAS linear {t:.1f} us {n*k*2/t/1e6:.3f} TB/s; torch sum {t2:.1f} us {n*k*2/t2/1e6:.3f} TB/s")
    del ws
