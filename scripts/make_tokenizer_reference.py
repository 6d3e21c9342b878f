#!/usr/bin/env python3
"""Reference token ids for Kiln's byte-level BPE tests, from llama.cpp.

For every vocabulary below, tokenizes Tests/KilnTokenizerTests/Fixtures/corpus.txt with
llama.cpp (through llama-cpp-python, vocab only) and writes
Tests/KilnTokenizerTests/Fixtures/reference/<name>.json:

  {"reference": "...", "vocabulary": "<gguf file name>",
   "lines": [[ids], ...],        # each line of the corpus (split at "\n", newline dropped)
   "whole": [ids],               # the whole corpus as one string
   "chat": {"text": ..., "parsed": [ids], "literal": [ids]},   # special-token parsing on/off
   "fuzz": [[ids], ...],          # each string of fuzz-strings.json
   "bos": id, "eos": id, "add_bos": bool, "add_eos": bool, "end_of_generation": [ids]}

and Tests/KilnTokenizerTests/Fixtures/reference/fuzz-strings.json: FUZZ_COUNT random strings
(fixed seed) drawn from pools of scalars that stress pre-tokenizers: every kind of whitespace,
apostrophes and contraction letters, combining marks, digits of several scripts, letters of
many scripts, emoji with ZWJ/skin tones/flags, private-use, unassigned and noncharacters.

No BOS/EOS is added to the ids. Inputs are found as the tests find them:
  KILN_TOKENIZER_VECTORS (default ../shared/data/tokenizers beside the package) for
  ggml-vocab-{gpt-2,llama-bpe,qwen2}.gguf, and KILN_MODELS (skipped when unset) for the real
  models' GGUF files.

Versions used for the committed outputs (checked at run time, warning on a mismatch):
  Python 3.11.7, llama-cpp-python 0.3.36 (built from the PyPI source package).

Usage: python3 scripts/make_tokenizer_reference.py
"""
import json
import os
import random
import sys
from pathlib import Path

import llama_cpp

EXPECTED_VERSIONS = {"llama-cpp-python": "0.3.36"}

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "KilnTokenizerTests" / "Fixtures"
CORPUS = FIXTURES / "corpus.txt"
CHAT_TEXT = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
FUZZ_COUNT = 400
FUZZ_POOLS = [
    list(range(0x20, 0x7F)) * 3,
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A,
     0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0xFEFF],
    [0x27] * 5 + [ord(c) for c in "sStTmMdDrReEvVlL"],
    list(range(0x300, 0x370)),
    list(range(0x660, 0x66A)) + list(range(0x966, 0x970)) + [0xBD, 0xB2, 0x2162, 0x2460, 0xFF11],
    list(range(0x370, 0x400)), list(range(0x400, 0x500)), list(range(0x590, 0x700)),
    list(range(0x900, 0x980)), list(range(0xE00, 0xE80)), list(range(0x4E00, 0x4E80)),
    list(range(0xAC00, 0xAC80)), list(range(0x3040, 0x3100)), list(range(0x1F300, 0x1F700)),
    [0x200D, 0xFE0F, 0x1F3FB, 0x20E3], list(range(0x10000, 0x10100)), list(range(0xE000, 0xE010)),
    list(range(0x2E80, 0x2F00)), [0x0378, 0x0379, 0x05FF, 0x1FFFE, 0xE0001, 0x10FFFF, 0xFFFD],
    list(range(0x1F1E6, 0x1F200)), list(range(0x20000, 0x20040)), list(range(0x2000, 0x2070)),
]


def fuzz_strings() -> list:
    generator = random.Random(7)
    strings = []
    for _ in range(FUZZ_COUNT):
        length = generator.randint(1, 24)
        strings.append("".join(chr(generator.choice(generator.choice(FUZZ_POOLS))) for _ in range(length)))
    return strings

VOCABULARIES = {
    # reference file name: (directory variable, default directory, GGUF file)
    "gpt-2": ("KILN_TOKENIZER_VECTORS", ROOT.parent / "shared/data/tokenizers", "ggml-vocab-gpt-2.gguf"),
    "llama-bpe": ("KILN_TOKENIZER_VECTORS", ROOT.parent / "shared/data/tokenizers", "ggml-vocab-llama-bpe.gguf"),
    "qwen2": ("KILN_TOKENIZER_VECTORS", ROOT.parent / "shared/data/tokenizers", "ggml-vocab-qwen2.gguf"),
    "smollm2-135m": ("KILN_MODELS", None, "smollm2-135m-instruct-q4_1.gguf"),
    "qwen2.5-coder-1.5b": ("KILN_MODELS", None, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
}


def reference(path: Path, fuzz: list) -> dict:
    model = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(model.model)
    text = CORPUS.read_bytes().decode("utf-8")

    def tokenize(string: str, special: bool = False) -> list:
        return model.tokenize(string.encode("utf-8"), add_bos=False, special=special)

    count = llama_cpp.llama_vocab_n_tokens(vocab)
    return {
        "reference": f"llama-cpp-python {llama_cpp.__version__}",
        "vocabulary": path.name,
        "lines": [tokenize(line) for line in text.split("\n")],
        "whole": tokenize(text),
        "fuzz": [tokenize(string) for string in fuzz],
        "chat": {"text": CHAT_TEXT, "parsed": tokenize(CHAT_TEXT, True), "literal": tokenize(CHAT_TEXT, False)},
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "end_of_generation": [i for i in range(count) if llama_cpp.llama_vocab_is_eog(vocab, i)],
    }


def main() -> int:
    if llama_cpp.__version__ != EXPECTED_VERSIONS["llama-cpp-python"]:
        print(f"warning: llama-cpp-python {llama_cpp.__version__}, the committed outputs used "
              f"{EXPECTED_VERSIONS['llama-cpp-python']}", file=sys.stderr)
    out_dir = FIXTURES / "reference"
    out_dir.mkdir(exist_ok=True)
    fuzz = fuzz_strings()
    (out_dir / "fuzz-strings.json").write_text(json.dumps(fuzz, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, (variable, default, file_name) in VOCABULARIES.items():
        directory = os.environ.get(variable) or default
        if directory is None:
            print(f"skip {name}: {variable} is not set", file=sys.stderr)
            continue
        path = Path(directory) / file_name
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        result = reference(path, fuzz)
        (out_dir / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name}: {len(result['lines'])} lines, {len(result['whole'])} tokens for the whole corpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
