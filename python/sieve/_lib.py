"""ctypes declarations of libsieve's C API (include/sieve/sieve.h).

The library is found through the SIEVE_LIBRARY environment variable (a path to libsieve.so), then
next to this package (../../build*/libsieve.so in a source checkout), then the system's loader
search path. A missing library is an ImportError that says where it looked.
"""
import ctypes
import glob
import os

c_int, c_int32, c_uint32, c_int64, c_size_t, c_char_p, c_double = (
    ctypes.c_int, ctypes.c_int32, ctypes.c_uint32, ctypes.c_int64, ctypes.c_size_t,
    ctypes.c_char_p, ctypes.c_double)
P = ctypes.POINTER
c_void_p = ctypes.c_void_p


class Error(ctypes.Structure):
    _fields_ = [("status", c_int), ("message", c_char_p), ("offset", c_int64), ("line", c_int32),
                ("column", c_int32), ("json_pointer", c_char_p)]


class JsonSchemaOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("strict", c_int), ("whitespace", c_int),
                ("indent", c_int32), ("property_order", c_int), ("ignore_unsupported", c_int),
                ("load_document", ctypes.c_void_p), ("load_document_user", ctypes.c_void_p),
                ("max_whitespace_run", c_int32), ("item_separator", c_char_p),
                ("key_separator", c_char_p), ("closed_by_default", c_int)]


class CompilerOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("cache_bytes", c_size_t), ("num_threads", c_int32),
                ("ignore_lookahead", c_int), ("max_compile_ms", c_int64),
                ("max_nesting_depth", c_int32), ("max_text_bytes", c_size_t),
                ("max_rules", c_int32), ("max_repeat_bound", c_int32), ("max_states", c_int64),
                ("max_rule_states", c_int32), ("max_subset_states", c_int64),
                ("max_mask_cache_bytes", c_size_t)]


class OpenAiOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("tool_format", c_char_p), ("think", c_int),
                ("whitespace", c_int)]


class MatcherOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("max_rollback_tokens", c_int32)]


class SchemaNote(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("kind", c_int), ("json_pointer", c_char_p),
                ("keyword", c_char_p), ("message", c_char_p)]


class CompilerStats(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("cache_hits", c_int64), ("cache_misses", c_int64),
                ("cache_evictions", c_int64), ("cache_entries", c_size_t), ("cache_bytes", c_size_t)]


def _candidates():
    env = os.environ.get("SIEVE_LIBRARY")
    if env:
        yield env
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for path in sorted(glob.glob(os.path.join(root, "build*", "libsieve.so"))):
        yield path
    yield "libsieve.so"
    yield "libsieve.so.0"


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("sieve: cannot load libsieve; set SIEVE_LIBRARY to its path. Tried: " +
                      "; ".join(tried))


lib = _load()

_SIGNATURES = {
    "sieve_version": (c_char_p, []),
    "sieve_last_error": (P(Error), []),
    "sieve_status_name": (c_char_p, [c_int]),
    "sieve_vocab_create_from_file": (c_int, [c_char_p, P(c_void_p)]),
    "sieve_vocab_create_from_tokens": (c_int, [P(c_char_p), P(c_size_t), P(c_uint32), c_size_t,
                                               c_size_t, P(c_void_p)]),
    "sieve_vocab_free": (None, [c_void_p]),
    "sieve_vocab_size": (c_size_t, [c_void_p]),
    "sieve_vocab_token_flags": (c_uint32, [c_void_p, c_int32]),
    "sieve_vocab_token_bytes": (c_int, [c_void_p, c_int32, P(c_void_p), P(c_size_t)]),
    "sieve_vocab_stop_tokens": (c_int, [c_void_p, P(c_int32), c_size_t, P(c_size_t)]),
    "sieve_vocab_encode": (c_int, [c_void_p, c_char_p, c_size_t, c_int, P(c_int32), c_size_t,
                                   P(c_size_t)]),
    "sieve_vocab_decode": (c_int, [c_void_p, P(c_int32), c_size_t, c_char_p, c_size_t, P(c_size_t)]),
    "sieve_compiler_options_init": (None, [P(CompilerOptions)]),
    "sieve_compiler_create": (c_int, [c_void_p, P(CompilerOptions), P(c_void_p)]),
    "sieve_compiler_free": (None, [c_void_p]),
    "sieve_json_schema_options_init": (None, [P(JsonSchemaOptions)]),
    "sieve_openai_options_init": (None, [P(OpenAiOptions)]),
    "sieve_compiler_compile_ebnf": (c_int, [c_void_p, c_char_p, c_size_t, c_char_p, P(c_void_p)]),
    "sieve_compiler_compile_json_schema": (c_int, [c_void_p, c_char_p, c_size_t,
                                                   P(JsonSchemaOptions), P(c_void_p)]),
    "sieve_compiler_compile_regex": (c_int, [c_void_p, c_char_p, c_size_t, P(c_void_p)]),
    "sieve_compiler_compile_structural_tag": (c_int, [c_void_p, c_char_p, c_size_t,
                                                      P(JsonSchemaOptions), P(c_void_p)]),
    "sieve_compiler_compile_openai": (c_int, [c_void_p, c_char_p, c_size_t, P(OpenAiOptions),
                                              P(c_void_p)]),
    "sieve_compiler_get_stats": (c_int, [c_void_p, P(CompilerStats)]),
    "sieve_grammar_free": (None, [c_void_p]),
    "sieve_grammar_num_notes": (c_size_t, [c_void_p]),
    "sieve_grammar_get_note": (c_int, [c_void_p, c_size_t, P(SchemaNote)]),
    "sieve_grammar_is_loosened": (c_int, [c_void_p]),
    "sieve_grammar_print": (c_int, [c_void_p, c_int, c_char_p, c_size_t, P(c_size_t)]),
    "sieve_grammar_serialize": (c_int, [c_void_p, c_char_p, c_size_t, P(c_size_t)]),
    "sieve_grammar_deserialize": (c_int, [c_char_p, c_size_t, c_void_p, P(c_void_p)]),
    "sieve_matcher_options_init": (None, [P(MatcherOptions)]),
    "sieve_matcher_create": (c_int, [c_void_p, P(MatcherOptions), P(c_void_p)]),
    "sieve_matcher_free": (None, [c_void_p]),
    "sieve_matcher_accept_token": (c_int, [c_void_p, c_int32]),
    "sieve_matcher_accept_string": (c_int, [c_void_p, c_char_p, c_size_t]),
    "sieve_matcher_is_terminated": (c_int, [c_void_p]),
    "sieve_matcher_can_terminate": (c_int, [c_void_p]),
    "sieve_matcher_limit_hit": (c_int, [c_void_p]),
    "sieve_matcher_rollback": (c_int, [c_void_p, c_int32]),
    "sieve_matcher_reset": (None, [c_void_p]),
    "sieve_matcher_fork": (c_int, [c_void_p, P(c_void_p)]),
    "sieve_matcher_jump_forward": (c_int, [c_void_p, P(c_void_p), P(c_size_t)]),
    "sieve_matcher_fill_next_token_bitmask": (c_int, [c_void_p, c_void_p, c_size_t]),
    "sieve_matcher_fill_next_token_bitmask_batch": (c_int, [P(c_void_p), c_size_t, c_void_p,
                                                            c_size_t, c_int32]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
