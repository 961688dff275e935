#!/usr/bin/env python3
"""Differential check of `sieve validate` against python-jsonschema (Debian: python3-jsonschema).

Generates random draft 2020-12 schemas over the keywords sieve enforces (types, numeric bounds,
multipleOf, lengths, patterns, tuples/items/contains/uniqueItems, properties/required/additional/
pattern properties/propertyNames/dependentRequired, anyOf/oneOf/allOf/not/if) and random
instances, runs `sieve validate --jsonl` on each schema, and compares every verdict with
jsonschema.Draft202012Validator. Schemas sieve refuses (unsupported, or accepting no value) are
skipped; with a narrowed/loosened/ignored note a disagreement is counted apart. Prints a JSON
summary, then one line per schema with a disagreement (kind, schema, instance). Not part of
`make test` (python3-jsonschema is not a build dependency).

  scripts/differential_jsonschema.py SEED NUM_SCHEMAS      (SIEVE=path/to/sieve, default build/sieve)

`type: integer` is checked as sieve's default reads it (JsonSchemaOptions::
integer_allows_zero_fraction off: 1.0 is not an integer, since a generated integer is plain digits):
jsonschema's type checker is told the same. Documents are written with non-ASCII characters as
they are (ensure_ascii=False): where a string's content is constrained (const/enum/pattern/format/
property names), sieve accepts a character JSON allows unescaped only in its literal spelling, not
as \\uXXXX (a documented narrowing, README "What is enforced").
"""
import json, random, subprocess, sys, os, tempfile
import jsonschema
from jsonschema import Draft202012Validator, validators

# sieve's default: an integer is written without a fraction.
Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool)))

R = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
SIEVE = os.environ.get("SIEVE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "sieve"))

def rnum():
    return R.choice([0, 1, -1, 2, 3, 5, 10, 0.5, -2.5, 100, 7, 1.5, 12, -10, 1e3, 2.25])

def rstr():
    return R.choice(["", "a", "ab", "abc", "b", "xyz", "A1", "aaa", "hello", "a-b", "12", "é", "ab1", " ",
                     "2023-11-22", "2023-02-30", "1999-12-31", "192.168.0.1", "256.1.1.1", "::1",
                     "2001:db8::ff00:42:8329", "550e8400-e29b-41d4-a716-446655440000", 'a"b',
                     "tab\there", "😀", "ab\\c", "x" * 70])

def rvalue(depth=0):
    k = R.randrange(8 if depth < 2 else 5)
    if k == 0: return None
    if k == 1: return R.choice([True, False])
    if k == 2: return R.choice([0, 1, 2, -1, 3, 10, 100, 5, 7])
    if k == 3: return rnum()
    if k == 4: return rstr()
    if k == 5: return [rvalue(depth + 1) for _ in range(R.randrange(4))]
    if k in (6, 7):
        return {R.choice(["a", "b", "c", "d", "x"]): rvalue(depth + 1) for _ in range(R.randrange(4))}

TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]

def rschema(depth=0):
    if depth > 2 or R.random() < 0.15:
        return R.choice([{}, {"type": R.choice(TYPES)}, True, {"const": rvalue(2)}, {"enum": [rvalue(2) for _ in range(R.randrange(1, 4))]}])
    s = {}
    t = R.choice(TYPES + [None, None])
    if t: s["type"] = t if R.random() < 0.85 else [t, R.choice(TYPES)]
    kinds = R.sample(["num", "str", "arr", "obj", "comb", "enum"], R.randrange(1, 3))
    for kind in kinds:
        if kind == "num":
            for kw in R.sample(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"], R.randrange(1, 3)):
                s[kw] = R.choice([2, 3, 0.5, 5]) if kw == "multipleOf" else rnum()
        elif kind == "str":
            for kw in R.sample(["minLength", "maxLength", "pattern", "format"], R.randrange(1, 3)):
                if kw == "pattern":
                    s[kw] = R.choice(["^a", "b$", "^[a-z]+$", "a.c", "^\\d+$", "x|y", "^(ab)*$", "[0-9]",
                                      "^\\p{L}+$", "^.{2,3}$", "\\.", "^[^a]*$"])
                elif kw == "format":
                    s[kw] = R.choice(["date", "ipv4", "ipv6", "uuid"])  # checked alike by both
                else:
                    s[kw] = R.randrange(0, 4)
        elif kind == "arr":
            for kw in R.sample(["items", "prefixItems", "minItems", "maxItems", "contains", "minContains", "maxContains", "uniqueItems"], R.randrange(1, 4)):
                if kw in ("items", "contains"): s[kw] = rschema(depth + 1) if R.random() < 0.9 else R.choice([True, False])
                elif kw == "prefixItems": s[kw] = [rschema(depth + 1) for _ in range(R.randrange(1, 3))]
                elif kw == "uniqueItems": s[kw] = R.random() < 0.7
                else: s[kw] = R.randrange(0, 4)
        elif kind == "obj":
            for kw in R.sample(["properties", "required", "additionalProperties", "minProperties", "maxProperties", "patternProperties", "propertyNames", "dependentRequired"], R.randrange(1, 4)):
                if kw == "properties": s[kw] = {k: rschema(depth + 1) for k in R.sample(["a", "b", "c"], R.randrange(1, 3))}
                elif kw == "required": s[kw] = R.sample(["a", "b", "c"], R.randrange(1, 3))
                elif kw == "additionalProperties": s[kw] = R.choice([True, False, rschema(depth + 1)])
                elif kw == "patternProperties": s[kw] = {R.choice(["^a", "^x", "c"]): rschema(depth + 1)}
                elif kw == "propertyNames": s[kw] = R.choice([{"maxLength": 1}, {"pattern": "^[a-c]$"}, {"enum": ["a", "b"]}])
                elif kw == "dependentRequired": s[kw] = {"a": ["b"]}
                else: s[kw] = R.randrange(0, 3)
        elif kind == "comb":
            kw = R.choice(["anyOf", "oneOf", "allOf", "not", "if"])
            if kw == "not": s["not"] = rschema(depth + 1)
            elif kw == "if":
                s["if"] = rschema(depth + 1); s["then"] = rschema(depth + 1)
                if R.random() < 0.5: s["else"] = rschema(depth + 1)
            else: s[kw] = [rschema(depth + 1) for _ in range(R.randrange(1, 4))]
        elif kind == "enum":
            s["enum"] = [rvalue(1) for _ in range(R.randrange(1, 5))]
    return s

def instances(schema):
    out = [rvalue() for _ in range(25)]
    out += [[rvalue(1) for _ in range(R.randrange(5))] for _ in range(8)]
    out += [{k: rvalue(1) for k in R.sample(["a", "b", "c", "x", "ab"], R.randrange(4))} for _ in range(8)]
    out += [[R.choice([1, 1.0, 2, "a", "a", None, True, [1], {"a": 1}]) for _ in range(R.randrange(4))] for _ in range(6)]
    return out

n_schemas = int(sys.argv[2]) if len(sys.argv) > 2 else 200
stats = {"schemas": 0, "skipped": 0, "docs": 0, "agree": 0, "valid_rejected": 0, "invalid_accepted": 0, "narrowed_skips": 0}
problems = []
for i in range(n_schemas):
    schema = rschema()
    if isinstance(schema, bool): schema = {"not": {}} if not schema else {}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:
        continue
    docs = instances(schema)
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "s.json"); dp = os.path.join(d, "d.jsonl")
        json.dump(schema, open(sp, "w"))
        with open(dp, "w") as f:
            for doc in docs: f.write(json.dumps(doc, ensure_ascii=False) + "\n")
        r = subprocess.run([SIEVE, "validate", "--schema", sp, "--jsonl", dp], capture_output=True, text=True, timeout=60)
    if r.returncode in (2, 3):
        stats["skipped"] += 1
        continue
    narrowed = "narrowed" in r.stderr or "loosened" in r.stderr or "ignored" in r.stderr
    stats["schemas"] += 1
    verdict = {}
    for line in r.stdout.splitlines():
        loc, _, rest = line.partition(": ")
        ln = int(loc.rsplit(":", 1)[1])
        verdict[ln] = rest.startswith("accepted")
    v = Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for ln, doc in enumerate(docs, 1):
        exp = v.is_valid(doc)
        got = verdict.get(ln)
        stats["docs"] += 1
        if got == exp: stats["agree"] += 1; continue
        if narrowed: stats["narrowed_skips"] += 1; continue
        key = "valid_rejected" if exp else "invalid_accepted"
        stats[key] += 1
        problems.append((key, json.dumps(schema), json.dumps(doc)))
print(json.dumps(stats))
seen = set()
for k, s, d in problems:
    if s in seen: continue
    seen.add(s)
    print(k, s, d)
