#!/usr/bin/env python3
"""Per-block view of one kernel in a traced decode step (issue 7, session 9).

pdl-trace.py gives each launch's first / last block; this gives the spread inside the launches of
one kernel (by its trace tag) over all layers of a step: when the blocks enter, pass PdlWait and
exit (percentiles, medians over the launches), how long each block runs after its wait, and which
SMs are systematically fast or slow (median over the launches of each SM's exit after the launch's
first wait). With --bytes-per-block the SM times become per-SM rates (GB/s) and a table of the
estimated aggregate rate over time for one launch (each block's bytes spread evenly from its
wait, or its entry with --from-entry, to its exit).

Input: trace-b<batch>.csv[.gz] from a SIEVE_PDL_TRACE build (pdl-trace.sh).
Usage: pdl-trace-blocks.py trace-b1.csv.gz --tag exp_gate_up [--bytes-per-block 524288]
       [--layer 10] [--from-entry] [--step 1]
"""
import argparse
import collections
import csv
import gzip
import statistics

TAGS = {"gemv": 1, "gemv+norm": 2, "q_absorb": 3, "mla_split": 4, "mla_combine": 5, "value_up": 6,
        "latent_append": 7, "exp_gate_up": 8, "exp_down+comb": 9, "exp_down": 10,
        "exp_combine": 11, "route": 12, "rms_norm": 13, "argmax": 14,
        "gemv_routed": 15}
ENTER, WAITED, EXIT = 0, 2, 3


def load(path, step, tag):
    grids = collections.OrderedDict()
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for r in csv.DictReader(f):
            if int(r["step"]) != step:
                continue
            g = grids.setdefault(r["grid"],
                                 {"tag": 0, "ev": collections.defaultdict(dict), "sm": {}})
            b = int(r["block"])
            g["tag"] = max(g["tag"], int(r["tag"]))
            g["ev"][int(r["event"])].setdefault(b, int(r["ns"]))  # first record per block
            g["sm"][b] = int(r["sm"])
    return [g for g in grids.values() if g["tag"] == tag]


def pct(v, p):
    v = sorted(v)
    return v[int(round(p * (len(v) - 1)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--tag", required=True, choices=sorted(TAGS))
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--layer", type=int, default=10, help="launch index for the rate table")
    ap.add_argument("--bytes-per-block", type=float, default=0.0)
    ap.add_argument("--from-entry", action="store_true",
                    help="spread a block's bytes from its entry (kernels that load before PdlWait)")
    a = ap.parse_args()
    ks = load(a.trace, a.step, TAGS[a.tag])
    if not ks:
        raise SystemExit(f"no launches tagged {a.tag} in step {a.step}")
    rows, per_sm = [], collections.defaultdict(list)
    for g in ks:
        e = g["ev"]
        if not e[WAITED] or not e[EXIT]:
            continue
        t0 = min(e[WAITED].values())  # times relative to the launch's first PdlWait return
        ent = [(v - t0) / 1e3 for v in e[ENTER].values()]
        wt = [(v - t0) / 1e3 for v in e[WAITED].values()]
        ex = [(v - t0) / 1e3 for v in e[EXIT].values()]
        busy = [(e[EXIT][b] - e[WAITED][b]) / 1e3 for b in e[EXIT] if b in e[WAITED]]
        rows.append([pct(ent, 0), pct(ent, 1), pct(wt, 0.5), pct(wt, 1), pct(ex, 0), pct(ex, 0.1),
                     pct(ex, 0.5), pct(ex, 0.9), pct(ex, 1), pct(busy, 0), pct(busy, 0.5),
                     pct(busy, 1)])
        for b, v in e[EXIT].items():
            per_sm[g["sm"][b]].append((v - t0) / 1e3)
    names = ["entry0", "entry1", "wait50", "wait1", "exit0", "exit10", "exit50", "exit90", "exit1",
             "busy0", "busy50", "busy1"]
    print(f"{a.tag}: {len(rows)} launches, {len(ks[0]['ev'][EXIT])} blocks each; us from the "
          "launch's first PdlWait return, medians over the launches (busy = exit - own wait)")
    print(" ".join(f"{n:>7}" for n in names))
    print(" ".join(f"{statistics.median(c):7.1f}" for c in zip(*rows)))
    sm = sorted((statistics.median(v), s) for s, v in per_sm.items())
    def rate(t):
        return f" {a.bytes_per_block / t / 1e3:5.1f} GB/s" if a.bytes_per_block else ""
    print("fastest SMs (median exit):", ", ".join(f"{s}: {t:.1f} us{rate(t)}" for t, s in sm[:5]))
    print("slowest SMs (median exit):", ", ".join(f"{s}: {t:.1f} us{rate(t)}" for t, s in sm[-5:]))
    if not a.bytes_per_block:
        return
    g = ks[min(a.layer, len(ks) - 1)]
    e = g["ev"]
    t0 = min(e[WAITED].values())
    start = e[ENTER] if a.from_entry else e[WAITED]
    ivs = [((start[b] - t0) / 1e3, (e[EXIT][b] - t0) / 1e3) for b in e[EXIT] if b in start]
    print(f"launch {a.layer}: estimated aggregate rate (TB/s) and blocks active, 1 us bins")
    t, end = min(i[0] for i in ivs), max(i[1] for i in ivs)
    while t < end:
        live = [(s, x) for s, x in ivs if s <= t < x]
        tbs = sum(a.bytes_per_block / (x - s) for s, x in live) / 1e6
        print(f"{t:6.1f} {tbs:5.2f} {len(live):4d}")
        t += 1.0


if __name__ == "__main__":
    main()
