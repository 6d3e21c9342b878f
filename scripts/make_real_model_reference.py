#!/usr/bin/env python3
"""Writes Tests/KilnModelsTests/Fixtures/real-models.json: greedy reference ids for the three real
GGUF models of ../shared/data/README.md.

Made with transformers 5.24.0, PyTorch 2.13.0+cpu, gguf 0.19.0 and llama-cpp-python 0.3.36
(llama.cpp built from that source package, CPU):
    pip install torch==2.13.0+cpu transformers==5.24.0 accelerate==1.15.0 gguf==0.19.0 \
        llama-cpp-python==0.3.36
    KILN_MODELS=/path/to/models python3 scripts/make_real_model_reference.py
KILN_MODELS is the directory holding smollm2-135m-instruct-q4_1.gguf, gemma-3-270m-q4_k_m.gguf
and qwen2.5-coder-1.5b-instruct-q4_k_m.gguf. Peak memory is about 9 GB (Qwen 1.5B in float32
while transformers dequantises it); it takes about 15 minutes on 2 cores.

For each model and each of its 3 prompts the JSON has
  prompt_ids           llama.cpp's tokenisation (Llama(vocab_only=True).tokenize(text,
                       add_bos=True, special=True)): BOS only where the GGUF's
                       tokenizer.ggml.add_bos_token says so, exactly as llama.cpp adds it;
                       special tokens written in the text (<|im_start|>...) become their ids.
  transformers_greedy  32 new ids, argmax at every step, from transformers loading the GGUF
                       (AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32):
                       every weight dequantised to float32, float32 activations - the same
                       computation as Kiln's CPU engine), eager attention, KV cache.
  llamacpp_greedy      32 new ids, argmax at every step, from llama.cpp (n_ctx 512, CPU).
                       llama.cpp quantises activations to 8 bits inside quantised matmuls, so
                       it may drift from the float32 run where the top two logits are close.
  llamacpp_f32_greedy  32 new ids from llama.cpp run on a float32 GGUF copy of the model
                       (gguf-py's dequantisation of every tensor, same metadata; written to a
                       temporary folder under KILN_REFERENCE_TMP or the system default, about
                       6.2 GB for Qwen, deleted afterwards), float32 KV cache, no flash
                       attention: llama.cpp then quantises nothing, so this is an independent
                       implementation of the same float32 computation as transformers.
  first_divergence     first index where transformers_greedy and llamacpp_greedy differ
                       (null: identical); f32_first_divergence the same for
                       llamacpp_f32_greedy.
  *_top2_gap           top-1 minus top-2 logit at each greedy step of that reference: a
                       divergence at a small gap is rounding, not a bug.
  last_prompt_position_logits   max |transformers - llama.cpp| (quantised and float32 runs)
                       over the vocabulary at the last prompt position (the first greedy
                       step), next to the std of transformers' logits there.
  transformers_tokenizer_agrees / transformers_prompt_ids   whether transformers' own tokenizer
                       built from the GGUF (AutoTokenizer, add_special_tokens=True) gives the
                       same prompt ids, and its ids where it does not.
Greedy decoding ignores end-of-sequence: all 32 ids are the argmax even after an EOS id, so a
test must either disable stopping or compare only up to the first EOS. "eos_ids" lists every id
llama.cpp treats as end of generation (llama_vocab_is_eog), which includes its guesses from
token text such as "</s>" and "<|file_sep|>", not only tokenizer.ggml.eos_token_id.
"""

import gc
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "KilnModelsTests" / "Fixtures" / "real-models.json"
NEW_TOKENS = 32

SMOL_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def chatml(system, user):
    """The ChatML text both instruct models' templates produce for one user turn."""
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


MODELS = [
    (
        "smollm2-135m-instruct-q4_1.gguf",
        [
            "The capital of France is",
            "Once upon a time, in a small village by the sea, there lived",
            chatml(SMOL_SYSTEM, "Write a short story about a robot who learns to paint."),
        ],
    ),
    (
        "gemma-3-270m-q4_k_m.gguf",
        [
            "The capital of France is",
            "Once upon a time, in a small village by the sea, there lived",
            "Here is a list of the first ten prime numbers: 2, 3, 5,",
        ],
    ),
    (
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        [
            "def quicksort(arr):",
            "The capital of France is",
            chatml(QWEN_SYSTEM, "Write a Python function that checks whether a string is a palindrome, and explain it."),
        ],
    ),
]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def top2_gap(logits):
    top = np.partition(logits, -2)[-2:]
    return round(float(top[1] - top[0]), 4)


def llamacpp_tokenize(path, texts):
    import llama_cpp

    vocab = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    ids = [vocab.tokenize(text.encode(), add_bos=True, special=True) for text in texts]
    info = {
        "add_bos_token": vocab.metadata.get("tokenizer.ggml.add_bos_token"),
        "bos_id": vocab.token_bos(),
        "eos_ids": sorted({vocab.token_eos()} | eog_ids(vocab)),
    }
    del vocab
    return ids, info


def eog_ids(vocab):
    import llama_cpp

    return {t for t in range(vocab.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab._model.vocab, t)}


def dequantized_copy(source, destination):
    """Writes a GGUF with the same metadata whose tensors are gguf-py's float32 dequantisation."""
    import gguf
    from gguf.quants import dequantize, quant_shape_from_byte_shape

    reader = gguf.GGUFReader(source)
    architecture = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(destination, architecture)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, value, value_type, sub_type=sub_type)
    shapes = []
    for tensor in reader.tensors:
        if tensor.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            shape = tuple(tensor.data.shape)
        else:
            shape = quant_shape_from_byte_shape(tensor.data.shape, tensor.tensor_type)
        shapes.append(shape)
        count = int(np.prod(shape))
        writer.add_tensor_info(tensor.name, shape, np.dtype(np.float32), count * 4, gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor, shape in zip(reader.tensors, shapes):
        data = dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(shape)
        writer.write_tensor_data(data)
    writer.close()
    del reader


def llamacpp_greedy(path, prompts, exact=False):
    """exact: float32 KV cache, no flash attention (for the float32 copy, where llama.cpp then
    quantises nothing)."""
    import llama_cpp

    options = dict(n_ctx=512, logits_all=False, n_threads=2, verbose=False)
    if exact:
        options.update(type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False)
    llm = llama_cpp.Llama(str(path), **options)
    n_vocab = llm.n_vocab()
    results = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        new, gaps, first = [], [], None
        for _ in range(NEW_TOKENS):
            pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).copy()
            first = logits if first is None else first
            token = int(np.argmax(logits))
            new.append(token)
            gaps.append(top2_gap(logits))
            llm.eval([token])
        results.append((new, gaps, first))
    del llm
    gc.collect()
    return results


def transformers_greedy(directory, name, prompts):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    summary = {
        "class": type(model).__name__,
        "model_type": model.config.model_type,
        "layer_types": sorted(set(getattr(model.config, "layer_types", None) or [])),
        "rope_parameters": model.config.rope_parameters,
        "sliding_window": getattr(model.config, "sliding_window", None),
        "tie_word_embeddings": model.config.tie_word_embeddings,
    }
    results = []
    with torch.no_grad():
        for ids in prompts:
            output = model(torch.tensor([ids]), use_cache=True)
            first = output.logits[0, -1].numpy().copy()  # [vocab], last prompt position
            new, gaps = [], []
            for _ in range(NEW_TOKENS):
                logits = output.logits[0, -1].numpy()
                token = int(np.argmax(logits))
                new.append(token)
                gaps.append(top2_gap(logits))
                output = model(torch.tensor([[token]]), cache=output.cache, use_cache=True)
            results.append((new, gaps, first))
    del model, output
    gc.collect()
    return results, summary


def transformers_tokenize(directory, name, texts):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    return [tokenizer(text, add_special_tokens=True)["input_ids"] for text in texts]


def first_divergence(a, b):
    if a is None or b is None:
        return None
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def versions():
    import gguf
    import torch
    import transformers

    result = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "gguf": getattr(gguf, "__version__", None),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    try:
        from importlib.metadata import version

        result["gguf"] = result["gguf"] or version("gguf")
        result["llama_cpp_python"] = version("llama-cpp-python")
    except Exception:  # noqa: BLE001 - record what is there
        pass
    return result


def compact(text):
    """Keep lists of numbers on one line in the indented JSON."""
    return re.sub(
        r"\[\s*([-0-9.eE]+(?:,\s*[-0-9.eE]+)*)\s*\]",
        lambda m: "[" + ", ".join(part.strip() for part in m.group(1).split(",")) + "]",
        text,
    )


def main():
    directory = Path(os.environ["KILN_MODELS"])
    report = {"models": [], "versions": versions(), "new_tokens": NEW_TOKENS}
    for name, texts in MODELS:
        path = directory / name
        print(name, flush=True)
        prompt_ids, info = llamacpp_tokenize(path, texts)
        try:
            hf_ids = transformers_tokenize(directory, name, texts)
        except Exception as error:  # noqa: BLE001 - recorded, not fatal
            hf_ids, tokenizer_error = [None] * len(texts), repr(error)
        else:
            tokenizer_error = None
        llamacpp = llamacpp_greedy(path, prompt_ids)
        with tempfile.TemporaryDirectory(dir=os.environ.get("KILN_REFERENCE_TMP")) as scratch:
            copy = Path(scratch) / "float32.gguf"
            dequantized_copy(path, copy)
            llamacpp_f32 = llamacpp_greedy(copy, prompt_ids, exact=True)
        try:
            hf, summary = transformers_greedy(directory, name, prompt_ids)
            hf_error = None
        except Exception as error:  # noqa: BLE001 - recorded, not fatal
            hf, summary, hf_error = [(None, None, None)] * len(texts), None, repr(error)
        entry = {
            "file": name,
            "sha256": sha256(path),
            "add_bos_token": info["add_bos_token"],
            "bos_id": info["bos_id"],
            "eos_ids": info["eos_ids"],
            "transformers_config": summary,
            "transformers_error": hf_error,
            "transformers_tokenizer_error": tokenizer_error,
            "cases": [],
        }
        for text, ids, theirs, (hf_new, hf_gaps, hf_first), (cpp_new, cpp_gaps, cpp_first), (
            f32_new,
            f32_gaps,
            f32_first,
        ) in zip(texts, prompt_ids, hf_ids, hf, llamacpp, llamacpp_f32):
            case = {
                "prompt": text,
                "prompt_ids": ids,
                "transformers_greedy": hf_new,
                "llamacpp_greedy": cpp_new,
                "llamacpp_f32_greedy": f32_new,
                "first_divergence": first_divergence(hf_new, cpp_new),
                "f32_first_divergence": first_divergence(hf_new, f32_new),
                "transformers_tokenizer_agrees": None if theirs is None else theirs == ids,
            }
            if theirs is not None and theirs != ids:
                case["transformers_prompt_ids"] = theirs
            if hf_first is not None:
                case["last_prompt_position_logits"] = {
                    "transformers_std": round(float(hf_first.std()), 4),
                    "max_abs_difference_llamacpp": round(float(np.abs(hf_first - cpp_first).max()), 4),
                    "max_abs_difference_llamacpp_f32": round(float(np.abs(hf_first - f32_first).max()), 5),
                }
            case["transformers_top2_gap"] = hf_gaps
            case["llamacpp_top2_gap"] = cpp_gaps
            case["llamacpp_f32_top2_gap"] = f32_gaps
            entry["cases"].append(case)
            print(" ", repr(text[:40]), "divergence", case["first_divergence"],
                  "f32 divergence", case["f32_first_divergence"],
                  "tokenizer agrees", case["transformers_tokenizer_agrees"], flush=True)
        report["models"].append(entry)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w") as file:
        file.write(compact(json.dumps(report, indent=2, ensure_ascii=False)) + "\n")


if __name__ == "__main__":
    main()
