"""Tests of the Python binding (stdlib unittest only). CTest runs them with SIEVE_LIBRARY set to the
freshly built libsieve and SIEVE_DATA_DIR to the tokenizers (python -m unittest discover)."""
import ctypes
import json
import os
import random
import threading
import unittest

import sieve

DATA = os.environ.get("SIEVE_DATA_DIR", os.path.expanduser("~/.cache/sieve"))

# Toy vocabulary: printable ASCII, a few merges, a stop token.
TOKENS = [bytes([c]) for c in range(0x20, 0x7F)] + [b'{"', b'":', b"true", b"</s>"]
STOP = len(TOKENS) - 1


def toy():
    return sieve.Vocabulary.from_tokens(TOKENS, special_ids=[STOP], stop_ids=[STOP],
                                        model_vocab_size=len(TOKENS) + 7)


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}},
          "required": ["ok"], "additionalProperties": False}


class AbiTest(unittest.TestCase):
    def test_option_structs_match_the_c_layout(self):
        # Each *_init writes sizeof(the C struct) into struct_size (and zeroes that many bytes):
        # a ctypes mirror shorter than the C struct would be written past its end.
        from sieve import _lib
        for cls, init in [(_lib.CompilerOptions, "sieve_compiler_options_init"),
                          (_lib.JsonSchemaOptions, "sieve_json_schema_options_init"),
                          (_lib.OpenAiOptions, "sieve_openai_options_init"),
                          (_lib.MatcherOptions, "sieve_matcher_options_init")]:
            o = cls()
            getattr(_lib.lib, init)(ctypes.byref(o))
            self.assertEqual(o.struct_size, ctypes.sizeof(cls), cls.__name__)


class VocabularyTest(unittest.TestCase):
    def test_tokens_and_padding(self):
        v = toy()
        self.assertEqual(len(v), len(TOKENS) + 7)
        self.assertEqual(v.token_bytes(TOKENS.index(b"true")), b"true")
        self.assertEqual(v.stop_tokens, [STOP])
        self.assertTrue(v.token_flags(STOP) & sieve.TOKEN_STOP)
        self.assertTrue(v.token_flags(len(TOKENS) + 1) & sieve.TOKEN_PADDING)
        with self.assertRaises(sieve.SieveError) as e:
            v.token_bytes(10**6)
        self.assertEqual(e.exception.status_name, "invalid argument")

    def test_real_tokenizer_round_trip(self):
        v = sieve.Vocabulary.from_file(os.path.join(DATA, "tokenizers", "llama3"))
        ids = v.encode("Hello, world!")
        self.assertEqual(ids, [9906, 11, 1917, 0])
        self.assertEqual(v.decode(ids), b"Hello, world!")


class MatcherTest(unittest.TestCase):
    def setUp(self):
        self.vocab = toy()
        self.compiler = sieve.Compiler(self.vocab)
        self.grammar = self.compiler.compile_json_schema(SCHEMA, whitespace="compact")

    def test_mask_accept_terminate(self):
        m = sieve.Matcher(self.grammar)
        mask = m.fill_next_token_bitmask()
        self.assertEqual(len(mask), 4 * self.vocab.bitmask_words)
        allowed = sieve.allowed_ids(mask, len(self.vocab))
        self.assertEqual(sorted(TOKENS[i] for i in allowed), [b"{", b'{"'])
        for t in [b'{"', b"ok", b'":', b"true", b"}"]:
            ids = [TOKENS.index(t)] if t in TOKENS else [TOKENS.index(bytes([c])) for c in t]
            for i in ids:
                self.assertTrue(sieve.bitmask_allows(m.fill_next_token_bitmask(), i), t)
                self.assertTrue(m.accept_token(i))
        self.assertTrue(m.can_terminate)
        self.assertFalse(m.accept_token(TOKENS.index(b"x")))
        self.assertTrue(m.accept_token(STOP))
        self.assertTrue(m.is_terminated)

    def test_token_references_match_the_token_id(self):
        # llama.cpp's syntax: </s> is the special token (by its text), (!</s>)* text without it.
        g = self.compiler.compile_ebnf('root ::= "a" (!</s>)* </s>\n')
        m = sieve.Matcher(g)
        allowed = sieve.allowed_ids(m.fill_next_token_bitmask(), len(self.vocab))
        self.assertEqual([TOKENS[i] for i in allowed], [b"a"])
        self.assertTrue(m.accept_token(TOKENS.index(b"a")))
        for c in b"</s>":  # the token's text spelled by other tokens is just text
            self.assertTrue(m.accept_token(TOKENS.index(bytes([c]))))
        self.assertFalse(m.can_terminate)
        self.assertTrue(sieve.bitmask_allows(m.fill_next_token_bitmask(), STOP))
        self.assertTrue(m.accept_token(STOP))
        self.assertTrue(m.can_terminate)
        with self.assertRaises(sieve.SieveError):
            self.compiler.compile_ebnf('root ::= <|nope|>\n')

    def test_limit_hit_tells_a_limit_from_a_rejection(self):
        g = self.compiler.compile_ebnf('root ::= "(" root ")" | ""\n')
        plain = sieve.Matcher(g)
        self.assertFalse(plain.accept_string("x"))
        self.assertFalse(plain.limit_hit)
        deep = sieve.Matcher(g)
        self.assertFalse(deep.accept_string("(" * 70000))  # past the 65,536-frame stack
        self.assertTrue(deep.limit_hit)

    def test_rollback_fork_jump_forward_into(self):
        m = sieve.Matcher(self.grammar)
        self.assertEqual(m.jump_forward(), b'{"')
        self.assertTrue(m.accept_string('{"ok":'))
        f = m.fork()
        self.assertTrue(f.accept_string("false}"))
        self.assertTrue(f.can_terminate)
        self.assertFalse(m.can_terminate)
        m.rollback(1)
        self.assertEqual(m.jump_forward(), b'{"')
        buf = bytearray(4 * self.vocab.bitmask_words)
        m.fill_next_token_bitmask_into(buf)
        self.assertEqual(bytes(buf), m.fill_next_token_bitmask())
        with self.assertRaises(ValueError):
            m.fill_next_token_bitmask_into(bytearray(2))

    def test_random_walk_always_yields_valid_json(self):
        rng = random.Random(3)
        for _ in range(20):
            m = sieve.Matcher(self.grammar)
            out = b""
            while not m.is_terminated:
                ids = sieve.allowed_ids(m.fill_next_token_bitmask(), len(self.vocab))
                self.assertTrue(ids)
                t = rng.choice(ids)
                self.assertTrue(m.accept_token(t))
                if t != STOP:
                    out += TOKENS[t]
            doc = json.loads(out)
            self.assertIsInstance(doc["ok"], bool)
            self.assertLessEqual(set(doc), {"ok", "n"})

    def test_batch_matches_single(self):
        ms = [sieve.Matcher(self.grammar) for _ in range(5)]
        for i, m in enumerate(ms):
            m.accept_string('{"ok":true'[: 2 * i])
        rows = sieve.fill_next_token_bitmask_batch(ms, num_threads=2)
        w = 4 * self.vocab.bitmask_words
        for i, m in enumerate(ms):
            self.assertEqual(rows[i * w:(i + 1) * w], m.fill_next_token_bitmask())

    def test_threads_share_a_grammar(self):
        expected = sieve.Matcher(self.grammar)
        seq = [TOKENS.index(b'{"'), TOKENS.index(b"o"), TOKENS.index(b"k"), TOKENS.index(b'":')]
        want = []
        for t in seq:
            want.append(expected.fill_next_token_bitmask())
            expected.accept_token(t)
        errors = []

        def run():
            m = sieve.Matcher(self.grammar)
            for t, w in zip(seq, want):
                if m.fill_next_token_bitmask() != w or not m.accept_token(t):
                    errors.append(t)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class CompilerTest(unittest.TestCase):
    def test_errors_carry_pointer_and_position(self):
        c = sieve.Compiler(toy())
        with self.assertRaises(sieve.SieveError) as e:
            c.compile_json_schema({"type": "object", "properties": {"a": {"type": "strin"}}})
        self.assertTrue(e.exception.json_pointer.startswith("/properties/a"), e.exception.json_pointer)
        with self.assertRaises(sieve.SieveError) as e:
            c.compile_ebnf('root ::= "a" b')
        self.assertEqual(e.exception.status_name, "parse error")
        self.assertEqual((e.exception.line, e.exception.column), (1, 14))

    def test_peer_layouts_dumps_separators_closed(self):
        # XGrammar's any_whitespace=False (json.dumps' layout) and strict_mode, as options.
        c = sieve.Compiler(sieve.Vocabulary.from_tokens([bytes([b]) for b in range(256)]))
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}

        def accepts(text, **opts):
            m = sieve.Matcher(c.compile_json_schema(schema, **opts))
            return m.accept_string(text) and m.can_terminate

        self.assertTrue(accepts('{"ok": true, "x": 1}', whitespace="dumps"))
        self.assertFalse(accepts('{"ok":true}', whitespace="dumps"))
        self.assertFalse(accepts('{"ok": true, "x": 1}', whitespace="dumps", closed_by_default=True))
        self.assertTrue(accepts('{"ok" :true}', whitespace="compact", separators=(",", " :")))
        self.assertTrue(accepts('{  "ok":true}', max_whitespace_run=2))
        self.assertFalse(accepts('{   "ok":true}', max_whitespace_run=2))

    def test_notes_and_ignore_unsupported(self):
        c = sieve.Compiler(toy())
        schema = {"type": "string", "pattern": "^(a+)\\1$"}  # a backreference
        with self.assertRaises(sieve.SieveError):
            c.compile_json_schema(schema)
        g = c.compile_json_schema(schema, ignore_unsupported=True)
        self.assertTrue(g.loosened)
        self.assertIn(("ignored", "/pattern", "pattern"),
                      [(n.kind, n.json_pointer, n.keyword) for n in g.notes])

    def test_serialize_round_trip_and_damage(self):
        v = toy()
        c = sieve.Compiler(v)
        g = c.compile_regex("[a-c]{2,4}")
        image = g.serialize()
        h = sieve.Grammar.deserialize(image, v)
        m1, m2 = sieve.Matcher(g), sieve.Matcher(h)
        self.assertEqual(m1.fill_next_token_bitmask(), m2.fill_next_token_bitmask())
        self.assertTrue(m2.accept_string("abc") and m2.can_terminate)
        with self.assertRaises(sieve.SieveError) as e:
            sieve.Grammar.deserialize(image[:-3], v)
        self.assertEqual(e.exception.status_name, "format error")

    def test_openai_request_with_tools(self):
        v = sieve.Vocabulary.from_file(os.path.join(DATA, "tokenizers", "qwen3"))
        c = sieve.Compiler(v)
        req = {"tools": [{"type": "function", "function": {
            "name": "add", "parameters": {"type": "object", "properties": {
                "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}],
            "tool_choice": "required"}
        g = c.compile_openai(req, tool_format="hermes", whitespace="compact")
        m = sieve.Matcher(g)
        call = '<tool_call>\n{"name": "add", "arguments": {"a":1,"b":2}}\n</tool_call>'
        for t in v.encode(call):
            self.assertTrue(sieve.bitmask_allows(m.fill_next_token_bitmask(), t))
            self.assertTrue(m.accept_token(t))
        self.assertTrue(m.can_terminate)
        m.reset()
        self.assertFalse(m.accept_string("Sure"))


class TorchHelperTest(unittest.TestCase):
    def test_torch_helper_is_guarded(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            with self.assertRaises(ImportError) as e:
                import sieve.torch_utils  # noqa: F401
            self.assertIn("needs torch", str(e.exception))
            return
        from sieve.torch_utils import apply_bitmask_
        v = toy()
        m = sieve.Matcher(sieve.Compiler(v).compile_json_schema(SCHEMA, whitespace="compact"))
        logits = torch.zeros(len(v) + 5)
        apply_bitmask_(logits, m.fill_next_token_bitmask())
        self.assertEqual(sorted(torch.nonzero(logits == 0).flatten().tolist()),
                         sorted([TOKENS.index(b"{"), TOKENS.index(b'{"')]))


if __name__ == "__main__":
    unittest.main()
