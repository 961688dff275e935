#!/usr/bin/env python3
"""Writes tests/data/tokenizer_corpus.jsonl, the text corpus for the tokenizer golden tests.

Every line is one JSON object {"name": "<category>/<label>", "text": "..."}.  The output is
deterministic: the random parts draw from random.Random(SEED), the rest is written out below,
and no part depends on the Python version's Unicode tables.  Regenerate with

    python3 scripts/make-tokenizer-corpus.py [--out tests/data/tokenizer_corpus.jsonl]

Changing this script changes the corpus, and then the goldens (scripts/gpu/make-tokenizer-goldens.py)
must be produced again: their meta line records the corpus's sha256.
"""

import argparse
import json
import os
import random
import sys

SEED = 20250301

# ----------------------------------------------------------------------------------------------
# Building blocks


def nfd_latin(s):
    """Decomposes the precomposed Latin letters used in this file, without unicodedata (whose
    tables vary with the Python version).  Only the letters listed here are decomposed."""
    table = {
        "\u00e0": "a\u0300", "\u00e1": "a\u0301", "\u00e2": "a\u0302", "\u00e3": "a\u0303",
        "\u00e4": "a\u0308", "\u00e5": "a\u030a", "\u00e7": "c\u0327", "\u00e8": "e\u0300",
        "\u00e9": "e\u0301", "\u00ea": "e\u0302", "\u00eb": "e\u0308", "\u00ec": "i\u0300",
        "\u00ed": "i\u0301", "\u00ee": "i\u0302", "\u00ef": "i\u0308", "\u00f1": "n\u0303",
        "\u00f2": "o\u0300", "\u00f3": "o\u0301", "\u00f4": "o\u0302", "\u00f5": "o\u0303",
        "\u00f6": "o\u0308", "\u00f9": "u\u0300", "\u00fa": "u\u0301", "\u00fb": "u\u0302",
        "\u00fc": "u\u0308", "\u00fd": "y\u0301", "\u00ff": "y\u0308", "\u00c0": "A\u0300",
        "\u00c1": "A\u0301", "\u00c5": "A\u030a", "\u00c7": "C\u0327", "\u00c9": "E\u0301",
        "\u00c8": "E\u0300", "\u00d1": "N\u0303", "\u00d6": "O\u0308", "\u00dc": "U\u0308",
        "\u0103": "a\u0306", "\u0107": "c\u0301", "\u010d": "c\u030c", "\u0119": "e\u0328",
        "\u011b": "e\u030c", "\u0144": "n\u0301", "\u0148": "n\u030c", "\u0159": "r\u030c",
        "\u015b": "s\u0301", "\u0161": "s\u030c", "\u0163": "t\u0327", "\u0165": "t\u030c",
        "\u016f": "u\u030a", "\u017a": "z\u0301", "\u017c": "z\u0307", "\u017e": "z\u030c",
        "\u0219": "s\u0326", "\u021b": "t\u0326", "\u1ebf": "e\u0302\u0301", "\u1ec7": "e\u0323\u0302",
        "\u01b0": "u\u031b", "\u1edd": "o\u031b\u0300", "\u1ea1": "a\u0323", "\u00e6": "\u00e6",
        "\u0160": "S\u030c", "\u017d": "Z\u030c", "\u010c": "C\u030c",
    }
    return "".join(table.get(c, c) for c in s)


PROSE_SHORT = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "hello world",
    "Hello World",
    "HELLO WORLD",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "A",
    "a b c d e f g",
    "I am.",
    "Tokenization is the first step of nearly every language-model pipeline.",
    "Mr. Smith went to Washington on Jan. 3rd, 2021; he didn't stay long.",
    "It was the best of times, it was the worst of times.",
    "e.g. i.e. etc. vs. a.k.a. U.S.A.",
    "CamelCaseIdentifierWithManyParts and snake_case_identifier_with_parts",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababababababababababab",
    "The the THE tHe ThE",
    "Yes? No! Maybe... (perhaps) [certainly] {never}",
]

PROSE_LONG = [
    (
        "Byte-pair encoding (BPE) is a simple form of data compression in which the most common "
        "pair of consecutive bytes of data is replaced with a byte that does not occur within that "
        "data. A table of the replacements is required to rebuild the original data. The algorithm "
        "was first described publicly by Philip Gage in a February 1994 article \"A New Algorithm "
        "for Data Compression\" in the C Users Journal. A variant of the technique has been shown "
        "to be useful in several natural language processing applications, such as Google's "
        "SentencePiece and OpenAI's GPT-3. Here, the goal is not data compression, but encoding "
        "text in a given language as a sequence of 'tokens', each of which represents a "
        "frequently occurring subword."
    ),
    (
        "Call me Ishmael. Some years ago\u2014never mind how long precisely\u2014having little or "
        "no money in my purse, and nothing particular to interest me on shore, I thought I would "
        "sail about a little and see the watery part of the world. It is a way I have of driving "
        "off the spleen and regulating the circulation. Whenever I find myself growing grim about "
        "the mouth; whenever it is a damp, drizzly November in my soul; whenever I find myself "
        "involuntarily pausing before coffin warehouses, and bringing up the rear of every "
        "funeral I meet; and especially whenever my hypos get such an upper hand of me, that it "
        "requires a strong moral principle to prevent me from deliberately stepping into the "
        "street, and methodically knocking people's hats off\u2014then, I account it high time "
        "to get to sea as soon as I can."
    ),
    (
        "Structured generation constrains a language model so that every sampled token keeps the "
        "output inside a formal language: a JSON schema, a regular expression, or a context-free "
        "grammar. At each step the engine computes the set of vocabulary entries whose bytes can "
        "extend the current prefix, masks the logits of all the others, and samples from what is "
        "left.\n\nThe hard part is speed. A vocabulary of 128,256 entries cannot be walked "
        "byte by byte at every step, so engines precompute which tokens are always, never, or "
        "only sometimes allowed in each grammar state, and check only the last group at run time."
        "\n\nA second subtlety is tokenization itself: the same string can be spelled by many "
        "token sequences, and the model was trained on exactly one of them."
    ),
    (
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife. However little known the feelings or views of such a "
        "man may be on his first entering a neighbourhood, this truth is so well fixed in the "
        "minds of the surrounding families, that he is considered the rightful property of some "
        "one or other of their daughters. \"My dear Mr. Bennet,\" said his lady to him one day, "
        "\"have you heard that Netherfield Park is let at last?\" Mr. Bennet replied that he had "
        "not. \"But it is,\" returned she; \"for Mrs. Long has just been here, and she told me all "
        "about it.\" Mr. Bennet made no answer. \"Do you not want to know who has taken it?\" cried "
        "his wife impatiently. \"YOU want to tell me, and I have no objection to hearing it.\""
    ),
]

CONTRACTIONS = [
    "it's", "IT'S", "It'S", "I'm", "I'M", "you're", "YOU'RE", "You'Re", "we've", "WE'VE",
    "they'll", "THEY'LL", "They'Ll", "he'd", "HE'D", "don't", "DON'T", "Don'T", "can't",
    "won't", "shouldn't've", "SHOULDN'T'VE", "y'all'd've", "'s", "'t", "'re", "'ve", "'m",
    "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'rE", "'Ve", "'lL",
    "the dog's bone", "the dogs' bones", "James's car", "'tis the season", "rock 'n' roll",
    "'quoted'", "''", "'''", "' s", "'x", "'sa", "'STOP'", "it\u2019s (curly apostrophe)",
    "I\u2019ve", "'\u017f (long s)", "'\u017ft", "O'Neill and D'Angelo", "'123", "l'homme d'affaires",
    "she'd've been there if it weren't for 'em",
    "I'M SURE YOU'LL SEE WHAT WE'VE DONE, DON'T YOU THINK IT'S GREAT? THEY'RE HERE; HE'D KNOW.",
]

CODE = [
    ("c_hello", "#include <stdio.h>\n\nint main(void) {\n    printf(\"Hello, %s!\\n\", \"world\");\n    return 0;\n}\n"),
    ("c_tabs", "static int\nsum(const int *a, size_t n)\n{\n\tint s = 0;\n\tfor (size_t i = 0; i < n; ++i)\n\t\ts += a[i];\n\treturn s;\n}\n"),
    ("c_crlf", "#define MAX(a, b) ((a) > (b) ? (a) : (b))\r\n\r\nint f(int x) {\r\n    return MAX(x, 0);\r\n}\r\n"),
    ("c_trailing_spaces", "int x = 1;   \nint y = 2;\t\n  \nint z = x+y;    \n"),
    ("c_operators", "a+=b; c-=d; e*=f; g/=h; i%=j; k<<=1; l>>=2; m&=n; o|=p; q^=r; s&&t||!u; v->w; x::y; z?:0;"),
    ("cpp_template", "template <typename T, std::size_t N>\nconstexpr auto make_array(T (&&a)[N]) -> std::array<std::remove_cv_t<T>, N> {\n  return [&]<std::size_t... I>(std::index_sequence<I...>) {\n    return std::array<std::remove_cv_t<T>, N>{{std::move(a[I])...}};\n  }(std::make_index_sequence<N>{});\n}\n"),
    ("python_def", "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nif __name__ == \"__main__\":\n    print([fib(i) for i in range(10)])\n"),
    ("python_class", "class Node:\n    __slots__ = (\"value\", \"children\")\n\n    def __init__(self, value, children=None):\n        self.value = value\n        self.children = children or []\n\n    def __repr__(self):\n        return f\"Node({self.value!r}, {len(self.children)} children)\"\n"),
    ("python_deep_indent", "if a:\n    if b:\n        if c:\n            if d:\n                if e:\n                    if f:\n                        return 'deep'\n"),
    ("python_tabs_mixed", "def f():\n\tif x:\n\t    return 1\n    \telse:\n\t\treturn 2\n"),
    ("python_decorators", "@functools.lru_cache(maxsize=None)\n@staticmethod\ndef g(*args, **kwargs):  # noqa: E501\n    return sum(args) ** 2 // 3 % 7\n"),
    ("js_arrow", "const add = (a, b) => a + b;\nexport default async function main() {\n  const res = await fetch(`https://example.com/api?q=${encodeURIComponent(q)}`);\n  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n  return res.json();\n}\n"),
    ("js_object", "module.exports = {\n  entry: './src/index.js',\n  output: { path: __dirname + '/dist', filename: '[name].[contenthash].js' },\n  resolve: { extensions: ['.ts', '.tsx', '.js'] },\n};\n"),
    ("js_regex", "const re = /^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@(?:[a-z0-9-]+\\.)+[a-z]{2,}$/i;\nconsole.log(re.test('a@b.co') === true);\n"),
    ("rust_fn", "fn main() {\n    let v: Vec<u32> = (1..=10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n    match v.get(3) {\n        Some(&n) if n > 5 => println!(\"big {n}\"),\n        Some(_) | None => {}\n    }\n}\n"),
    ("rust_impl", "impl<'a, T: ?Sized + fmt::Debug> fmt::Display for Wrapper<'a, T> {\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {\n        write!(f, \"[{:#?}]\", self.0)\n    }\n}\n"),
    ("rust_crlf_tabs", "pub struct Point {\r\n\tpub x: f64,\r\n\tpub y: f64,\r\n}\r\n"),
    ("go_snippet", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tch := make(chan int, 3)\n\tgo func() { ch <- 42 }()\n\tfmt.Println(<-ch)\n}\n"),
    ("shell", "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}' >> counts.log 2>&1\ndone\n[[ -n \"${HOME:-}\" ]] && echo ok || echo 'no home'\n"),
    ("sql", "SELECT u.id, COUNT(*) AS n\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\nWHERE u.created_at >= '2024-01-01'\nGROUP BY u.id\nHAVING COUNT(*) > 10\nORDER BY n DESC;\n"),
    ("diff", "--- a/file.c\n+++ b/file.c\n@@ -1,3 +1,4 @@\n int a;\n-int b;\n+int b = 0;\n+int c;\n"),
    ("makefile", "CFLAGS ?= -O2 -Wall\n\nall: app\n\napp: main.o util.o\n\t$(CC) $(CFLAGS) -o $@ $^\n\n%.o: %.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n"),
    ("yaml", "name: ci\non:\n  push:\n    branches: [main]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n"),
    ("latex", "\\begin{equation}\n  \\int_{0}^{\\infty} e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}\n"),
    ("brainfuck", "++++++++[>++++[>++>+++>+++>+<<<<-]>+>+>->>+[<]<-]>>.>---.+++++++..+++.>>.<-.<.+++.------.--------.>>+.>++."),
    ("minified_js", "!function(e,t){\"object\"==typeof exports&&\"undefined\"!=typeof module?module.exports=t():\"function\"==typeof define&&define.amd?define(t):(e=e||self).X=t()}(this,function(){\"use strict\";return{}});"),
    ("hex_dump", "00000000: 7f45 4c46 0201 0100 0000 0000 0000 0000  .ELF............\n00000010: 0300 3e00 0100 0000 1010 0000 0000 0000  ..>.............\n"),
    ("long_line_code", "x = [" + ", ".join(str(i * 37 % 1000) for i in range(120)) + "]\n"),
]

JSON_DOCS = []


def _add_json_docs():
    obj = {
        "name": "sieve",
        "version": "0.1.0",
        "tags": ["grammar", "json", "regex"],
        "nested": {"a": {"b": {"c": [1, 2.5, -3e10, True, False, None]}}},
        "escapes": "quote \" backslash \\ slash / tab \t newline \n cr \r",
        "unicode": "caf\u00e9 \u65e5\u672c \U0001F600",
        "empty": {},
        "empty_list": [],
    }
    JSON_DOCS.append(("compact", json.dumps(obj, separators=(",", ":"))))
    JSON_DOCS.append(("compact_spaced", json.dumps(obj)))
    JSON_DOCS.append(("pretty2", json.dumps(obj, indent=2)))
    JSON_DOCS.append(("pretty4", json.dumps(obj, indent=4)))
    JSON_DOCS.append(("pretty_tab", json.dumps(obj, indent="\t")))
    JSON_DOCS.append(("ascii_escaped", json.dumps(obj, ensure_ascii=True, separators=(",", ":"))))
    JSON_DOCS.append(("unicode_raw", json.dumps(obj, ensure_ascii=False, indent=2)))
    JSON_DOCS.append(("unicode_escapes", '{"e":"\\u00e9","smile":"\\ud83d\\ude00","nul":"\\u0000","bs":"\\\\u0041"}'))
    JSON_DOCS.append(("tool_call", '{"name": "get_weather", "arguments": {"location": "San Francisco, CA", "unit": "celsius"}}'))
    JSON_DOCS.append(("array_numbers", json.dumps([0, -0.0, 1e-7, 123456789012345678, 3.141592653589793, -42])))
    deep = 0
    for _ in range(24):
        deep = [deep]
    JSON_DOCS.append(("deep_array", json.dumps(deep)))
    d = "x"
    for i in range(12):
        d = {"k%d" % i: d}
    JSON_DOCS.append(("deep_object_pretty", json.dumps(d, indent=2)))
    JSON_DOCS.append(("crlf_pretty", json.dumps({"a": [1, 2], "b": {"c": "d"}}, indent=2).replace("\n", "\r\n")))
    JSON_DOCS.append(("schema", json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"id": {"type": "integer", "minimum": 0},
                       "email": {"type": "string", "format": "email"},
                       "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8}},
        "required": ["id", "email"],
        "additionalProperties": False}, indent=2)))
    JSON_DOCS.append(("string_with_quotes", '"He said \\"hi\\" and left"'))
    JSON_DOCS.append(("keys_only_whitespace", '{ "a" :1 , "b":[ ] ,"c" : { } }'))


_add_json_docs()

WHITESPACE = [
    ("one_space", " "),
    ("two_spaces", "  "),
    ("three_spaces", "   "),
    ("spaces_16", " " * 16),
    ("spaces_100", " " * 100),
    ("spaces_257", " " * 257),
    ("tab", "\t"),
    ("tabs_8", "\t" * 8),
    ("newline", "\n"),
    ("newlines_3", "\n\n\n"),
    ("newlines_20", "\n" * 20),
    ("cr", "\r"),
    ("crlf", "\r\n"),
    ("crlf_x3", "\r\n\r\n\r\n"),
    ("lfcr", "\n\r"),
    ("space_nl_space", " \n "),
    ("spaces_before_nl", "word   \nnext"),
    ("spaces_before_nl_x2", "a  \n  \n  b"),
    ("tab_nl_mix", "\t\n\t \n \t\n"),
    ("mixed_run", " \t \n\t\t\n   \r\n \t"),
    ("trailing_ws", "text with trailing whitespace \t \n"),
    ("leading_ws", "\n\n  \tindented text"),
    ("ws_between_words", "a     b\t\tc\n\nd \t \n e"),
    ("only_ws_long", " \t\n" * 40),
    ("vt_ff", "a\x0bb\x0cc"),
    ("nbsp", "a\u00a0b\u00a0\u00a0c"),
    ("ideographic_space", "\u65e5\u3000\u672c\u3000\u3000"),
    ("unicode_spaces", "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"),
    ("nel", "a\u0085b"),
    ("line_sep", "line\u2028separator\u2029paragraph"),
    ("ogham_space", "a\u1680b"),
    ("narrow_nbsp", "10\u202f000 and 5\u205fx"),
    ("space_then_letter_after_many", "          x"),
    ("nl_then_spaces_then_word", "\n        return"),
    ("spaces_digits", "   123   456   "),
]

DIGITS = [
    ("single_0", "0"),
    ("long_13", "1234567890123"),
    ("long_40", "1234567890123456789012345678901234567890"),
    ("sizes_1_7", "1 12 123 1234 12345 123456 1234567"),
    ("decimal", "3.14159265358979323846"),
    ("negative_decimal", "-0.000123"),
    ("exp", "6.022e23 1E-9 1e+100"),
    ("thousands", "1,234,567.89 and 1.234.567,89 and 1 234 567"),
    ("adjacent_letters", "abc123def"),
    ("adjacent_letters2", "x1y22z333w4444v55555"),
    ("version", "v1.2.3-rc.4+build.567"),
    ("phone_us", "+1 (555) 123-4567"),
    ("phone_intl", "+44 20 7946 0958, +81-3-1234-5678, 0049 (0)30 123456"),
    ("date_time", "2024-02-29T23:59:59.999Z"),
    ("ip", "192.168.0.1:8080 and ::1 and fe80::1ff:fe23:4567:890a"),
    ("hex_number", "0xDEADBEEF 0x7fffffff 0b1010_1010 0o755"),
    ("money", "$1,000,000.00 \u20ac99.99 \u00a35 \u00a51000"),
    ("percent", "99.9% 100% 0.01%"),
    ("ordinal", "1st 2nd 3rd 4th 21st 101st"),
    ("arabic_indic_digits", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"),
    ("devanagari_digits", "\u0967\u0968\u0969\u096a\u096b"),
    ("fullwidth_digits", "\uff11\uff12\uff13\uff14\uff15\uff16"),
    ("superscripts", "x\u00b2 + y\u00b3 = z\u00b9 \u00bd \u00bc \u2153"),
    ("roman_numerals", "\u216b \u2160\u2161\u2162 \u2170\u2171"),
    ("circled", "\u2460\u2461\u2462 \u24f5"),
    ("digits_in_cjk", "\u7b2c1234\u6761\u30682\u756a"),
    ("math_digits", "\U0001D7CE\U0001D7CF\U0001D7D0"),
    ("long_zeroes", "0" * 64),
    ("digits_spaces", "1 2 3 4 5 6 7 8 9 0"),
]

CJK = [
    ("zh_simple", "\u4f60\u597d\uff0c\u4e16\u754c\uff01"),
    ("zh_sentence", "\u673a\u5668\u5b66\u4e60\u662f\u4eba\u5de5\u667a\u80fd\u7684\u4e00\u4e2a\u5206\u652f\uff0c\u5b83\u4f7f\u8ba1\u7b97\u673a\u80fd\u591f\u4ece\u6570\u636e\u4e2d\u5b66\u4e60\u3002"),
    ("zh_traditional", "\u7e41\u9ad4\u4e2d\u6587\u8207\u7c21\u9ad4\u4e2d\u6587\u4e0d\u540c\u3002\u81fa\u7063\u3001\u9999\u6e2f\u3001\u6fb3\u9580\u3002"),
    ("zh_mixed_ascii", "\u6211\u5728\u7528Python 3.12\u5199\u4ee3\u7801\uff0c\u7248\u672c\u53f7\u662fv2.0\u3002GPU\u662fH100\u3002"),
    ("zh_long", "\u5728\u5f88\u4e45\u5f88\u4e45\u4ee5\u524d\uff0c\u6709\u4e00\u5ea7\u5c71\uff0c\u5c71\u91cc\u6709\u4e00\u5ea7\u5e99\uff0c\u5e99\u91cc\u6709\u4e00\u4e2a\u8001\u548c\u5c1a\u5728\u7ed9\u5c0f\u548c\u5c1a\u8bb2\u6545\u4e8b\u3002\u8bb2\u7684\u662f\u4ec0\u4e48\u5462\uff1f" * 4),
    ("ja_hiragana", "\u3053\u3093\u306b\u3061\u306f\u3001\u304a\u5143\u6c17\u3067\u3059\u304b\uff1f"),
    ("ja_katakana", "\u30b3\u30f3\u30d4\u30e5\u30fc\u30bf\u30fc\u30fb\u30d7\u30ed\u30b0\u30e9\u30df\u30f3\u30b0"),
    ("ja_mixed", "\u6771\u4eac\u90fd\u6e0b\u8c37\u533a\u3067ChatGPT\u3092\u4f7f\u3063\u3066\u30c6\u30b9\u30c8\u3057\u307e\u3057\u305f\u3002\u4eca\u65e5\u306f2024\u5e741\u67081\u65e5\u3067\u3059\u3002"),
    ("ja_halfwidth_katakana", "\uff76\uff80\uff76\uff85 \uff8a\uff9d\uff76\uff78"),
    ("ja_prolonged_small", "\u30c1\u30a7\u30c3\u30af\u30fc\u30fc\u30fc \u3041\u3043\u3045\u3047\u3049\u3063"),
    ("ko_simple", "\uc548\ub155\ud558\uc138\uc694, \uc138\uacc4!"),
    ("ko_sentence", "\ud55c\uad6d\uc5b4\ub294 \ud55c\uae00\ub85c \uc4f0\uba70, \uc74c\uc808 \ub2e8\uc704\ub85c \ubaa8\uc544\uc11c \uc801\uc2b5\ub2c8\ub2e4. API\ub97c \ud638\ucd9c\ud588\uc2b5\ub2c8\ub2e4."),
    ("ko_jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af"),
    ("cjk_ext_a", "\u3400\u3401\u4db5"),
    ("cjk_range_edges", "\u4e00\u9fa5\u9fa6\u9fff\u3040\u309f\u30a0\u30ff\u3100"),
    ("cjk_compat", "\uf900\uf901\ufa0e"),
    ("cjk_ext_b", "\U00020000\U00020001\U0002A6D6\U0002B740"),
    ("cjk_radicals_punct", "\u2e80\u2f00 \u3001\u3002\u300c\u300d\u300e\u300f\u3010\u3011"),
    ("fullwidth_ascii", "\uff21\uff22\uff23\uff41\uff42\uff43\uff01\uff1f\uff08\uff09"),
    ("cjk_no_spaces_punct", "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u516c\u56ed\u5427\uff01\u597d\u554a\uff0c\u8d70\u5427\u3002"),
]

EMOJI = [
    ("single", "\U0001F600"),
    ("several", "\U0001F600\U0001F601\U0001F602\U0001F923\U0001F60D"),
    ("in_text", "I love pizza \U0001F355 and tacos \U0001F32E!"),
    ("zwj_family", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"),
    ("zwj_professions", "\U0001F469\u200D\U0001F4BB \U0001F9D1\u200D\U0001F680 \U0001F3F3\uFE0F\u200D\U0001F308"),
    ("flags", "\U0001F1FA\U0001F1F8\U0001F1EF\U0001F1F5\U0001F1E9\U0001F1EA\U0001F1EB\U0001F1F7"),
    ("subdivision_flag", "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"),
    ("skin_tones", "\U0001F44B\U0001F3FB\U0001F44B\U0001F3FC\U0001F44B\U0001F3FD\U0001F44B\U0001F3FE\U0001F44B\U0001F3FF"),
    ("skin_tone_zwj", "\U0001F469\U0001F3FD\u200D\U0001F52C"),
    ("variation_selectors", "\u2764\uFE0F \u2764\uFE0E \u263A\uFE0F"),
    ("keycaps", "1\uFE0F\u20E3 #\uFE0F\u20E3 *\uFE0F\u20E3"),
    ("repeated", "\U0001F525" * 12),
    ("emoji_words", "ok\U0001F44Dok \U0001F44Dok ok\U0001F44D"),
    ("old_symbols", "\u2600\u2601\u2602\u2603\u2605\u2606\u260E\u2614\u2615"),
]

LATIN = [
    ("fr_nfc", "Le caf\u00e9 \u00e9tait d\u00e9j\u00e0 ferm\u00e9 \u00e0 No\u00ebl; \u00e7a m'a \u00e9nerv\u00e9."),
    ("de_nfc", "Gr\u00fc\u00dfe aus M\u00fcnchen! Die Stra\u00dfe ist sch\u00f6n, \u00c4pfel und \u00d6l."),
    ("es_nfc", "\u00bfD\u00f3nde est\u00e1 el ni\u00f1o? \u00a1Ma\u00f1ana ser\u00e1 otro d\u00eda!"),
    ("pt_nfc", "A informa\u00e7\u00e3o n\u00e3o est\u00e1 dispon\u00edvel em portugu\u00eas."),
    ("cs_nfc", "P\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148 \u00fap\u011bl \u010f\u00e1belsk\u00e9 \u00f3dy."),
    ("pl_nfc", "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144."),
    ("ro_nfc", "\u0218tiin\u021b\u0103 \u0219i tehnic\u0103 \u00een Rom\u00e2nia."),
    ("vi_nfc", "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u: \u01b0\u1edd\u1ea1."),
    ("nordic", "\u00c5ngstr\u00f6m, \u00e6bler, \u00f8l, \u00de\u00f3r, \u00f0"),
    ("ligatures", "\ufb01nance \ufb02ow \u0153uvre \u00c6sir \u0132sland"),
    ("e_acute_nfd", "e\u0301"),
    ("e_acute_nfc", "\u00e9"),
    ("cafe_nfd", "cafe\u0301"),
    ("cafe_nfc", "caf\u00e9"),
    ("stacked_marks", "a\u0301\u0302\u0303\u0304\u0308 q\u0307\u0323"),
    ("marks_out_of_order", "a\u0323\u0301 vs a\u0301\u0323"),
    ("angstrom_sign", "\u212b \u00c5 A\u030a"),
    ("kelvin_ohm", "\u212a \u2126 K \u03a9"),
    ("zalgo", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333!"),
    ("dotless_i", "\u0131stanbul \u0130stanbul I\u0307"),
    ("long_s_eszett", "\u017fo \u00df \u1e9e SS"),
]

_LATIN_NFC_SOURCES = ["fr_nfc", "de_nfc", "es_nfc", "pt_nfc", "cs_nfc", "pl_nfc", "ro_nfc", "vi_nfc"]
for _name, _text in list(LATIN):
    if _name in _LATIN_NFC_SOURCES:
        _nfd = nfd_latin(_text)
        assert _nfd != _text, _name
        LATIN.append((_name.replace("_nfc", "_nfd"), _nfd))

SCRIPTS = [
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0647\u0630\u0627 \u0646\u0635 \u0639\u0631\u0628\u064a."),
    ("arabic_harakat", "\u0628\u0650\u0633\u0652\u0645\u0650 \u0627\u0644\u0644\u0651\u064e\u0647\u0650 \u0627\u0644\u0631\u0651\u064e\u062d\u0652\u0645\u064e\u0670\u0646\u0650"),
    ("arabic_mixed_ltr", "\u0627\u0644\u0625\u0635\u062f\u0627\u0631 3.12 \u0645\u0646 Python \u0645\u062a\u0627\u062d \u0627\u0644\u0622\u0646."),
    ("persian_zwnj", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u06a9\u062a\u0627\u0628\u200c\u0647\u0627"),
    ("hebrew", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d6\u05d4\u05d5 \u05d8\u05e7\u05e1\u05d8 \u05d1\u05e2\u05d1\u05e8\u05d9\u05ea."),
    ("hebrew_niqqud", "\u05d1\u05bc\u05b0\u05e8\u05b5\u05d0\u05e9\u05b4\u05c1\u05d9\u05ea \u05d1\u05bc\u05b8\u05e8\u05b8\u05d0"),
    ("bidi_controls", "abc \u202e\u05d0\u05d1\u05d2\u202c def \u200f\u200e \u2066x\u2069"),
    ("devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u092f\u0939 \u0939\u093f\u0902\u0926\u0940 \u092e\u0947\u0902 \u090f\u0915 \u0935\u093e\u0915\u094d\u092f \u0939\u0948\u0964"),
    ("devanagari_conjuncts", "\u0915\u094d\u0937 \u0924\u094d\u0930 \u091c\u094d\u091e \u0936\u094d\u0930\u0940 \u0915\u094d\u200d\u0937"),
    ("bengali", "\u0986\u09ae\u09bf \u09ac\u09be\u0982\u09b2\u09be\u09af\u09bc \u0997\u09be\u09a8 \u0997\u09be\u0987\u0964"),
    ("tamil", "\u0bb5\u0ba3\u0b95\u0bcd\u0b95\u0bae\u0bcd \u0b89\u0bb2\u0b95\u0bae\u0bcd"),
    ("thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e01\u0e32\u0e23\u0e40\u0e27\u0e49\u0e19\u0e27\u0e23\u0e23\u0e04\u0e23\u0e30\u0e2b\u0e27\u0e48\u0e32\u0e07\u0e04\u0e33"),
    ("lao_khmer_myanmar", "\u0eaa\u0eb0\u0e9a\u0eb2\u0e8d\u0e94\u0eb5 \u179f\u17bd\u179f\u17d2\u178f\u17b8 \u1019\u1002\u1004\u103a\u101c\u102c\u1015\u102b"),
    ("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a."),
    ("cyrillic_upper", "\u041c\u041e\u0421\u041a\u0412\u0410 \u0418 \u0421\u0410\u041d\u041a\u0422-\u041f\u0415\u0422\u0415\u0420\u0411\u0423\u0420\u0413"),
    ("ukrainian", "\u0407\u0436\u0430\u043a \u0491\u0430\u043d\u043e\u043a \u0454 \u0457\u0457"),
    ("cyrillic_latin_homoglyphs", "\u0430pple \u0440\u0430\u0443\u0440\u0430l \u0441ompany"),
    ("greek", "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5! \u0391\u03b2\u03b3 \u03b4\u03b5\u03b6 \u03b7\u03b8\u03b9 \u03c3\u03c2\u03a3"),
    ("greek_polytonic", "\u1f10\u03bd \u1f00\u03c1\u03c7\u1fc7 \u1f26\u03bd \u1f41 \u03bb\u03cc\u03b3\u03bf\u03c2"),
    ("greek_tonos_nfd", "\u03b1\u0301\u03b5\u0301\u03b7\u0301 vs \u03ac\u03ad\u03ae"),
    ("armenian_georgian", "\u0532\u0561\u0580\u0587 \u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0"),
    ("ethiopic", "\u1230\u120b\u121d \u12a0\u1208\u121d"),
    ("cherokee_runic", "\u13a0\u13a1\u13a2 \u16a0\u16a2\u16a6"),
    ("mongolian", "\u182e\u1823\u1829\u182d\u1823\u182f"),
    ("tibetan", "\u0f56\u0f7c\u0f51\u0f0b\u0f61\u0f72\u0f42"),
]

SYMBOLS = [
    ("math_ops", "\u2200x\u2208\u211d, \u2203y: x\u00b2 \u2264 y \u2227 y \u2260 \u221e \u21d2 \u2211\u1d62 a\u1d62 \u2248 \u222b f(x) dx"),
    ("math_alnum", "\U0001D400\U0001D401\U0001D402 \U0001D44E\U0001D44F \U0001D538\U0001D539 \U0001D552"),
    ("arrows_boxes", "\u2190\u2191\u2192\u2193\u2194 \u2500\u2502\u250c\u2510\u2514\u2518 \u2588\u2591\u2592\u2593"),
    ("currency", "$ \u20ac \u00a3 \u00a5 \u20b9 \u20bd \u20a9 \u20bf \u00a2"),
    ("punct_runs", "!!!??? ... --- ``` *** ___ ~~~ ### === +++ <<< >>>"),
    ("exclaim_question", "!!!???"),
    ("ellipsis", "..."),
    ("long_dots", "." * 50),
    ("dashes", "---"),
    ("long_dashes", "-" * 80),
    ("backticks", "```"),
    ("equals_line", "=" * 72),
    ("unicode_punct", "\u2018single\u2019 \u201cdouble\u201d \u2013 \u2014 \u2026 \u00ab\u00bb \u2039\u203a \u00a7\u00b6 \u2020\u2021 \u2022"),
    ("brackets", "()[]{}<>\u27e8\u27e9\u300a\u300b"),
    ("punct_then_newlines", "end.\n\n\nnext!\r\n\r\n?"),
    ("punct_letters", "#include !important @decorator $var %fmt &ref *ptr -flag .method /path :key ;x <tag =val ?q [idx \\cmd ^up _priv `tick {obj |pipe }x ~tilde"),
    ("space_punct", " ! ? . , ; : ( ) [ ] { }"),
    ("symbols_letters", "\u00a9 2024 \u00ae \u2122 \u2103 \u2116 \u2117"),
    ("misc_symbols", "\u2665\u2666\u2663\u2660 \u265a\u265b\u265c \u2693\u26a1 \u270c \u2713\u2717"),
    ("braille", "\u2801\u2803\u2809\u2819"),
    ("music", "\U0001D11E \u266a\u266b\u266c"),
]

WEB = [
    ("url", "https://www.example.com/path/to/page?query=value&other=123#section"),
    ("url_in_text", "See https://en.wikipedia.org/wiki/Byte_pair_encoding for details."),
    ("url_encoded", "https://example.org/search?q=caf%C3%A9+au+lait&lang=fr%2Dca"),
    ("url_idn", "http://\u4f8b\u3048.\u30c6\u30b9\u30c8/\u30d1\u30b9 and http://xn--r8jz45g.xn--zckzah/"),
    ("email", "john.doe+tag@example.co.uk, mailto:support@sieve.dev"),
    ("markdown", "# Title\n\n## Section 1\n\n- item **bold** and *italic* and `code`\n- [link](https://example.com)\n\n> quote\n\n1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
    ("markdown_code_fence", "Here is code:\n\n```python\nprint(\"hi\")\n```\n\nAnd inline `x = 1`.\n"),
    ("html", "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Test &amp; more</title></head>\n<body>\n  <div class=\"a b\" id='x'>Hello&nbsp;<b>world</b>&lt;3 &#x1F600;</div>\n  <script>if (a < b && c > d) {}</script>\n</body>\n</html>\n"),
    ("xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root xmlns:x=\"urn:x\"><x:item id=\"1\"/><![CDATA[<not a tag>]]><!-- comment --></root>"),
    ("csv", "id,name,score\n1,\"Smith, John\",98.5\n2,O'Brien,77\n3,\"quoted \"\"inner\"\"\",\n"),
    ("log_line", "2024-03-01 12:34:56,789 ERROR [worker-3] sieve.engine: mask failed (code=-6) after 12.5ms"),
    ("path_windows", "C:\\Users\\Alice\\Documents\\file (1).txt"),
    ("path_unix", "/usr/local/lib/python3.12/site-packages/tokenizers/__init__.py"),
    ("hashtags_mentions", "@user_123 #MachineLearning #AI #\u65e5\u672c #caf\u00e9"),
    ("base64", "SGVsbG8sIFdvcmxkIQ==/+aGVsbG8gd29ybGQ="),
    ("uuid_hash", "550e8400-e29b-41d4-a716-446655440000 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
]

SPECIAL_TOKENS = [
    # llama3
    ("llama3_bot", "<|begin_of_text|>"),
    ("llama3_eot", "<|eot_id|>"),
    ("llama3_eos", "<|end_of_text|>"),
    ("llama3_in_text", "Hello<|eot_id|>world"),
    ("llama3_spaced", " <|begin_of_text|> hi <|eot_id|> "),
    ("llama3_chat", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat's 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("llama3_reserved", "<|reserved_special_token_0|><|reserved_special_token_250|>"),
    ("llama3_adjacent", "<|eot_id|><|eot_id|><|end_of_text|>"),
    ("llama3_python_tag", "<|python_tag|>print(1)<|eom_id|>"),
    # qwen3
    ("qwen_chat_short", "<|im_start|>user\nhi<|im_end|>"),
    ("qwen_chat_full", "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nWrite a haiku.<|im_end|>\n<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nLeaves fall, quiet pond.<|im_end|>\n"),
    ("qwen_endoftext", "<|endoftext|>"),
    ("qwen_endoftext_in_text", "document one<|endoftext|>document two"),
    ("qwen_think", "<think>"),
    ("qwen_think_end", "</think>"),
    ("qwen_think_block", "<think>\n\n</think>\n\nAnswer: 42"),
    ("qwen_tool_call", "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"),
    ("qwen_fim", "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>"),
    ("qwen_vision", "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>describe"),
    # deepseek
    ("ds_bos", "<\uff5cbegin\u2581of\u2581sentence\uff5c>"),
    ("ds_eos", "<\uff5cend\u2581of\u2581sentence\uff5c>"),
    ("ds_chat", "<\uff5cbegin\u2581of\u2581sentence\uff5c>You are helpful.<\uff5cUser\uff5c>Hi there<\uff5cAssistant\uff5c><think>\nok\n</think>Hello!<\uff5cend\u2581of\u2581sentence\uff5c>"),
    ("ds_tools", "<\uff5ctool\u2581calls\u2581begin\uff5c><\uff5ctool\u2581call\u2581begin\uff5c>function<\uff5ctool\u2581sep\uff5c>get_weather\n```json\n{\"city\": \"Paris\"}\n```<\uff5ctool\u2581call\u2581end\uff5c><\uff5ctool\u2581calls\u2581end\uff5c>"),
    ("ds_fim", "<\uff5cfim\u2581begin\uff5c>int a<\uff5cfim\u2581hole\uff5c>;<\uff5cfim\u2581end\uff5c>"),
    ("ds_pad_placeholder", "<\uff5c\u2581pad\u2581\uff5c><\uff5cplace\u2581holder\u2581no\u25810\uff5c><\uff5cplace\u2581holder\u2581no\u2581799\uff5c>"),
    ("ds_eot_ascii", "x<|EOT|>y"),
    # all families together, and near misses
    ("all_mixed", "<|begin_of_text|>a<|im_start|>b<\uff5cbegin\u2581of\u2581sentence\uff5c>c<think>d</think>e<|endoftext|>f<|eot_id|>"),
    ("near_im_start_open", "<|im_start"),
    ("near_eot_space", "< |eot_id|>"),
    ("near_eot_upper", "<|EOT_ID|>"),
    ("near_missing_close", "<|eot_id|"),
    ("near_missing_open", "|eot_id|>"),
    ("near_ascii_pipes_ds", "<|begin\u2581of\u2581sentence|>"),
    ("near_fullwidth_no_underscore", "<\uff5cbegin_of_sentence\uff5c>"),
    ("near_think_space", "< think>"),
    ("near_think_upper", "<THINK></Think>"),
    ("near_doubled", "<<|eot_id|>>"),
    ("near_nested", "<|im_<|im_end|>start|>"),
    ("near_reserved_oob", "<|reserved_special_token_999|>"),
    ("near_endoftext_spaces", "< |endoftext| >"),
    ("tags_in_html", "<p>text</p><think>x</think><br/>"),
]

TRICKY = [
    ("backslash_xff", "\\xff"),
    ("backslash_escapes", "\\x00\\xfe\\u00e9\\U0001F600\\n\\t\\\\"),
    ("latin1_yuml_thorn", "\u00ff\u00fe"),
    ("bom_text", "\ufeffhello"),
    ("bom_alone", "\ufeff"),
    ("replacement_char", "\ufffd"),
    ("replacement_in_text", "broken \ufffd\ufffd bytes \ufffd here"),
    ("lone_combining_acute", "\u0301"),
    ("lone_combining_start", "\u0308abc"),
    ("combining_after_space", "a \u0301 b"),
    ("combining_after_digit", "1\u0301 2\u20e3"),
    ("zwsp", "zero\u200bwidth\u200bspace"),
    ("zwj_zwnj", "a\u200db\u200cc\u2060d"),
    ("zw_only", "\u200b\u200c\u200d\u2060\ufeff"),
    ("soft_hyphen", "hy\u00adphen\u00adation"),
    ("nbsp_only", "\u00a0"),
    ("ideographic_space_only", "\u3000"),
    ("u2028_only", "\u2028"),
    ("pua_bmp", "\ue000\ue001\uf8ff"),
    ("pua_in_text", "icon\ue0a0 branch \uf8ff apple"),
    ("pua_plane15_16", "\U000F0000\U000FFFFD\U00100000\U0010FFFD"),
    ("max_codepoint_region", "\U0010FFFD\U0010FFFE\U0010FFFF"),
    ("noncharacters", "\ufdd0\ufdef\ufffe\uffff\U0001FFFE"),
    ("astral_mix", "\U0001F600\U00020000\U0001D11E\U00010348\U0001F9FF"),
    ("gothic_linear_b", "\U00010330\U00010331\U00010348 \U00010000\U00010001"),
    ("tags_block", "\U000E0001\U000E0041\U000E0042\U000E007F"),
    ("variation_selector_supplement", "\u845b\U000E0100\u845b\U000E0101"),
    ("c0_controls", "a\x00b\x01c\x07d\x1be\x1ff"),
    ("nul_only", "\x00"),
    ("del_and_c1", "x\x7fy\x80z\x9f"),
    ("escape_sequence", "\x1b[31mred\x1b[0m normal"),
    ("mojibake", "Caf\u00c3\u00a9 \u00e2\u20ac\u2122 \u00c3\u00bc"),
    ("surrogate_lookalike_text", "\\ud800\\udc00"),
    ("high_latin1", "".join(chr(c) for c in range(0xA1, 0x100) if c != 0xAD)),
    ("ascii_printable", "".join(chr(c) for c in range(0x20, 0x7F))),
    ("ascii_controls_all", "".join(chr(c) for c in range(0x00, 0x20)) + "\x7f"),
    ("interlinear_annotation", "\ufff9a\ufffab\ufffb"),
    ("object_replacement", "\ufffc"),
    ("hangul_filler", "\u3164\u115f\u1160"),
    ("mongolian_vs", "\u180b\u180e"),
    ("combining_grapheme_joiner", "a\u034fb"),
    ("fullwidth_lt_gt", "\uff1c\uff5c\uff1e"),
    ("lower_one_eighth_block", "\u2581word \u2581\u2581"),
]

SINGLES = [
    ("empty", ""),
    ("space", " "),
    ("lower", "a"),
    ("upper", "Z"),
    ("digit", "7"),
    ("punct", "!"),
    ("quote", "\""),
    ("apostrophe", "'"),
    ("backslash", "\\"),
    ("newline", "\n"),
    ("latin1", "\u00e9"),
    ("latin_ext", "\u0142"),
    ("greek", "\u03bb"),
    ("cyrillic", "\u0436"),
    ("hebrew", "\u05d0"),
    ("arabic", "\u0639"),
    ("devanagari", "\u0915"),
    ("thai", "\u0e01"),
    ("han", "\u4e2d"),
    ("hiragana", "\u3042"),
    ("katakana", "\u30a2"),
    ("hangul", "\ud55c"),
    ("emoji", "\U0001F600"),
    ("cjk_ext_b", "\U00020000"),
    ("pua", "\ue000"),
    ("math_symbol", "\u2211"),
    ("currency", "\u20ac"),
    ("combining", "\u0300"),
    ("zwsp", "\u200b"),
    ("fullwidth_a", "\uff21"),
]


def multilingual_paragraph():
    return (
        "English: The weather is nice today.\n"
        "Fran\u00e7ais : Il fait beau aujourd'hui.\n"
        "Deutsch: Das Wetter ist heute sch\u00f6n.\n"
        "\u4e2d\u6587\uff1a\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\n"
        "\u65e5\u672c\u8a9e\uff1a\u4eca\u65e5\u306f\u3044\u3044\u5929\u6c17\u3067\u3059\u3002\n"
        "\ud55c\uad6d\uc5b4: \uc624\ub298 \ub0a0\uc528\uac00 \uc88b\uc2b5\ub2c8\ub2e4.\n"
        "\u0420\u0443\u0441\u0441\u043a\u0438\u0439: \u0421\u0435\u0433\u043e\u0434\u043d\u044f \u0445\u043e\u0440\u043e\u0448\u0430\u044f \u043f\u043e\u0433\u043e\u0434\u0430.\n"
        "\u0627\u0644\u0639\u0631\u0628\u064a\u0629: \u0627\u0644\u0637\u0642\u0633 \u062c\u0645\u064a\u0644 \u0627\u0644\u064a\u0648\u0645.\n"
        "\u05e2\u05d1\u05e8\u05d9\u05ea: \u05de\u05d6\u05d2 \u05d4\u05d0\u05d5\u05d5\u05d9\u05e8 \u05e0\u05e2\u05d9\u05dd \u05d4\u05d9\u05d5\u05dd.\n"
        "\u0939\u093f\u0928\u094d\u0926\u0940: \u0906\u091c \u092e\u094c\u0938\u092e \u0905\u091a\u094d\u091b\u093e \u0939\u0948\u0964\n"
        "\u0e44\u0e17\u0e22: \u0e27\u0e31\u0e19\u0e19\u0e35\u0e49\u0e2d\u0e32\u0e01\u0e32\u0e28\u0e14\u0e35\n"
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac: \u039f \u03ba\u03b1\u03b9\u03c1\u03cc\u03c2 \u03b5\u03af\u03bd\u03b1\u03b9 \u03c9\u03c1\u03b1\u03af\u03bf\u03c2 \u03c3\u03ae\u03bc\u03b5\u03c1\u03b1.\n"
        "Emoji: \u2600\ufe0f\U0001F324\ufe0f\U0001F308\n"
    )


# ----------------------------------------------------------------------------------------------
# Random parts

# Inclusive code point ranges for random strings: no surrogates (D800-DFFF) anywhere.
RANDOM_RANGES = [
    ("ascii", 0x20, 0x7E, 30),
    ("ctrl_ws", 0x09, 0x0D, 4),
    ("latin1", 0xA0, 0xFF, 6),
    ("latin_ext", 0x100, 0x24F, 4),
    ("ipa", 0x250, 0x2AF, 1),
    ("combining", 0x300, 0x36F, 3),
    ("greek", 0x370, 0x3FF, 2),
    ("cyrillic", 0x400, 0x4FF, 3),
    ("hebrew", 0x590, 0x5FF, 2),
    ("arabic", 0x600, 0x6FF, 2),
    ("devanagari", 0x900, 0x97F, 2),
    ("thai", 0xE00, 0xE7F, 2),
    ("hangul_jamo", 0x1100, 0x11FF, 1),
    ("general_punct", 0x2000, 0x206F, 3),
    ("symbols", 0x2100, 0x27BF, 3),
    ("cjk_punct_kana", 0x3000, 0x30FF, 4),
    ("cjk", 0x4E00, 0x9FFF, 6),
    ("hangul", 0xAC00, 0xD7A3, 3),
    ("pua", 0xE000, 0xF8FF, 1),
    ("fullwidth", 0xFF00, 0xFFEF, 2),
    ("specials", 0xFFF0, 0xFFFF, 1),
    ("smp_misc", 0x10000, 0x1D7FF, 2),
    ("emoji", 0x1F300, 0x1FAFF, 4),
    ("cjk_ext_b", 0x20000, 0x2A6DF, 2),
    ("tags_vs", 0xE0000, 0xE01EF, 1),
    ("plane15_16", 0xF0000, 0x10FFFF, 1),
]


def random_char(rng):
    total = sum(w for _, _, _, w in RANDOM_RANGES)
    pick = rng.randrange(total)
    for _, lo, hi, w in RANDOM_RANGES:
        if pick < w:
            c = rng.randint(lo, hi)
            assert not (0xD800 <= c <= 0xDFFF)
            return chr(c)
        pick -= w
    raise AssertionError


def build_entries():
    entries = []

    def add(category, label, text):
        entries.append({"name": "%s/%s" % (category, label), "text": text})

    for i, t in enumerate(PROSE_SHORT):
        add("prose", "short_%02d" % i, t)
    for i, t in enumerate(PROSE_LONG):
        add("prose", "long_%02d" % i, t)
    add("prose", "long_two_paragraphs", PROSE_LONG[0] + "\n\n" + PROSE_LONG[1])
    add("prose", "multilingual_paragraph", multilingual_paragraph())
    for i, t in enumerate(CONTRACTIONS):
        add("contraction", "%02d" % i, t)
    for label, t in CODE:
        add("code", label, t)
    for label, t in JSON_DOCS:
        add("json", label, t)
    for label, t in WHITESPACE:
        add("whitespace", label, t)
    for label, t in DIGITS:
        add("digits", label, t)
    for label, t in CJK:
        add("cjk", label, t)
    for label, t in EMOJI:
        add("emoji", label, t)
    for label, t in LATIN:
        add("latin", label, t)
    for label, t in SCRIPTS:
        add("script", label, t)
    for label, t in SYMBOLS:
        add("symbols", label, t)
    for label, t in WEB:
        add("web", label, t)
    for label, t in SPECIAL_TOKENS:
        add("special", label, t)
    for label, t in TRICKY:
        add("tricky", label, t)
    for label, t in SINGLES:
        add("single", label, t)

    rng = random.Random(SEED)

    # Random mixtures of fragments drawn from everything above (short texts only, so the
    # mixtures stay small), joined by random separators.
    pool = [e["text"] for e in entries if 0 < len(e["text"]) <= 200]
    separators = ["", " ", "  ", "\n", "\t", "\r\n", " \n", "\n\n", ", ", "\u00a0", "\u3000"]
    for i in range(40):
        n = rng.randint(2, 7)
        parts = [rng.choice(pool) for _ in range(n)]
        text = ""
        for j, p in enumerate(parts):
            if j:
                text += rng.choice(separators)
            # Sometimes take only a slice of a fragment (on code point boundaries).
            if len(p) > 4 and rng.random() < 0.4:
                a = rng.randrange(len(p) - 1)
                b = rng.randint(a + 1, len(p))
                p = p[a:b]
            text += p
        add("random_mix", "%02d" % i, text)

    # Random code point soup from all the ranges.
    for i in range(20):
        n = rng.randint(1, 60)
        add("random_chars", "%02d" % i, "".join(random_char(rng) for _ in range(n)))

    # Random "words": letters, digits, apostrophes, spaces, punctuation in ASCII, which stress
    # the pre-tokenizer regex's alternations.
    alphabet = "abcXYZ019'   \t\n.,!?-_\"()"
    for i in range(20):
        n = rng.randint(5, 80)
        add("random_ascii", "%02d" % i, "".join(rng.choice(alphabet) for _ in range(n)))

    # Random whitespace runs.
    ws = [" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\x0b", "\x0c"]
    for i in range(10):
        n = rng.randint(1, 30)
        body = "".join(rng.choice(ws) for _ in range(n))
        if i % 2:
            body = "x" + body + "y"
        add("random_ws", "%02d" % i, body)

    # Long inputs: long pre-tokens stress the BPE merge loop, long texts the splitter.
    add("long", "prose_x8", "\n\n".join(PROSE_LONG * 2))
    add("long", "code_concat", "\n".join(t for _, t in CODE))
    add("long", "word_lower_3000", "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3000)))
    add("long", "word_mixed_case_1000", "".join(rng.choice("aAbBeEsStT") for _ in range(1000)))
    add("long", "digits_1000", "".join(rng.choice("0123456789") for _ in range(1000)))
    add("long", "cjk_1000", "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(1000)))
    add("long", "hiragana_katakana_500", "".join(chr(rng.randint(0x3041, 0x30FA)) for _ in range(500)))
    add("long", "hangul_500", "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(500)))
    add("long", "punct_500", "".join(rng.choice("!?.,;:-_=+*#@$%^&()[]{}<>/\\|~`'\"") for _ in range(500)))
    add("long", "emoji_300", "".join(chr(rng.randint(0x1F300, 0x1F64F)) for _ in range(300)))
    add("long", "spaces_2000_then_word", " " * 2000 + "word")
    add("long", "newlines_spaces_1000", "".join(rng.choice(" \n") for _ in range(1000)))
    add("long", "json_array_500", json.dumps([{"id": i, "v": (i * 7919) % 1000} for i in range(500)]))

    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), "duplicate names"
    return entries


def dump_line(obj):
    s = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    # json.dumps escapes C0 controls but leaves these raw; escape them so that line-based
    # readers that also split on Unicode line breaks (Python's str.splitlines) and editors
    # see exactly one entry per line.
    for c in ("\u0085", "\u2028", "\u2029", "\ufeff"):
        s = s.replace(c, "\\u%04x" % ord(c))
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "tests", "data", "tokenizer_corpus.jsonl")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(default_out))
    args = ap.parse_args()

    entries = build_entries()
    lines = [dump_line(e) for e in entries]
    data = ("\n".join(lines) + "\n").encode("utf-8")  # raises on lone surrogates
    # Self-check: every line parses back to the same entry.
    for line, e in zip(data.decode("utf-8").split("\n"), entries):
        assert json.loads(line) == e
    with open(args.out, "wb") as f:
        f.write(data)
    cats = {}
    for e in entries:
        c = e["name"].split("/")[0]
        cats[c] = cats.get(c, 0) + 1
    print("wrote %s: %d entries, %d bytes" % (args.out, len(entries), len(data)))
    print("  " + ", ".join("%s=%d" % kv for kv in cats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
