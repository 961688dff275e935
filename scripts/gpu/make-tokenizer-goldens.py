#!/usr/bin/env python3
"""Writes golden tokenizations of the corpus with the reference HF `tokenizers` package.

Usage:
    python3 scripts/gpu/make-tokenizer-goldens.py \\
        --corpus tests/data/tokenizer_corpus.jsonl \\
        --tokenizer llama3=PATH/tokenizer.json --tokenizer qwen3=PATH/tokenizer.json ... \\
        --out-dir DIR

For each NAME=PATH it writes DIR/tokenizer_golden_NAME.jsonl:
    line 1:  {"meta": {"tokenizers_version": ..., "tokenizer_sha256": ..., "corpus_sha256": ...,
                       "tokenizer": NAME, "entries": N}}
    then one line per corpus entry, in corpus order:
             {"name": ..., "ids": [...], "decoded": ...}
where ids = tok.encode(text, add_special_tokens=False).ids and
decoded = tok.decode(ids, skip_special_tokens=False).

Needs only the Python standard library and `tokenizers`; no network.
"""

import argparse
import hashlib
import json
import os
import sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump_line(obj):
    s = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    # Same convention as scripts/make-tokenizer-corpus.py: escape the Unicode line breaks that
    # json.dumps leaves raw, so every reader sees one record per line.
    for c in ("\u0085", "\u2028", "\u2029", "\ufeff"):
        s = s.replace(c, "\\u%04x" % ord(c))
    return s


def read_corpus(path):
    entries = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.decode("utf-8").rstrip("\n")
            if not line:
                continue
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) \
                    or not isinstance(obj.get("text"), str):
                raise SystemExit("%s:%d: expected {\"name\": str, \"text\": str}" % (path, lineno))
            entries.append(obj)
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise SystemExit("%s: duplicate entry names" % path)
    return entries


def parse_tokenizer_arg(s):
    name, sep, path = s.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError("expected NAME=PATH/tokenizer.json, got %r" % s)
    if not all(c.isalnum() or c in "-_." for c in name):
        raise argparse.ArgumentTypeError("NAME may hold only letters, digits, '-', '_', '.': %r" % name)
    return name, path


def main():
    ap = argparse.ArgumentParser(description="Golden tokenizations with HF tokenizers.")
    ap.add_argument("--corpus", required=True, help="tests/data/tokenizer_corpus.jsonl")
    ap.add_argument("--tokenizer", action="append", required=True, type=parse_tokenizer_arg,
                    metavar="NAME=PATH", help="a tokenizer.json; repeat for several")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    import tokenizers  # imported late so --help works without it
    from tokenizers import Tokenizer

    version = getattr(tokenizers, "__version__", "unknown")
    print("python %s" % sys.version.split()[0])
    print("tokenizers %s" % version)

    names = [n for n, _ in args.tokenizer]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate tokenizer NAME")

    entries = read_corpus(args.corpus)
    corpus_sha = sha256_file(args.corpus)
    print("corpus %s: %d entries, sha256 %s" % (args.corpus, len(entries), corpus_sha))
    os.makedirs(args.out_dir, exist_ok=True)

    for name, path in args.tokenizer:
        tok = Tokenizer.from_file(path)
        tok_sha = sha256_file(path)
        out_path = os.path.join(args.out_dir, "tokenizer_golden_%s.jsonl" % name)
        total_ids = 0
        roundtrip = 0
        specials_in_output = 0
        special_ids = set()
        try:
            for tid, added in tok.get_added_tokens_decoder().items():
                if added.special:
                    special_ids.add(tid)
        except AttributeError:  # very old tokenizers
            pass
        lines = [dump_line({"meta": {
            "tokenizers_version": version,
            "tokenizer_sha256": tok_sha,
            "corpus_sha256": corpus_sha,
            "tokenizer": name,
            "tokenizer_file": os.path.basename(path),
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "entries": len(entries),
        }})]
        for e in entries:
            ids = tok.encode(e["text"], add_special_tokens=False).ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            total_ids += len(ids)
            roundtrip += decoded == e["text"]
            specials_in_output += any(i in special_ids for i in ids)
            lines.append(dump_line({"name": e["name"], "ids": list(ids), "decoded": decoded}))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with open(out_path, "wb") as f:
            f.write(data)
        print("%s: %s (sha256 %s, vocab %d)" % (name, path, tok_sha,
                                                 tok.get_vocab_size(with_added_tokens=True)))
        print("  wrote %s: %d entries, %d ids, %d decode==text, %d with special ids, %d bytes"
              % (out_path, len(entries), total_ids, roundtrip, specials_in_output, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
