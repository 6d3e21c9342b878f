#!/usr/bin/env python3
"""Reference token ids for Kiln's SentencePiece tokenizer tests, made by llama.cpp.

Reads the corpus `Tests/KilnTokenizerTests/Fixtures/spm/corpus.inp` (strings separated by a line
`__ggml_vocab_test__`, as in llama.cpp's tokenizer vectors) and tokenizes every string with
llama.cpp (through llama-cpp-python, vocabulary only) for three vocabularies:

- gemma-3:   $KILN_MODELS/gemma-3-270m-q4_k_m.gguf           (SentencePiece, scores, "llama")
- llama-spm: $KILN_TOKENIZER_VECTORS/ggml-vocab-llama-spm.gguf (Llama 2 SentencePiece)
- gemma-4:   $KILN_TOKENIZER_VECTORS/ggml-vocab-gemma-4.gguf   (BPE by merge rank, "gemma4")

Each string is tokenized without BOS and without special-token parsing (as llama.cpp's
test-tokenizer-0 does); strings that contain "<" or "[" are tokenized again with special
parsing, and two strings again with BOS. The output, `reference.json` next to the corpus,
records the llama-cpp-python version and each vocabulary file's sha256.

Made with: llama-cpp-python 0.3.36 (vendored llama.cpp), gguf 0.19.0, Python 3.11.7.

    KILN_MODELS=/path/to/models python3 scripts/make_spm_reference.py
"""
import hashlib
import json
import os
import sys

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "KilnTokenizerTests", "Fixtures", "spm")
SEPARATOR = "\n__ggml_vocab_test__\n"


def read_corpus(path):
    """Splits the corpus exactly as llama.cpp's test-tokenizer-0 splits a .inp file."""
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8")
    texts, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(SEPARATOR, pos)
        if nxt < 0:
            texts.append(raw[pos:])
            break
        texts.append(raw[pos:nxt])
        pos = nxt + len(SEPARATOR)
    return texts


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    models = os.environ.get("KILN_MODELS")
    vectors = os.environ.get("KILN_TOKENIZER_VECTORS", os.path.join(ROOT, "..", "shared", "data", "tokenizers"))
    if not models:
        sys.exit("set KILN_MODELS to the directory holding gemma-3-270m-q4_k_m.gguf")
    vocabularies = {
        "gemma-3": os.path.join(models, "gemma-3-270m-q4_k_m.gguf"),
        "llama-spm": os.path.join(vectors, "ggml-vocab-llama-spm.gguf"),
        "gemma-4": os.path.join(vectors, "ggml-vocab-gemma-4.gguf"),
    }
    texts = read_corpus(os.path.join(FIXTURES, "corpus.inp"))

    # (text, parse_special, add_bos) for every case, in corpus order.
    variants = []
    for index, text in enumerate(texts):
        variants.append((text, False, False))
        if "<" in text or "[" in text:
            variants.append((text, True, False))
        if index == 0 or text.startswith("<start_of_turn>user\nHi"):
            variants.append((text, True, True))

    cases = [{"text": t, "parse_special": s, "add_bos": b, "ids": {}} for (t, s, b) in variants]
    files = {}
    for name, path in vocabularies.items():
        model = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        for case in cases:
            ids = model.tokenize(case["text"].encode("utf-8"), add_bos=case["add_bos"], special=case["parse_special"])
            case["ids"][name] = list(ids)
        files[name] = {"file": os.path.basename(path), "sha256": sha256(path)}
        del model

    header = {
        "generator": "scripts/make_spm_reference.py",
        "llama_cpp_python": llama_cpp.__version__,
        "vocabularies": files,
    }
    # One case per line, so that a regenerated file diffs readably.
    body = ",\n".join("  " + json.dumps(case, ensure_ascii=False) for case in cases)
    head = json.dumps(header, ensure_ascii=False)[:-1]
    out = os.path.join(FIXTURES, "reference.json")
    with open(out, "w", encoding="utf-8") as f:
        f.write(head + ',\n "cases": [\n' + body + "\n ]}\n")
    print(f"{len(cases)} cases, {len(vocabularies)} vocabularies -> {out}")


if __name__ == "__main__":
    main()
