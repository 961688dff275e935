#!/usr/bin/env python3
"""Phases of the MLA split and combine blocks in one traced decode step (issue 7, session 12).

Input: trace-b<batch>.csv[.gz] of a SIEVE_PDL_TRACE build (pdl_trace.h) whose MlaSplitKernel marks
kStage0 (q staged), kStage1 (first tile arrived) and kStage2 (math done), and whose
MlaCombineKernel marks kStage0 (weights ready) and kStage1 (sums done), all from thread 0.
Output: medians over the layers of the first / median / last block's event times (split: us after
q absorb's last exit; combine: us after the split's last exit), and per-block phase durations
(median, p90, max over all blocks of all layers).
Usage: pdl-trace-stages.py trace-b1.csv.gz [--step 1]
"""
import argparse
import collections
import csv
import gzip
import statistics as st

Q_ABSORB, SPLIT, COMBINE = 3, 4, 5
ENTER, WAITED, EXIT, S0, S1, S2 = 0, 2, 3, 4, 5, 6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--step", type=int, default=1)
    a = ap.parse_args()
    rows = collections.defaultdict(list)
    with (gzip.open(a.trace, "rt") if a.trace.endswith(".gz") else open(a.trace)) as f:
        for r in csv.DictReader(f):
            if int(r["step"]) == a.step:
                rows[r["grid"]].append(r)
    grids = sorted((min(int(r["ns"]) for r in rs), max(int(r["tag"]) for r in rs), rs)
                   for rs in rows.values())
    times = collections.defaultdict(list)
    phases = collections.defaultdict(list)
    prev_exit = split_exit = None
    for _, tag, rs in grids:
        ev = collections.defaultdict(dict)
        for r in rs:
            ev[int(r["event"])].setdefault(int(r["block"]), int(r["ns"]))
        if tag == Q_ABSORB:
            prev_exit = max(ev[EXIT].values())
        if tag not in (SPLIT, COMBINE) or prev_exit is None or (tag == COMBINE and not split_exit):
            continue
        name = "split" if tag == SPLIT else "combine"
        base = prev_exit if tag == SPLIT else split_exit
        for e, lab in ((ENTER, "entry"), (WAITED, "wait"), (S0, "s0"), (S1, "s1"), (S2, "s2"),
                       (EXIT, "exit")):
            v = list(ev[e].values())
            if v:
                for fn, key in ((min, "first"), (st.median, "median"), (max, "last")):
                    times[(name, lab, key)].append((fn(v) - base) / 1000)
        if tag == SPLIT:
            spans = (("q staged - wait", WAITED, S0), ("first tile - q staged", S0, S1),
                     ("math", S1, S2), ("epilogue to exit", S2, EXIT),
                     ("entry - first tile", ENTER, S1))
        else:
            spans = (("weights - wait", WAITED, S0), ("sums", S0, S1), ("store to exit", S1, EXIT))
        for lab, e0, e1 in spans:
            for blk, t1 in ev[e1].items():
                if blk in ev[e0]:
                    phases[(name, lab)].append((t1 - ev[e0][blk]) / 1000)
        if tag == SPLIT:
            split_exit = max(ev[EXIT].values())
    for (name, lab, key), v in times.items():
        if key == "median" or lab in ("entry", "exit"):
            print(f"{name:8s} {lab:6s} {key:6s} block: {st.median(v):7.2f} us (median over layers)")
    for (name, lab), v in phases.items():
        v.sort()
        print(f"{name:8s} {lab:22s} per block: median {st.median(v):5.2f} p90 "
              f"{v[int(0.9 * (len(v) - 1))]:5.2f} max {v[-1]:5.2f} us (n = {len(v)})")


if __name__ == "__main__":
    main()
