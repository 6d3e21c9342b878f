#!/usr/bin/env python3
"""The peer Kiln is measured against: Hugging Face transformers on the same GPU, Gemma-2B shape
with random bf16 weights (timing does not depend on weight values at a fixed output length).

Measures, as issue 4 asks:
  floors      device-to-device copy bandwidth (bytes read + written) and a bf16 8192^3 matmul rate
  decode      batch 1, 128-token prompt, 256 new tokens: eager, and static cache + torch.compile
  prefill     one 2048-token prompt, eager forward (tokens/s)
  static      batch 64, 128 in / 128 out, eager generate (output tokens/s)
Timing: CUDA synchronisation around warm runs, median of repeats. Prints a table last and writes
JSON to $OUT/peer_transformers.json when OUT is set.

Run on the GPU machine:  PYTHONUNBUFFERED=1 python3 bench/peer_transformers.py [--skip-compile]
"""
import json, os, statistics, sys, time

import torch
import transformers
from transformers import GemmaConfig, GemmaForCausalLM

SKIP_COMPILE = "--skip-compile" in sys.argv
dev = torch.device("cuda")
torch.manual_seed(0)


def timed(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floors():
    n = 1 << 30  # 2 GiB of bf16
    a = torch.randn(n, dtype=torch.bfloat16, device=dev)
    b = torch.empty_like(a)
    t = timed(lambda: b.copy_(a), 10)
    copy_tbps = 2 * a.numel() * 2 / t / 1e12
    del a, b
    m = torch.randn(8192, 8192, dtype=torch.bfloat16, device=dev)
    k = torch.randn(8192, 8192, dtype=torch.bfloat16, device=dev)
    t = timed(lambda: m @ k, 10)
    tflops = 2 * 8192 ** 3 / t / 1e12
    return copy_tbps, tflops


def gemma_2b():
    config = GemmaConfig(vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                         num_attention_heads=8, num_key_value_heads=1, head_dim=256,
                         hidden_activation="gelu_pytorch_tanh", max_position_embeddings=8192,
                         attn_implementation="sdpa")
    with torch.device(dev):
        model = GemmaForCausalLM(config).to(torch.bfloat16).eval()
    return model


def generate_time(model, batch, prompt, new_tokens, repeats=3, **kwargs):
    ids = torch.randint(0, 256000, (batch, prompt), device=dev)
    mask = torch.ones_like(ids)
    def run():
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       do_sample=False, pad_token_id=0, **kwargs)
    return timed(run, repeats)


def main():
    results = {"card": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__}
    copy_tbps, tflops = floors()
    results.update(copy_tbps=copy_tbps, matmul_tflops=tflops)
    model = gemma_2b()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    results["weight_bytes"] = weight_bytes

    with torch.inference_mode():
        # Decode, batch 1: tokens/s of the 255 steps after the first (prefill timed separately).
        first = generate_time(model, 1, 128, 1)
        full = generate_time(model, 1, 128, 256)
        results["eager_decode_tps"] = 255 / (full - first)
        # Prefill of one 2048-token prompt.
        ids = torch.randint(0, 256000, (1, 2048), device=dev)
        t = timed(lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1), 5)
        results["eager_prefill_tps"] = 2048 / t
        # Static batch 64, 128 in / 128 out.
        t = generate_time(model, 64, 128, 128, repeats=2)
        results["eager_static64_output_tps"] = 64 * 128 / t

        print(json.dumps(results), flush=True)
        if not SKIP_COMPILE:
            # transformers compiles the forward itself when generating with a static cache
            # (generation_config.compile_config); wrapping model.forward by hand breaks its
            # CUDA-graph bookkeeping.
            try:
                model.generation_config.cache_implementation = "static"
                generate_time(model, 1, 128, 256, repeats=1)  # compile and capture
                first = generate_time(model, 1, 128, 1)
                full = generate_time(model, 1, 128, 256)
                results["compiled_decode_tps"] = 255 / (full - first)
            except Exception as error:  # report the eager numbers even if compilation fails
                results["compiled_error"] = f"{type(error).__name__}: {str(error)[:300]}"

    # The floor: every weight byte read once per token at the rate the card copies.
    results["decode_floor_tps"] = copy_tbps * 1e12 / weight_bytes
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "peer_transformers.json"), "w") as f:
            json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(f"\ncard {results['card']}  torch {results['torch']}  transformers {results['transformers']}")
    print(f"floors: copy {copy_tbps:.2f} TB/s (read+write), bf16 matmul {tflops:.0f} TFLOP/s; weights {weight_bytes/1e9:.2f} GB")
    print(f"decode floor {results['decode_floor_tps']:.0f} tok/s")
    print(f"decode b1 128+256: eager {results['eager_decode_tps']:.0f} tok/s"
          + (f", static+compile {results['compiled_decode_tps']:.0f} tok/s" if "compiled_decode_tps" in results
             else f", static+compile failed: {results.get('compiled_error', 'skipped')}"))
    print(f"prefill 2048: eager {results['eager_prefill_tps']:.0f} tok/s")
    print(f"static batch 64, 128/128: eager {results['eager_static64_output_tps']:.0f} output tok/s")


if __name__ == "__main__":
    main()
