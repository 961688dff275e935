"""Runs an OpenAI-style tools request through sieve with a stand-in model.

    python3 python/examples/openai_tools.py [--tokenizer DIR] [--format hermes|deepseek|llama3]

The "model" is a seeded random logits generator; sieve's mask turns whatever it prefers into a
well-formed tool call for the request below, which is then parsed the way an agent framework
would. Default tokenizer: $SIEVE_DATA_DIR/tokenizers/qwen3 (Hermes-style <tool_call> tags).
Set SIEVE_LIBRARY to libsieve.so when it is not in build*/ of this checkout.
"""
import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sieve  # noqa: E402

REQUEST = {
    "model": "any",
    "messages": [{"role": "user", "content": "What's the weather in Paris and Oslo?"}],
    "tools": [
        {"type": "function", "function": {
            "name": "get_weather", "strict": True,
            "parameters": {"type": "object", "additionalProperties": False,
                           "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                                          "unit": {"type": ["string", "null"],
                                                   "enum": ["celsius", "fahrenheit", None]}},
                           "required": ["city", "unit"]}}},
        {"type": "function", "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"enum": ["UTC", "CET"]}},
                           "required": ["tz"], "additionalProperties": False}}},
    ],
    "tool_choice": "required",
    "parallel_tool_calls": True,
}


def main():
    data = os.environ.get("SIEVE_DATA_DIR", os.path.expanduser("~/.cache/sieve"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", default=os.path.join(data, "tokenizers", "qwen3"))
    ap.add_argument("--format", default="hermes", choices=["hermes", "deepseek", "llama3"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=400)
    args = ap.parse_args()

    vocab = sieve.Vocabulary.from_file(args.tokenizer)
    compiler = sieve.Compiler(vocab)
    grammar = compiler.compile_openai(REQUEST, tool_format=args.format, whitespace="compact")
    matcher = sieve.Matcher(grammar)
    rng = random.Random(args.seed)
    ids = []
    while not matcher.is_terminated and len(ids) < args.max_tokens:
        allowed = sieve.allowed_ids(matcher.fill_next_token_bitmask(), len(vocab))
        # The stand-in model: random preferences; sieve keeps only what the request allows.
        # Ending early (the stop token) is preferred once the grammar allows it.
        stops = [t for t in allowed if t in vocab.stop_tokens]
        token = stops[0] if stops and rng.random() < 0.5 else rng.choice(allowed)
        if not matcher.accept_token(token):
            raise SystemExit("the matcher refused a token its own mask allowed")
        ids.append(token)
    text = vocab.decode([t for t in ids if t not in vocab.stop_tokens]).decode("utf-8", "replace")
    print(text)
    if args.format == "hermes":
        calls = re.findall(r"<tool_call>\n(.*?)\n</tool_call>", text, re.S)
        for c in calls:
            call = json.loads(c)
            print("call:", call["name"], call["arguments"])
        if not calls:
            raise SystemExit("no tool call produced")
    print("complete" if matcher.is_terminated else "stopped at --max-tokens")


if __name__ == "__main__":
    main()
