#!/usr/bin/env python3
"""Writes the tiny random-weight model fixtures that Kiln's CPU engine is checked against.

Made with Hugging Face transformers 5.24.0 and PyTorch 2.13.0+cpu (safetensors 0.8.0):
    pip install torch==2.13.0+cpu transformers==5.24.0 safetensors
    python3 scripts/make_parity_fixtures.py

For each family, Tests/KilnModelsTests/Fixtures/<family>/ gets
  config.json, generation_config.json, model.safetensors   from save_pretrained (float32)
  logits.json   {"transformers_version", "torch_version", "family", "prompts": [[ids]],
                 "positions": [[positions]], "logits": [[[vocab floats] per position] per prompt],
                 "greedy": [16 new ids after the longest prompt], "notes": [...]}
Logits are transformers' eager-attention float32 output for the whole prompt in one forward
pass (positions 0..n-1, no padding, batch 1), kept only at the last 4 positions of each prompt
(listed in "positions") and rounded to 6 significant digits. "greedy" is
model.generate(do_sample=False, max_new_tokens=16) with EOS stopping switched off; the script
checks that it equals a plain argmax loop that re-runs the whole sequence each step (no cache).
The model is reloaded from the saved folder before anything is computed, so the logits belong
to exactly the files on disk. Weights are drawn from fixed seeds with a larger std than
transformers' default (0.02) so that logits spread out and every part of the model matters;
the output is deterministic.

What each family tests (hidden 64, 4 heads, intermediate 128, vocab 512, max positions 256,
RMSNorm eps 1e-6, float32):
  llama   LlamaForCausalLM, 2 layers, GQA 4 heads / 2 KV heads, head size 16, SiLU-gated MLP,
          RMSNorm x*w, untied output head, RoPE theta 10000 with "llama3" scaling (factor 8,
          low/high freq factor 1/4, original max positions 64: with head size 16 the
          frequencies fall in all three bands, kept / smoothed / divided by the factor).
  qwen2   Qwen2ForCausalLM, 2 layers, GQA 4/2, head size 16, biases on q/k/v (not o), tied
          output head, RoPE theta 1e6.
  gemma   GemmaForCausalLM (Gemma 1), 2 layers, MQA 4 heads / 1 KV head, head size 32 (larger
          than hidden/heads = 16), GeGLU with tanh GELU, RMSNorm x*(1+w), embedding scaled by
          sqrt(hidden), tied output head.
  gemma2  Gemma2ForCausalLM, 2 layers: layer 0 sliding (window 8, smaller than prompts 2 and 3),
          layer 1 global; attention-score soft-cap 10 and final-logit soft-cap 5 (the raw values
          reach about 16 and 8, so tanh is in its non-linear range without saturating),
          post-attention and post-feed-forward norms, query_pre_attn_scalar 16 (scores scaled by
          1/4, not 1/sqrt(head size 32)), GQA 4/2.
  gemma3  Gemma3ForCausalLM (model_type gemma3_text), 3 layers with layer_types
          [sliding, full, sliding] (config.json also carries sliding_window_pattern 2, which gives
          the same list), sliding window 8, QK-norm (RMSNorm x*(1+w) over each head, after the
          projections and before RoPE), RoPE theta 10000 on sliding layers and 1e6 on full
          layers, query_pre_attn_scalar 24 != head size 32, MQA 4/1 (as Gemma 3 270M), no
          soft-capping.
Every logits.json also records, under "sensitivity_max_abs_logit_change_per_prompt", how far the
stored logits move when one feature is switched off or done the common wrong way (no sliding
window, no soft-cap, erf GELU instead of tanh, ...): a tolerance must sit below these numbers.
Erf-vs-tanh GELU moves Gemma's logits only by about 1e-3, so compare with a tolerance of about
1e-4 (float32 agreement is about 1e-5).

Config notes for readers of config.json (transformers 5.x format): RoPE settings live in
"rope_parameters" ({"rope_type", "rope_theta", scaling keys}; Gemma 3 nests one such dict per
layer type), not in the 4.x keys "rope_scaling"/"rope_theta"; sliding layers are listed in
"layer_types"; a sliding window W lets query position q see keys k with q - W < k <= q.
"""

import json
import math
import random
from pathlib import Path

import torch
import transformers
from transformers import (
    Gemma2Config,
    Gemma2ForCausalLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GemmaConfig,
    GemmaForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "KilnModelsTests" / "Fixtures"
VOCAB = 512
KEPT_POSITIONS = 4
GREEDY_TOKENS = 16

COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    max_position_embeddings=256,
    rms_norm_eps=1e-6,
    bos_token_id=2,
    eos_token_id=1,
    pad_token_id=0,
)


def families():
    """(name, model class, config, seed, weight std, whether norms are stored as w in x*(1+w),
    post-norm offset).

    Gemma 2/3's post-attention and post-feed-forward norm weights are centred on w = 3 (scale 4)
    rather than 0: with a tied head and an embedding scaled by sqrt(hidden), unit-scale branches
    leave the last token's embedding dominant, and greedy decoding just repeats that token.
    """
    return [
        (
            "llama",
            LlamaForCausalLM,
            LlamaConfig(
                **COMMON,
                num_hidden_layers=2,
                num_key_value_heads=2,
                head_dim=16,
                tie_word_embeddings=False,
                rope_parameters={
                    "rope_type": "llama3",
                    "rope_theta": 10000.0,
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 64,
                },
            ),
            101,
            0.2,
            False,
            0.0,
        ),
        (
            "qwen2",
            Qwen2ForCausalLM,
            Qwen2Config(
                **COMMON,
                num_hidden_layers=2,
                num_key_value_heads=2,
                tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            ),
            202,
            0.2,
            False,
            0.0,
        ),
        (
            "gemma",
            GemmaForCausalLM,
            GemmaConfig(
                **COMMON,
                num_hidden_layers=2,
                num_key_value_heads=1,
                head_dim=32,
                hidden_act="gelu_pytorch_tanh",
                tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            ),
            303,
            0.2,
            True,
            0.0,
        ),
        (
            "gemma2",
            Gemma2ForCausalLM,
            Gemma2Config(
                **COMMON,
                num_hidden_layers=2,
                num_key_value_heads=2,
                head_dim=32,
                hidden_activation="gelu_pytorch_tanh",
                query_pre_attn_scalar=16,
                sliding_window=8,
                layer_types=["sliding_attention", "full_attention"],
                attn_logit_softcapping=10.0,
                final_logit_softcapping=5.0,
                tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            ),
            404,
            0.2,
            True,
            3.0,
        ),
        (
            "gemma3",
            Gemma3ForCausalLM,
            Gemma3TextConfig(
                **COMMON,
                num_hidden_layers=3,
                num_key_value_heads=1,
                head_dim=32,
                hidden_activation="gelu_pytorch_tanh",
                query_pre_attn_scalar=24,
                sliding_window=8,
                sliding_window_pattern=2,
                layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                tie_word_embeddings=True,
                rope_parameters={
                    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                    "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                },
            ),
            506,
            0.2,
            True,
            3.0,
        ),
    ]


def prompts():
    """Three fixed prompts of lengths 5, 17 and 40 (ids 3..VOCAB-1; 0-2 are pad/eos/bos)."""
    rng = random.Random(20240611)
    return [[rng.randrange(3, VOCAB) for _ in range(n)] for n in (5, 17, 40)]


def randomize(model, seed, std, offset_norms, post_norm_offset):
    """Weights ~ N(0, std); norm weights random too, centred on the identity scale (plus
    post_norm_offset for Gemma 2/3's post-branch norms)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            if "norm" in name:
                # Gemma stores w in x*(1+w): identity is 0. Llama/Qwen store the scale itself.
                centre = 0.0 if offset_norms else 1.0
                if "post_attention_layernorm" in name or "post_feedforward_layernorm" in name:
                    centre += post_norm_offset
                parameter.copy_(centre + noise * 0.3)
            else:
                parameter.copy_(noise * std)


def significant(x, digits=6):
    return float(f"{x:.{digits - 1}e}")


def greedy_without_cache(model, ids, count):
    """Argmax loop over full re-runs; returns (new ids, smallest top-1 minus top-2 logit gap)."""
    sequence, gaps = list(ids), []
    for _ in range(count):
        logits = model(torch.tensor([sequence])).logits[0, -1]
        top = torch.topk(logits, 2).values
        gaps.append(float(top[0] - top[1]))
        sequence.append(int(torch.argmax(logits)))
    return sequence[len(ids):], min(gaps)


def softcap_stats(model, config, ids):
    """Largest |value| before each cap, to show that Gemma 2's caps are exercised."""
    import transformers.models.gemma2.modeling_gemma2 as g2

    seen = {"attention": 0.0}
    original = g2.eager_attention_forward

    def spy(module, query, key, value, attention_mask, **kwargs):
        keys = key.repeat_interleave(query.shape[1] // key.shape[1], 1)  # [1, heads, keys, headDim]
        scores = torch.matmul(query, keys.transpose(2, 3)) * module.scaling
        seen["attention"] = max(seen["attention"], float(scores.abs().max()))
        return original(module, query, key, value, attention_mask, **kwargs)

    g2.eager_attention_forward = spy
    cap = config.final_logit_softcapping
    try:
        config.final_logit_softcapping = None
        raw = model(torch.tensor([ids])).logits
    finally:
        config.final_logit_softcapping = cap
        g2.eager_attention_forward = original
    return seen["attention"], float(raw.abs().max())


# Config changes that a wrong implementation might make by mistake. The fixture records how far
# each moves the stored logits (max |difference| per prompt), to show the feature is exercised
# and to size tolerances: a feature whose change is below the tolerance is not tested.
SENSITIVITY = {
    "llama": {
        "rope without llama3 scaling": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
    },
    "qwen2": {
        "rope theta 10000": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
    },
    "gemma": {
        "exact erf GELU instead of tanh": {"hidden_act": "gelu"},
    },
    "gemma2": {
        "no sliding window": {"sliding_window": 4096},
        "no attention soft-cap": {"attn_logit_softcapping": None},
        "no final soft-cap": {"final_logit_softcapping": None},
        "query scale 1/sqrt(head size)": {"query_pre_attn_scalar": 32},
        "exact erf GELU instead of tanh": {"hidden_activation": "gelu"},
    },
    "gemma3": {
        "no sliding window": {"sliding_window": 4096},
        "all layers global": {"layer_types": ["full_attention"] * 3},
        "local rope theta 1e6": {
            "rope_parameters": {
                "sliding_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
            }
        },
        "query scale 1/sqrt(head size)": {"query_pre_attn_scalar": 32},
    },
}


def kept_logits(model, all_prompts):
    """Logits at the last KEPT_POSITIONS positions of each prompt: list of [kept, vocab]."""
    result = []
    for ids in all_prompts:
        logits = model(torch.tensor([ids])).logits[0]  # [positions, vocab]
        result.append(logits[max(0, len(ids) - KEPT_POSITIONS):])
    return result


def main():
    torch.manual_seed(0)
    all_prompts = prompts()
    for name, model_class, config, seed, std, offset_norms, post_norm_offset in families():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        model = model_class(config).to(torch.float32)
        randomize(model, seed, std, offset_norms, post_norm_offset)
        model.save_pretrained(folder, safe_serialization=True)

        def load(**overrides):
            loaded = model_class.from_pretrained(
                folder, attn_implementation="eager", dtype=torch.float32, **overrides
            )
            return loaded.eval()

        model = load()
        notes = []
        record = {
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "family": name,
            "architecture": model_class.__name__,
            "prompts": all_prompts,
            "positions": [],
            "logits": [],
        }
        with torch.no_grad():
            reference = kept_logits(model, all_prompts)
            for ids, logits in zip(all_prompts, reference):
                record["positions"].append(list(range(len(ids) - len(logits), len(ids))))
                record["logits"].append([[significant(v) for v in row.tolist()] for row in logits])
            longest = all_prompts[-1]
            generated = model.generate(
                torch.tensor([longest]),
                do_sample=False,
                max_new_tokens=GREEDY_TOKENS,
                eos_token_id=None,
                pad_token_id=0,
            )[0, len(longest):].tolist()
            check, gap = greedy_without_cache(model, longest, GREEDY_TOKENS)
            assert generated == check, (name, generated, check)
            assert gap > 1e-3, (name, "greedy argmax too close to call", gap)
            record["greedy"] = generated
            spread = float(torch.cat(reference).std())
            notes.append(f"std of stored logits {spread:.3f}")
            notes.append(f"smallest top-1 minus top-2 logit gap along the greedy run {gap:.4f}")
            if name == "gemma2":
                attention, final = softcap_stats(model, model.config, longest)
                notes.append(
                    f"longest prompt before capping: max |attention score| {attention:.2f} "
                    f"(cap {config.attn_logit_softcapping}), max |logit| {final:.2f} "
                    f"(cap {config.final_logit_softcapping})"
                )
            sensitivity = {}
            for label, overrides in SENSITIVITY.get(name, {}).items():
                changed = kept_logits(load(**overrides), all_prompts)
                sensitivity[label] = [
                    significant(float((a - b).abs().max()), 3) for a, b in zip(reference, changed)
                ]
        record["notes"] = notes
        record["sensitivity_max_abs_logit_change_per_prompt"] = sensitivity
        with open(folder / "logits.json", "w") as file:
            json.dump(record, file, separators=(",", ":"))
            file.write("\n")
        print(name, notes, sensitivity, "greedy", record["greedy"])


if __name__ == "__main__":
    main()
