"""sieve: structured generation for language models (Python binding over libsieve's C API).

    import sieve
    vocab = sieve.Vocabulary.from_file("path/to/tokenizer.json")
    compiler = sieve.Compiler(vocab)
    grammar = compiler.compile_json_schema({"type": "object", ...})
    matcher = sieve.Matcher(grammar)
    mask = matcher.fill_next_token_bitmask()      # bytes: uint32 words, bit id & 31 of word id >> 5
    matcher.accept_token(token_id)

Bitmasks are plain `bytes` (little-endian uint32 words, 1 = allowed), so no numpy is needed;
sieve.torch_utils turns them into tensors when torch is installed. Errors raise SieveError with the
C API's status, message, byte offset, line:column and JSON pointer. Vocabularies, compilers and
grammars are thread-safe; a Matcher is used by one thread at a time.
"""
import ctypes
import json as _json
from collections import namedtuple

from . import _lib
from ._lib import lib as _c

__all__ = ["SieveError", "Vocabulary", "Compiler", "Grammar", "Matcher", "SchemaNote",
           "bitmask_allows", "allowed_ids", "fill_next_token_bitmask_batch", "version"]

OK, REJECTED = 0, 1
_WHITESPACE = {"any": 0, "compact": 1, "indent": 2}
_ORDER = {"default": 0, "schema": 1, "any": 2}
_NOTE_KINDS = {0: "ignored", 1: "loosened", 2: "narrowed", 3: "info"}
TOKEN_SPECIAL, TOKEN_ADDED, TOKEN_STOP, TOKEN_PADDING = 0x01, 0x02, 0x04, 0x08

SchemaNote = namedtuple("SchemaNote", "kind json_pointer keyword message")


class SieveError(Exception):
    """A failed sieve call: status (negative code), status_name, message and where."""

    def __init__(self, status, status_name, message, offset, line, column, json_pointer):
        where = []
        if json_pointer:
            where.append("at %s" % json_pointer)
        if line:
            where.append("at %d:%d" % (line, column))
        elif offset >= 0:
            where.append("at byte %d" % offset)
        super().__init__("%s%s" % (message, (" (" + ", ".join(where) + ")") if where else ""))
        self.status, self.status_name, self.message = status, status_name, message
        self.offset, self.line, self.column, self.json_pointer = offset, line, column, json_pointer


def _check(status):
    if status < 0:
        e = _c.sieve_last_error().contents
        raise SieveError(status, _c.sieve_status_name(status).decode(),
                         (e.message or b"").decode("utf-8", "replace"), e.offset, e.line, e.column,
                         (e.json_pointer or b"").decode("utf-8", "replace"))
    return status


def _bytes(text):
    if isinstance(text, (dict, list)):
        text = _json.dumps(text)
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def version():
    return _c.sieve_version().decode()


class _Handle:
    _free = None

    def __init__(self, handle):
        self._h = ctypes.c_void_p(handle)

    def close(self):
        if self._h:
            type(self)._free(self._h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Vocabulary(_Handle):
    """A model's tokens as bytes with flags (special, stop, padding). Immutable, thread-safe."""
    _free = _c.sieve_vocab_free

    @classmethod
    def from_file(cls, path):
        """Loads a Hugging Face tokenizer.json (or the folder holding it)."""
        out = ctypes.c_void_p()
        _check(_c.sieve_vocab_create_from_file(str(path).encode(), ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def from_tokens(cls, tokens, special_ids=(), stop_ids=(), model_vocab_size=None):
        """From raw token bytes (your own tokenizer): tokens[i] is the bytes of id i."""
        toks = [_bytes(t) for t in tokens]
        n = len(toks)
        arr = (ctypes.c_char_p * n)(*toks)
        lens = (ctypes.c_size_t * n)(*[len(t) for t in toks])
        flags = (ctypes.c_uint32 * n)()
        for i in special_ids:
            flags[i] |= TOKEN_SPECIAL
        for i in stop_ids:
            flags[i] |= TOKEN_STOP
        out = ctypes.c_void_p()
        _check(_c.sieve_vocab_create_from_tokens(arr, lens, flags, n, model_vocab_size or n,
                                                 ctypes.byref(out)))
        return cls(out.value)

    def __len__(self):
        return _c.sieve_vocab_size(self._h)

    @property
    def size(self):
        return len(self)

    @property
    def bitmask_words(self):
        return (len(self) + 31) // 32

    def token_bytes(self, token_id):
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_c.sieve_vocab_token_bytes(self._h, token_id, ctypes.byref(ptr), ctypes.byref(n)))
        return ctypes.string_at(ptr, n.value) if n.value else b""

    def token_flags(self, token_id):
        return _c.sieve_vocab_token_flags(self._h, token_id)

    @property
    def stop_tokens(self):
        n = ctypes.c_size_t()
        _check(_c.sieve_vocab_stop_tokens(self._h, None, 0, ctypes.byref(n)))
        ids = (ctypes.c_int32 * max(n.value, 1))()
        _check(_c.sieve_vocab_stop_tokens(self._h, ids, n.value, ctypes.byref(n)))
        return list(ids[:n.value])

    def encode(self, text, allow_special=False):
        data = _bytes(text)
        cap = len(data) + 16
        ids = (ctypes.c_int32 * cap)()
        n = ctypes.c_size_t()
        _check(_c.sieve_vocab_encode(self._h, data, len(data), int(allow_special), ids, cap,
                                     ctypes.byref(n)))
        return list(ids[:n.value])

    def decode(self, ids):
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        n = ctypes.c_size_t()
        _c.sieve_vocab_decode(self._h, arr, len(ids), None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _check(_c.sieve_vocab_decode(self._h, arr, len(ids), buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]


def _json_options(strict=False, whitespace="any", indent=0, property_order="default",
                  ignore_unsupported=False, max_whitespace_run=0, separators=None,
                  closed_by_default=False):
    o = _lib.JsonSchemaOptions()
    _c.sieve_json_schema_options_init(ctypes.byref(o))
    o.strict = int(strict)
    if whitespace == "dumps":  # json.dumps' default layout
        whitespace, separators = "compact", separators or (", ", ": ")
    o.whitespace = _WHITESPACE[whitespace]
    o.max_whitespace_run = max_whitespace_run
    o.closed_by_default = int(closed_by_default)
    if separators is not None:
        o.item_separator, o.key_separator = (_bytes(s) for s in separators)
    o.indent = indent
    o.property_order = _ORDER[property_order]
    o.ignore_unsupported = int(ignore_unsupported)
    return o


class Compiler(_Handle):
    """Compiles JSON Schemas, EBNF, regexes, structural tags and OpenAI requests for one vocabulary.
    Keeps a content-keyed cache; thread-safe."""
    _free = _c.sieve_compiler_free

    def __init__(self, vocab, cache_bytes=0, num_threads=1, ignore_lookahead=False):
        o = _lib.CompilerOptions()
        _c.sieve_compiler_options_init(ctypes.byref(o))
        o.cache_bytes, o.num_threads, o.ignore_lookahead = cache_bytes, num_threads, int(ignore_lookahead)
        out = ctypes.c_void_p()
        _check(_c.sieve_compiler_create(vocab._h, ctypes.byref(o), ctypes.byref(out)))
        super().__init__(out.value)
        self.vocab = vocab

    def _grammar(self, fn, *args):
        out = ctypes.c_void_p()
        _check(fn(self._h, *args, ctypes.byref(out)))
        return Grammar(out.value, self.vocab)

    def compile_json_schema(self, schema, **options):
        """schema: JSON text or a dict. options: strict, whitespace ("any", "compact", "dumps",
        "indent"), indent, property_order ("default", "schema", "any"), ignore_unsupported,
        max_whitespace_run (whitespace "any"), separators=(item, key) (whitespace "compact",
        as json.dumps; "dumps" is compact with (", ", ": ")), closed_by_default
        (additionalProperties and extra tuple items false unless stated: XGrammar's
        strict_mode)."""
        data = _bytes(schema)
        return self._grammar(_c.sieve_compiler_compile_json_schema, data, len(data),
                             ctypes.byref(_json_options(**options)))

    def compile_ebnf(self, text, root="root"):
        data = _bytes(text)
        return self._grammar(_c.sieve_compiler_compile_ebnf, data, len(data), root.encode())

    def compile_regex(self, pattern):
        data = _bytes(pattern)
        return self._grammar(_c.sieve_compiler_compile_regex, data, len(data))

    def compile_structural_tag(self, spec, **json_options):
        data = _bytes(spec)
        return self._grammar(_c.sieve_compiler_compile_structural_tag, data, len(data),
                             ctypes.byref(_json_options(**json_options)))

    def compile_openai(self, request, tool_format="hermes", think=False, whitespace="any"):
        """request: an OpenAI Chat Completions body (dict or JSON) with response_format and/or
        tools, tool_choice, parallel_tool_calls. tool_format: "hermes", "deepseek", "llama3"."""
        data = _bytes(request)
        o = _lib.OpenAiOptions()
        _c.sieve_openai_options_init(ctypes.byref(o))
        fmt = tool_format.encode()
        o.tool_format, o.think, o.whitespace = fmt, int(think), _WHITESPACE[whitespace]
        return self._grammar(_c.sieve_compiler_compile_openai, data, len(data), ctypes.byref(o))

    def stats(self):
        s = _lib.CompilerStats()
        s.struct_size = ctypes.sizeof(s)
        _check(_c.sieve_compiler_get_stats(self._h, ctypes.byref(s)))
        return {k: getattr(s, k) for k, _ in s._fields_ if k != "struct_size"}


class Grammar(_Handle):
    """A compiled grammar: immutable, shareable between threads and matchers."""
    _free = _c.sieve_grammar_free

    def __init__(self, handle, vocab=None):
        super().__init__(handle)
        self.vocab = vocab

    @property
    def notes(self):
        """Schema keywords not enforced exactly, as SchemaNote(kind, json_pointer, keyword, message)."""
        out = []
        for i in range(_c.sieve_grammar_num_notes(self._h)):
            n = _lib.SchemaNote()
            n.struct_size = ctypes.sizeof(n)
            _check(_c.sieve_grammar_get_note(self._h, i, ctypes.byref(n)))
            out.append(SchemaNote(_NOTE_KINDS.get(n.kind, "info"), n.json_pointer.decode(),
                                  n.keyword.decode(), n.message.decode()))
        return out

    @property
    def loosened(self):
        return bool(_c.sieve_grammar_is_loosened(self._h))

    def to_ebnf(self, simplified=False):
        n = ctypes.c_size_t()
        _c.sieve_grammar_print(self._h, int(simplified), None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _check(_c.sieve_grammar_print(self._h, int(simplified), buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value].decode("utf-8", "replace")

    def serialize(self):
        """A versioned, checksummed image (bytes) holding the compiled automaton and token-mask
        cache: Grammar.deserialize loads it for the same vocabulary without recompiling."""
        n = ctypes.c_size_t()
        _c.sieve_grammar_serialize(self._h, None, 0, ctypes.byref(n))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _check(_c.sieve_grammar_serialize(self._h, buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    @classmethod
    def deserialize(cls, data, vocab):
        out = ctypes.c_void_p()
        _check(_c.sieve_grammar_deserialize(bytes(data), len(data), vocab._h if vocab else None,
                                            ctypes.byref(out)))
        return cls(out.value, vocab)


class Matcher(_Handle):
    """Walks a grammar token by token. One thread at a time (forks too)."""
    _free = _c.sieve_matcher_free

    def __init__(self, grammar, max_rollback_tokens=0, _handle=None):
        if _handle is None:
            o = _lib.MatcherOptions()
            _c.sieve_matcher_options_init(ctypes.byref(o))
            o.max_rollback_tokens = max_rollback_tokens
            out = ctypes.c_void_p()
            _check(_c.sieve_matcher_create(grammar._h, ctypes.byref(o), ctypes.byref(out)))
            _handle = out.value
        super().__init__(_handle)
        self.grammar = grammar
        vocab = grammar.vocab
        self._words = vocab.bitmask_words if vocab is not None else 0

    def accept_token(self, token_id):
        """True when accepted; False when the grammar refuses it (the matcher is unchanged)."""
        return _check(_c.sieve_matcher_accept_token(self._h, token_id)) == OK

    def accept_string(self, text):
        data = _bytes(text)
        return _check(_c.sieve_matcher_accept_string(self._h, data, len(data))) == OK

    @property
    def is_terminated(self):
        return bool(_c.sieve_matcher_is_terminated(self._h))

    @property
    def can_terminate(self):
        return bool(_c.sieve_matcher_can_terminate(self._h))

    @property
    def limit_hit(self):
        """True when a stack-depth or closure limit, not the grammar, refused input."""
        return bool(_c.sieve_matcher_limit_hit(self._h))

    def rollback(self, n=1):
        _check(_c.sieve_matcher_rollback(self._h, n))

    def reset(self):
        _c.sieve_matcher_reset(self._h)

    def fork(self):
        out = ctypes.c_void_p()
        _check(_c.sieve_matcher_fork(self._h, ctypes.byref(out)))
        return Matcher(self.grammar, _handle=out.value)

    def jump_forward(self):
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_c.sieve_matcher_jump_forward(self._h, ctypes.byref(ptr), ctypes.byref(n)))
        return ctypes.string_at(ptr, n.value) if n.value else b""

    def fill_next_token_bitmask(self, words=None):
        """The next-token mask as bytes (4 * words bytes; words defaults to ceil(vocab / 32))."""
        words = words or self._words
        buf = (ctypes.c_uint32 * words)()
        _check(_c.sieve_matcher_fill_next_token_bitmask(self._h, buf, words))
        return bytes(buf)

    def fill_next_token_bitmask_into(self, buffer, words=None):
        """Writes the mask into a writable buffer (bytearray, memoryview, array('I'), ...)."""
        words = words or self._words
        view = memoryview(buffer).cast("B")
        if len(view) < words * 4:
            raise ValueError("buffer holds %d bytes, the mask needs %d" % (len(view), words * 4))
        c_buf = (ctypes.c_char * len(view)).from_buffer(view)
        _check(_c.sieve_matcher_fill_next_token_bitmask(self._h, c_buf, words))


def fill_next_token_bitmask_batch(matchers, num_threads=1, words=None):
    """One row per matcher (bytes, rows of 4 * words bytes), filled on `num_threads` threads."""
    if not matchers:
        return b""
    words = words or matchers[0]._words
    handles = (ctypes.c_void_p * len(matchers))(*[m._h.value for m in matchers])
    buf = (ctypes.c_uint32 * (words * len(matchers)))()
    _check(_c.sieve_matcher_fill_next_token_bitmask_batch(handles, len(matchers), buf, words,
                                                          num_threads))
    return bytes(buf)


def bitmask_allows(mask, token_id):
    """Whether bit token_id is set in a mask from fill_next_token_bitmask."""
    return bool(mask[(token_id >> 5) * 4 + ((token_id & 31) >> 3)] >> (token_id & 7) & 1)


def allowed_ids(mask, vocab_size=None):
    """The allowed token ids of a mask, ascending."""
    n = vocab_size if vocab_size is not None else len(mask) * 8
    return [i for i in range(n) if mask[i >> 3] >> (i & 7) & 1]
