#!/usr/bin/env python3
"""Generates sieve's Unicode tables from the Unicode Character Database (UCD).

Reads the UCD text files (Debian package `unicode-data`, installed under /usr/share/unicode) and
writes five committed files:

  grammar/support/unicode_tables.cc          the general-category tables, White_Space and the
                                             category names behind grammar/support/unicode.h
  grammar/support/unicode_tables_norm.cc     the normalization properties (two-stage table)
  grammar/support/unicode_tables_compose.cc  canonical decompositions and primary composites
  grammar/support/unicode_tables_fold.cc     simple case folding (CaseFolding.txt C + S)
  tests/data/unicode_nfc_cases.txt           NFC conformance cases sampled from NormalizationTest.txt

(The tables are split over four files only to keep each source file small.)

Usage (from the repository root):

  apt-get install unicode-data        # once
  python3 scripts/gen-unicode-tables.py [--ucd /usr/share/unicode] [--root .]

What is generated (see unicode.h for how the C++ side reads it):

  * General category: a two-stage table. Stage 1 maps cp >> 8 to a block number, stage 2 holds the
    distinct 256-entry blocks of Category values. Code points that UnicodeData.txt does not list
    (directly or through a "<..., First>" / "<..., Last>" pair) are Cn.
  * General-category names: every short name, long name and alias of PropertyValueAliases.txt
    (gc lines), in loose-matching form (UAX #44-LM3: lower case, no '_', '-' or ' '), each with a
    bit mask of the categories it stands for.
  * White_Space (PropList.txt) as sorted, merged ranges.
  * Normalization properties: a second two-stage table of uint16 values, bits 0-7 the canonical
    combining class, bits 8-9 NFC_Quick_Check (0 Yes, 1 Maybe, 2 No), bit 10 "has a canonical
    decomposition in kDecompositions" (Hangul syllables excluded: code decomposes them).
  * Canonical decompositions, fully expanded (recursively), sorted by code point, pointing into
    one pool of code points.
  * Primary composites: (first, second) -> composite for every canonical pair decomposition that
    is not in Full_Composition_Exclusion, derived per UAX #15 from CompositionExclusions.txt plus
    singletons plus non-starter decompositions. Hangul is left to code.

The script checks its derivations against the UCD's own derived files (Full_Composition_Exclusion
and NFC_QC in DerivedNormalizationProps.txt) and decodes every emitted table back to the source
data before writing anything; any mismatch aborts with a non-zero exit.
"""

import argparse
import bz2
import os
import re
import sys

MAX_CP = 0x10FFFF
CATEGORIES = [
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
    "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
]
CAT_INDEX = {name: i for i, name in enumerate(CATEGORIES)}

HANGUL_S_BASE, HANGUL_S_COUNT = 0xAC00, 11172
HANGUL_V_FIRST, HANGUL_V_LAST = 0x1161, 0x1175
HANGUL_T_FIRST, HANGUL_T_LAST = 0x11A8, 0x11C2

QC_YES, QC_MAYBE, QC_NO = 0, 1, 2
NORM_DECOMP_BIT = 1 << 10


def fail(message):
    sys.stderr.write("gen-unicode-tables: " + message + "\n")
    sys.exit(1)


def strip_comment(line):
    return line.split("#", 1)[0].strip()


def parse_range(text):
    if ".." in text:
        lo, hi = text.split("..")
        return int(lo, 16), int(hi, 16)
    cp = int(text, 16)
    return cp, cp


def read_version(ucd):
    with open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        m = re.match(r"# DerivedNormalizationProps-(\d+\.\d+\.\d+)\.txt", f.readline())
    if not m:
        fail("cannot read the Unicode version from DerivedNormalizationProps.txt")
    return m.group(1)


def read_unicode_data(ucd):
    """Returns (categories list per cp, ccc dict, canonical single-step decomposition dict)."""
    cats = ["Cn"] * (MAX_CP + 1)
    ccc = {}
    decomp = {}
    first = None
    with open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            if len(fields) < 6:
                continue
            cp = int(fields[0], 16)
            name, cat, cc, dm = fields[1], fields[2], int(fields[3]), fields[5]
            if cat not in CAT_INDEX:
                fail("unknown general category %s at U+%04X" % (cat, cp))
            if name.endswith(", First>"):
                first = cp
                continue
            lo = cp
            if name.endswith(", Last>"):
                if first is None:
                    fail("Last> without First> at U+%04X" % cp)
                lo, first = first, None
            for c in range(lo, cp + 1):
                cats[c] = cat
                if cc:
                    ccc[c] = cc
            if dm and not dm.startswith("<"):  # canonical decomposition (no compatibility tag)
                if lo != cp:
                    fail("range with a decomposition at U+%04X" % cp)
                decomp[cp] = [int(x, 16) for x in dm.split()]
    return cats, ccc, decomp


def read_property_ranges(path, prop):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            body = strip_comment(line)
            if not body:
                continue
            fields = [x.strip() for x in body.split(";")]
            if fields[1] == prop:
                out.append(parse_range(fields[0]))
    return out


def read_composition_exclusions(ucd):
    out = set()
    with open(os.path.join(ucd, "CompositionExclusions.txt"), encoding="utf-8") as f:
        for line in f:
            body = strip_comment(line)
            if body:
                lo, hi = parse_range(body)
                out.update(range(lo, hi + 1))
    return out


def read_derived_normalization(ucd):
    """Returns (Full_Composition_Exclusion set, {cp: QC_MAYBE or QC_NO} for NFC_QC)."""
    fce = set()
    qc = {}
    with open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        for line in f:
            body = strip_comment(line)
            if not body:
                continue
            fields = [x.strip() for x in body.split(";")]
            lo, hi = parse_range(fields[0])
            if fields[1] == "Full_Composition_Exclusion":
                fce.update(range(lo, hi + 1))
            elif fields[1] == "NFC_QC":
                value = {"M": QC_MAYBE, "N": QC_NO}[fields[2]]
                for c in range(lo, hi + 1):
                    qc[c] = value
    return fce, qc


def read_case_folds(ucd):
    """Simple case folding (CaseFolding.txt statuses C and S): sorted (code point, fold) pairs."""
    folds = []
    with open(os.path.join(ucd, "CaseFolding.txt"), encoding="utf-8") as f:
        for line in f:
            fields = [x.strip() for x in strip_comment(line).split(";")]
            if len(fields) < 3 or fields[1] not in ("C", "S"):
                continue
            folds.append((int(fields[0], 16), int(fields[2], 16)))
    folds.sort()
    if len(set(cp for cp, _ in folds)) != len(folds):
        fail("CaseFolding.txt maps a code point twice in C + S")
    return folds


def read_gc_aliases(ucd):
    """Returns [(name, [category short names])] for every gc alias, major classes expanded."""
    out = []
    with open(os.path.join(ucd, "PropertyValueAliases.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.startswith("gc "):
                continue
            body, _, comment = line.partition("#")
            names = [x.strip() for x in body.split(";")[1:] if x.strip()]
            short = names[0]
            if short in CAT_INDEX:
                members = [short]
            else:
                members = [x.strip() for x in comment.split("|")]
                for m in members:
                    if m not in CAT_INDEX:
                        fail("gc alias %s names unknown category %s" % (short, m))
            for n in names:
                out.append((n, members))
    return out


def loose(name):
    return re.sub(r"[ _\-]", "", name).lower()


def full_decomposition(cp, decomp):
    if cp not in decomp:
        return [cp]
    out = []
    for c in decomp[cp]:
        out.extend(full_decomposition(c, decomp))
    return out


def merge_ranges(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def two_stage(values):
    """Splits a per-code-point list into (stage1 block numbers, list of distinct 256-blocks)."""
    blocks = []
    index = {}
    stage1 = []
    for start in range(0, MAX_CP + 1, 256):
        block = tuple(values[start:start + 256])
        if block not in index:
            index[block] = len(blocks)
            blocks.append(block)
        stage1.append(index[block])
    return stage1, blocks


def wrap_items(items, sep=" ", indent="    ", limit=100):
    """Packs comma-terminated items, `sep` apart, into lines of at most `limit` columns."""
    lines = []
    line = indent
    for item in items:
        piece = item + ","
        if line != indent and len(line) + len(sep) + len(piece) > limit:
            lines.append(line)
            line = indent
        line += piece if line == indent else sep + piece
    if line != indent:
        lines.append(line)
    return lines


def emit_array(out, ctype, name, items, sep=" "):
    out.append("const %s %s[%d] = {" % (ctype, name, len(items)))
    out.extend(wrap_items(items, sep))
    out.append("};")


def derive(ucd):
    cats, ccc, decomp = read_unicode_data(ucd)
    proplist = os.path.join(ucd, "PropList.txt")
    white_space = merge_ranges(read_property_ranges(proplist, "White_Space"))
    exclusions = read_composition_exclusions(ucd)
    ucd_fce, ucd_qc = read_derived_normalization(ucd)

    # UAX #15: Full_Composition_Exclusion = script-specific and post-composition-version exclusions
    # (CompositionExclusions.txt) + singleton decompositions + non-starter decompositions.
    fce = set(exclusions)
    for cp, d in decomp.items():
        if len(d) == 1 or ccc.get(cp, 0) != 0 or ccc.get(d[0], 0) != 0:
            fce.add(cp)
    if fce != ucd_fce:
        fail("derived Full_Composition_Exclusion differs from DerivedNormalizationProps.txt: %s" %
             sorted(fce ^ ucd_fce)[:10])

    compositions = []
    for cp, d in sorted(decomp.items()):
        if cp in fce:
            continue
        if len(d) != 2:
            fail("primary composite U+%04X does not decompose to a pair" % cp)
        compositions.append((d[0], d[1], cp))
    compositions.sort()
    if len({(a, b) for a, b, _ in compositions}) != len(compositions):
        fail("two primary composites share a pair")

    # NFC_QC: No for excluded characters, Maybe for anything that can be the second of a pair.
    qc = {cp: QC_NO for cp in fce}
    for _, second, _ in compositions:
        qc[second] = QC_MAYBE
    for c in list(range(HANGUL_V_FIRST, HANGUL_V_LAST + 1)) + \
            list(range(HANGUL_T_FIRST, HANGUL_T_LAST + 1)):
        qc[c] = QC_MAYBE
    if qc != ucd_qc:
        fail("derived NFC_QC differs from DerivedNormalizationProps.txt")

    full = {cp: full_decomposition(cp, decomp) for cp in decomp}

    # The C++ side splits text before every code point with ccc 0 and NFC_QC Yes; that is sound
    # only if such a code point never starts a decomposition that could combine backwards.
    for cp, d in full.items():
        if ccc.get(cp, 0) == 0 and qc.get(cp, QC_YES) == QC_YES:
            if ccc.get(d[0], 0) != 0 or qc.get(d[0], QC_YES) != QC_YES:
                fail("U+%04X is a stable starter whose decomposition starts unstable" % cp)
    # Nfc()'s byte-level fast path: nothing below U+0300 needs normalising.
    for cp in range(0x300):
        if ccc.get(cp, 0) or qc.get(cp, QC_YES) != QC_YES:
            fail("U+%04X below U+0300 is not NFC-stable" % cp)

    return {
        "cats": cats, "ccc": ccc, "decomp": decomp, "full": full, "qc": qc,
        "white_space": white_space, "compositions": compositions,
    }


def generate_tables(ucd, data, version):
    cats, ccc, full, qc = data["cats"], data["ccc"], data["full"], data["qc"]

    cat_values = [CAT_INDEX[c] for c in cats]
    cat_stage1, cat_blocks = two_stage(cat_values)
    if len(cat_blocks) > 256:
        fail("category table needs more than 256 blocks")

    norm_values = [0] * (MAX_CP + 1)
    for cp, cc in ccc.items():
        norm_values[cp] |= cc
    for cp, q in qc.items():
        norm_values[cp] |= q << 8
    for cp in full:
        norm_values[cp] |= NORM_DECOMP_BIT
    norm_stage1, norm_blocks = two_stage(norm_values)
    if len(norm_blocks) > 256:
        fail("normalization table needs more than 256 blocks")

    pool = []
    decomp_entries = []
    for cp in sorted(full):
        d = full[cp]
        decomp_entries.append((cp, len(pool), len(d)))
        pool.extend(d)
    if len(pool) >= 1 << 16 or max(len(d) for d in full.values()) > 255:
        fail("decomposition pool too large for its index types")

    aliases = {}
    for name, members in read_gc_aliases(ucd):
        mask = 0
        for m in members:
            mask |= 1 << CAT_INDEX[m]
        key = loose(name)
        if aliases.get(key, mask) != mask:
            fail("loose name %s is ambiguous" % key)
        aliases[key] = mask

    # Round-trip checks of what is about to be written.
    for cp in range(MAX_CP + 1):
        if cat_blocks[cat_stage1[cp >> 8]][cp & 0xFF] != cat_values[cp]:
            fail("category table round trip failed at U+%04X" % cp)
        if norm_blocks[norm_stage1[cp >> 8]][cp & 0xFF] != norm_values[cp]:
            fail("normalization table round trip failed at U+%04X" % cp)

    notice = """\
// GENERATED FILE - DO NOT EDIT. Unicode {version} tables for grammar/support/unicode.h:
// {what}.
//
// Regenerate from the repository root with
//   apt-get install unicode-data && python3 scripts/gen-unicode-tables.py
// which reads /usr/share/unicode/{{UnicodeData,PropList,CompositionExclusions,
// DerivedNormalizationProps,PropertyValueAliases,CaseFolding}}.txt and NormalizationTest.txt.bz2
// and writes grammar/support/unicode_tables{{,_norm,_compose,_fold}}.cc and
// tests/data/unicode_nfc_cases.txt.
//
"""
    layout = """\
// Layout (read through unicode.h / unicode.cc):
//   kCategoryStage1[cp >> 8] picks a 256-entry block of kCategoryBlocks; entry cp & 0xFF of that
//   block is the Category (enum order of unicode.h).
//   kNormStage1 / kNormBlocks (unicode_tables_norm.cc): the same shape with uint16 values: bits
//   0-7 canonical combining class, bits 8-9 NFC_Quick_Check (0 Yes, 1 Maybe, 2 No), bit 10 set
//   when kDecompositions has an entry (Hangul syllables are decomposed by code).
//   kDecompositions (unicode_tables_compose.cc): sorted by code point; full canonical
//   decompositions (already recursively expanded) as (offset, length) into kDecompositionPool.
//   kCompositions (unicode_tables_compose.cc): sorted by (first, second); primary composites,
//   exclusions applied.
//   kCategoryNames: loose-matched (lower case, no ' ', '_', '-') gc names and aliases, sorted,
//   with the bit mask (1 << Category) of the categories each stands for.
//
// Sizes: {cat_blocks} category blocks, {norm_blocks} normalization blocks,
// {decomps} decompositions ({pool} pool entries), {comps} compositions,
// {ws} White_Space ranges, {names} category names.
//
"""
    opening = """\

// clang-format off
#include "grammar/support/unicode.h"

namespace sieve::unicode::internal {
"""
    facts = dict(version=version, cat_blocks=len(cat_blocks), norm_blocks=len(norm_blocks),
                 decomps=len(decomp_entries), pool=len(pool), comps=len(data["compositions"]),
                 ws=len(data["white_space"]), names=len(aliases))

    def begin(what, with_layout):
        text = notice.format(what=what, **facts)
        if with_layout:
            text += layout.format(**facts)
        return (text.rstrip("\n").rstrip("/").rstrip("\n") + "\n" + opening).split("\n")

    def end(out):
        out.append("}  // namespace sieve::unicode::internal")
        return "\n".join(out) + "\n"

    out = begin("general-category tables", True)
    out.append('const char kUnicodeVersion[] = "%s";' % version)
    out.append("")
    emit_array(out, "uint8_t", "kCategoryStage1", ["%d" % v for v in cat_stage1], "")
    out.append("")
    out.append("const uint8_t kCategoryBlocks[%d] = {" % (len(cat_blocks) * 256))
    for i, block in enumerate(cat_blocks):
        out.append("    // block %d" % i)
        out.extend(wrap_items(["%d" % v for v in block], ""))
    out.append("};")
    out.append("")
    emit_array(out, "Range", "kWhiteSpaceRanges",
               ["{0x%04X, 0x%04X}" % r for r in data["white_space"]])
    out.append("const size_t kWhiteSpaceRangeCount = %d;" % len(data["white_space"]))
    out.append("")
    emit_array(out, "CategoryName", "kCategoryNames",
               ['{"%s", 0x%08X}' % (key, aliases[key]) for key in sorted(aliases)])
    out.append("const size_t kCategoryNameCount = %d;" % len(aliases))
    out.append("")
    category = end(out)

    out = begin("normalization properties", False)
    emit_array(out, "uint8_t", "kNormStage1", ["%d" % v for v in norm_stage1], "")
    out.append("")
    out.append("const uint16_t kNormBlocks[%d] = {" % (len(norm_blocks) * 256))
    for i, block in enumerate(norm_blocks):
        out.append("    // block %d" % i)
        out.extend(wrap_items(["%d" % v for v in block], ""))
    out.append("};")
    out.append("")
    norm = end(out)

    out = begin("canonical decompositions and compositions", False)
    emit_array(out, "DecompositionEntry", "kDecompositions",
               ["{0x%04X, %d, %d}" % e for e in decomp_entries])
    out.append("const size_t kDecompositionCount = %d;" % len(decomp_entries))
    out.append("")
    emit_array(out, "char32_t", "kDecompositionPool", ["0x%04X" % c for c in pool])
    out.append("")
    emit_array(out, "CompositionEntry", "kCompositions",
               ["{0x%04X, 0x%04X, 0x%04X}" % e for e in data["compositions"]])
    out.append("const size_t kCompositionCount = %d;" % len(data["compositions"]))
    out.append("")
    compose = end(out)
    sizes = {
        "category": len(cat_stage1) + len(cat_blocks) * 256,
        "norm": len(norm_stage1) + len(norm_blocks) * 512,
        "decomp": len(decomp_entries) * 8 + len(pool) * 4,
        "comp": len(data["compositions"]) * 12,
    }
    folds = read_case_folds(ucd)
    out = begin("simple case folding", False)
    out.append("// CaseFolding.txt statuses C and S: every code point whose simple fold is not")
    out.append("// itself, sorted by code point.")
    emit_array(out, "CaseFoldEntry", "kCaseFolds", ["{0x%04X, 0x%04X}" % e for e in folds])
    out.append("const size_t kCaseFoldCount = %d;" % len(folds))
    out.append("")
    fold = end(out)
    sizes["fold"] = len(folds) * 8
    tables = {"unicode_tables.cc": category, "unicode_tables_norm.cc": norm,
              "unicode_tables_compose.cc": compose, "unicode_tables_fold.cc": fold}
    return tables, sizes


def hexs(cps):
    return " ".join("%04X" % c for c in cps)


def generate_nfc_cases(ucd, version):
    """Samples NormalizationTest.txt into source;NFC lines plus the Part 1 code point ranges."""
    with bz2.open(os.path.join(ucd, "NormalizationTest.txt.bz2"), "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    part = None
    pairs = []
    seen = set()
    part1 = set()
    hangul_lines = 0
    other_lines = 0

    def add(src, nfc):
        if (src, nfc) not in seen:
            seen.add((src, nfc))
            pairs.append((src, nfc))

    for line in lines:
        if line.startswith("@Part"):
            part = line.split()[0]
            continue
        body = strip_comment(line)
        if not body:
            continue
        cols = [tuple(int(x, 16) for x in c.split()) for c in body.split(";")[:5]]
        if part == "@Part1":
            part1.add(cols[0][0])
            # Parts 0, 2 and 3 are kept whole; of Part 1 one Hangul syllable line in 64 and one
            # other line in 3 (the generator's own checks cover the tables exhaustively).
            if HANGUL_S_BASE <= cols[0][0] < HANGUL_S_BASE + HANGUL_S_COUNT:
                hangul_lines += 1
                if hangul_lines % 64 != 1:
                    continue
            else:
                other_lines += 1
                if other_lines % 3 != 1:
                    continue
        # NFC invariants: c2 == NFC(c1) == NFC(c2) == NFC(c3); c4 == NFC(c4) == NFC(c5).
        for src in (cols[0], cols[1], cols[2]):
            add(src, cols[1])
        for src in (cols[3], cols[4]):
            add(src, cols[3])

    out = []
    out.append("# GENERATED FILE - DO NOT EDIT. NFC test cases sampled from Unicode %s" % version)
    out.append("# NormalizationTest.txt. Regenerate with: python3 scripts/gen-unicode-tables.py")
    out.append("# (needs the Debian package unicode-data).")
    out.append("# Lines 'SOURCE;NFC' (hex code points, space separated): NFC(SOURCE) must be NFC.")
    out.append("# Lines '@part1 LO HI': code points listed in Part 1 of the test file. Every other")
    out.append("# code point X (surrogates aside) must satisfy NFC(X) == X.")
    for lo, hi in merge_ranges([(c, c) for c in part1]):
        out.append("@part1 %04X %04X" % (lo, hi))
    for src, nfc in pairs:
        out.append("%s;%s" % (hexs(src), hexs(nfc)))
    return "\n".join(out) + "\n", len(pairs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ucd", default="/usr/share/unicode", help="UCD directory")
    parser.add_argument("--root", default=".", help="repository root to write into")
    args = parser.parse_args()

    version = read_version(args.ucd)
    data = derive(args.ucd)
    tables, sizes = generate_tables(args.ucd, data, version)
    cases, case_count = generate_nfc_cases(args.ucd, version)

    written = []
    for name, text in tables.items():
        path = os.path.join(args.root, "grammar", "support", name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written.append(path)
    cases_path = os.path.join(args.root, "tests", "data", "unicode_nfc_cases.txt")
    with open(cases_path, "w", encoding="utf-8") as f:
        f.write(cases)
    print("Unicode %s: wrote %s (%d bytes of table data: %s) and %s (%d cases)" %
          (version, ", ".join(written), sum(sizes.values()), sizes, cases_path, case_count))


if __name__ == "__main__":
    main()
