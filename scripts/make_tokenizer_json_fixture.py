#!/usr/bin/env python3
"""Small tokenizer.json fixtures, each with a twin GGUF vocabulary, for Kiln's loader tests.

A real byte-level vocabulary (llama.cpp's ggml-vocab-qwen2.gguf / -llama-bpe.gguf) is cut down
to its 256 byte tokens plus the results of its first MERGES merges (closed under merging, ids
renumbered in the original order), then written twice:

  Tests/KilnTokenizerTests/Fixtures/tokenizer-json/<name>/tokenizer.json    by Hugging Face `tokenizers`
  Tests/KilnTokenizerTests/Fixtures/tokenizer-json/<name>/vocab.gguf        by gguf-py (llama.cpp's writer)
  Tests/KilnTokenizerTests/Fixtures/tokenizer-json/<name>/reference.json    ids of the corpus lines

reference.json holds, for each line of Fixtures/corpus.txt (split at "\n"), the whole corpus and
a few extra strings with added tokens, the ids from llama.cpp (llama-cpp-python on vocab.gguf,
special-token parsing off) and from `tokenizers` (on tokenizer.json, which always matches added
tokens), no BOS/EOS added.

Variants: "qwen2" (Split regex with \\p{N} + ByteLevel), "llama3" (Split regex with \\p{N}{1,3},
ignore_merges), "smollm" (Digits + ByteLevel with its own regex).

Versions used for the committed files: Python 3.11.7, tokenizers 0.23.3, gguf 0.19.0,
llama-cpp-python 0.3.36. Usage: python3 scripts/make_tokenizer_json_fixture.py
(KILN_TOKENIZER_VECTORS as for the tests; default ../shared/data/tokenizers beside the package).
"""
import json
import os
import sys
from pathlib import Path

import gguf
import llama_cpp
import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

MERGES = 1200
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "KilnTokenizerTests" / "Fixtures"
VECTORS = Path(os.environ.get("KILN_TOKENIZER_VECTORS") or ROOT.parent / "shared/data/tokenizers")

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

# name: (source vocabulary, GGUF pre-tokenizer name, specials (control), user-defined tokens)
VARIANTS = {
    "qwen2": ("ggml-vocab-qwen2.gguf", "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<mask>"], ["<tool_call>"]),
    "llama3": ("ggml-vocab-llama-bpe.gguf", "llama-bpe", ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], []),
    "smollm": ("ggml-vocab-qwen2.gguf", "smollm", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], []),
}
EXTRA = ["<|im_start|>user\nHi<|im_end|>", "call <tool_call>{\"x\": 1}", "ab <mask> cd", "<|begin_of_text|>x"]


def read_vocabulary(path: Path):
    reader = gguf.GGUFReader(str(path))
    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
    return strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")


def cut(tokens, merges):
    """The byte tokens plus the results of the first MERGES usable merges, in original id order."""
    index = {token: i for i, token in enumerate(tokens)}
    byte_chars = [t for t in tokens if len(t) == 1 and ord(t) < 0x144][:256]
    keep = set(byte_chars)
    kept_merges = []
    for merge in merges:
        left, right = merge.split(" ", 1)
        if left in keep and right in keep and (left + right) in index:
            keep.add(left + right)
            kept_merges.append((left, right))
            if len(kept_merges) == MERGES:
                break
    vocab = sorted(keep, key=lambda t: index[t])
    return vocab, kept_merges


def build(name, source, pre_name, specials, user_defined):
    tokens, merges = read_vocabulary(VECTORS / source)
    vocab, kept = cut(tokens, merges)
    ids = {token: i for i, token in enumerate(vocab)}

    model = models.BPE(vocab=ids, merges=kept, ignore_merges=(pre_name == "llama-bpe"))
    tokenizer = Tokenizer(model)
    if pre_name == "smollm":
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        pattern = LLAMA3 if pre_name == "llama-bpe" else QWEN2
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    # "<mask>" absorbs the whitespace before it (lstrip), which GGUF cannot record.
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False, lstrip=(t == "<mask>"))
                                  for t in specials])
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in user_defined])
    if pre_name == "llama-bpe":
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", len(vocab))])
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)

    out = FIXTURES / "tokenizer-json" / name
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))

    all_tokens = vocab + specials + user_defined
    types = [1] * len(vocab) + [3] * len(specials) + [4] * len(user_defined)
    writer = gguf.GGUFWriter(str(out / "vocab.gguf"), arch="llama" if pre_name == "llama-bpe" else "qwen2")
    writer.add_name(f"kiln-fixture-{name}")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_name)
    writer.add_token_list(all_tokens)
    writer.add_token_types(types)
    writer.add_token_merges([f"{l} {r}" for l, r in kept])
    # As the real files: Qwen 2 uses <|endoftext|> for both, Llama 3 its begin/end of text.
    writer.add_bos_token_id(all_tokens.index(specials[0]))
    writer.add_eos_token_id(all_tokens.index(specials[1] if pre_name == "llama-bpe" else specials[0]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    llama = llama_cpp.Llama(model_path=str(out / "vocab.gguf"), vocab_only=True, verbose=False)
    text = (FIXTURES / "corpus.txt").read_bytes().decode("utf-8")
    strings = text.split("\n") + [text] + EXTRA
    reference = {
        "reference": f"llama-cpp-python {llama_cpp.__version__}; tokenizers {tokenizers.__version__}",
        "strings": strings,
        "llama_cpp": [llama.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in strings],
        "tokenizers": [tokenizer.encode(s, add_special_tokens=False).ids for s in strings],
    }
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False) + "\n", encoding="utf-8")
    agree = sum(a == b for a, b in zip(reference["llama_cpp"], reference["tokenizers"]))
    print(f"{name}: {len(all_tokens)} tokens, {len(kept)} merges; llama.cpp and tokenizers agree on {agree}/{len(strings)} strings")


def main() -> int:
    for name, (source, pre_name, specials, user_defined) in VARIANTS.items():
        build(name, source, pre_name, specials, user_defined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
