#!/usr/bin/env python3
"""Which MLA split block exits last, and which MLA combine blocks are slow, per layer (issue 7,
session 12, third round).

Input: trace-b1.csv[.gz] of a SIEVE_PDL_TRACE build whose MlaSplitKernel marks kStage0 (q staged),
kStage1 (first tile arrived), kStage2 (math done) and whose MlaCombineKernel marks kStage0 (weights
ready), kStage1 (sums done) and, where the build has them (session 12 step 64's temporary marks,
raw event numbers in mla_decode.cu only): event 8 right after PdlWait (split consumers and
combine: the kWaited record's own atomic round trip), event 9 in the split right after kStage2 (that
mark's round trip) and in the combine after the first barrier (lse values in shared memory), event
10 in the combine after the second barrier (max / sum).
For each layer: the split's last block (index, SM, entry rank, phases) against the launch's median
block, and what else sat on that SM (other grids' blocks resident between its wait and exit); for
the combine, the blocks whose weights phase exceeds --slow us: index, SM, sub-phases, and the
blocks of other grids resident on that SM.
Usage: pdl-trace-lastblock.py trace-b1.csv.gz [--step 1] [--slow 4.5] [--layers 3]
"""
import argparse
import collections
import csv
import gzip
import statistics as st

NAMES = {1: "gemv", 2: "gemv+norm", 3: "q_absorb", 4: "split", 5: "combine", 6: "value_up",
         7: "append", 8: "gate_up", 9: "down+comb", 10: "down", 11: "ecomb", 12: "route",
         13: "rms", 14: "argmax", 15: "gemv_routed"}
ENTER, TRIG, WAITED, EXIT, S0, S1, S2, S3 = range(8)
M8, M9, M10 = 8, 9, 10  # step 64 temporary marks


def load(path, step):
    rows = collections.defaultdict(list)
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for r in csv.DictReader(f):
            if int(r["step"]) == step:
                rows[r["grid"]].append(r)
    grids = []
    for gid, rs in rows.items():
        g = {"tag": max(int(r["tag"]) for r in rs), "ev": collections.defaultdict(dict), "sm": {},
             "grid": gid, "blocks": int(rs[0]["blocks"])}
        for r in rs:
            b = int(r["block"])
            g["ev"][int(r["event"])].setdefault(b, int(r["ns"]))
            g["sm"][b] = int(r["sm"])
        g["t0"] = min(g["ev"][ENTER].values())
        grids.append(g)
    grids.sort(key=lambda g: g["t0"])
    return grids


def med(v):
    return st.median(v) if v else float("nan")


def pct(v, p):
    v = sorted(v)
    return v[int(round(p * (len(v) - 1)))] if v else float("nan")


def us(a, b):
    return (a - b) / 1000.0


def residents(grids, me, sm, t_from, t_to):
    """Blocks of other grids on `sm` overlapping [t_from, t_to]: list of (name, block, enter, exit)."""
    out = []
    for g in grids:
        if g is me:
            continue
        for b, s in g["sm"].items():
            if s != sm:
                continue
            e, x = g["ev"][ENTER].get(b), g["ev"][EXIT].get(b)
            if e is None or x is None or x < t_from or e > t_to:
                continue
            out.append((NAMES.get(g["tag"], g["tag"]), b, e, x))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--slow", type=float, default=4.5, help="combine weights phase, us")
    ap.add_argument("--layers", type=int, default=3, help="layers printed in full")
    a = ap.parse_args()
    grids = load(a.trace, a.step)
    splits = [i for i, g in enumerate(grids) if g["tag"] == 4]
    agg = collections.defaultdict(list)
    last_ids = collections.Counter()
    slow_ids = collections.Counter()
    slow_sms = collections.Counter()
    all_sms = collections.Counter()
    for li, i in enumerate(splits):
        sp = grids[i]
        qa = max((g for g in grids[:i] if g["tag"] == 3), key=lambda g: g["t0"], default=None)
        cb = next((g for g in grids[i + 1:] if g["tag"] == 5), None)
        if qa is None or cb is None:
            continue
        qa_exit = max(qa["ev"][EXIT].values())
        ev = sp["ev"]
        blocks = sorted(ev[EXIT])
        last = max(blocks, key=lambda b: ev[EXIT][b])
        last_ids[last] += 1
        order = sorted(blocks, key=lambda b: ev[ENTER][b])
        rank = order.index(last)
        def ph(b):
            w = ev[WAITED].get(b)
            return {"enter": us(ev[ENTER][b], qa_exit), "wait": us(w, qa_exit) if w else float("nan"),
                    "q": us(ev[S0][b], w) if w and b in ev[S0] else float("nan"),
                    "tile": us(ev[S1][b], ev[S0][b]) if b in ev[S1] else float("nan"),
                    "math": us(ev[S2][b], ev[S1][b]) if b in ev[S2] else float("nan"),
                    "epi": us(ev[EXIT][b], ev[S2][b]) if b in ev[S2] else float("nan"),
                    "exit": us(ev[EXIT][b], qa_exit)}
        P = {b: ph(b) for b in blocks}
        second = sorted(blocks, key=lambda b: ev[EXIT][b])[-2]
        for k in ("enter", "wait", "q", "tile", "math", "epi", "exit"):
            agg["last_" + k].append(P[last][k])
            agg["med_" + k].append(med([P[b][k] for b in blocks]))
        agg["gap_last_second"].append(us(ev[EXIT][last], ev[EXIT][second]))
        agg["last_rank"].append(rank)
        # which phase makes the last block last: its excess over the median in each phase
        # combine
        cev = cb["ev"]
        split_exit = max(ev[EXIT].values())
        cblocks = sorted(cev[EXIT])
        cph = {}
        for b in cblocks:
            w = cev[WAITED].get(b)
            cph[b] = {"wait": us(w, split_exit), "s2": us(cev[M9][b], w) if b in cev[M9] else float("nan"),
                      "s3": us(cev[M10][b], cev[M9][b]) if b in cev[M10] and b in cev[M9] else float("nan"),
                      "w": us(cev[S0][b], cev[M10][b]) if b in cev[M10] else float("nan"),
                      "weights": us(cev[S0][b], w), "sums": us(cev[S1][b], cev[S0][b]),
                      "exit": us(cev[EXIT][b], split_exit), "sm": cb["sm"][b]}
            all_sms[cb["sm"][b]] += 1
        clast = max(cblocks, key=lambda b: cev[EXIT][b])
        agg["c_exit_last"].append(cph[clast]["exit"])
        agg["c_last_weights"].append(cph[clast]["weights"])
        agg["c_med_weights"].append(med([cph[b]["weights"] for b in cblocks]))
        agg["c_last_is_slow"].append(1 if cph[clast]["weights"] > a.slow else 0)
        for k in ("s2", "s3", "w"):
            agg["c_med_" + k].append(med([cph[b][k] for b in cblocks]))
        slow = [b for b in cblocks if cph[b]["weights"] > a.slow]
        agg["c_nslow"].append(len(slow))
        for b in slow:
            slow_ids[b] += 1
            slow_sms[cb["sm"][b]] += 1
            for k in ("s2", "s3", "w", "wait"):
                agg["c_slow_" + k].append(cph[b][k])
            agg["c_slow_sm_has_split"].append(1 if cb["sm"][b] in set(sp["sm"].values()) else 0)
            agg["c_slow_split_exit_same_sm"].append(
                max((us(ev[EXIT][sb], split_exit) for sb, s in sp["sm"].items() if s == cb["sm"][b]),
                    default=float("nan")))
        fast = [b for b in cblocks if cph[b]["weights"] <= a.slow]
        for b in fast:
            agg["c_fast_split_exit_same_sm"].append(
                max((us(ev[EXIT][sb], split_exit) for sb, s in sp["sm"].items() if s == cb["sm"][b]),
                    default=float("nan")))
            agg["c_fast_sm_has_split"].append(1 if cb["sm"][b] in set(sp["sm"].values()) else 0)
        if li < a.layers or li == 10:
            print(f"--- layer {li}: q_absorb last exit = 0; split last block {last} (SM {sp['sm'][last]}, "
                  f"entry rank {rank}/{len(blocks)}), 2nd-last exit {us(ev[EXIT][second], qa_exit):.2f}")
            print("  block  sm  enter   wait   q     tile  math  epi   exit")
            for b in sorted(blocks, key=lambda b: -ev[EXIT][b])[:6] + [None] + \
                    sorted(blocks, key=lambda b: ev[EXIT][b])[:3]:
                if b is None:
                    print("  ...")
                    continue
                p = P[b]
                print(f"  {b:5d} {sp['sm'][b]:3d} {p['enter']:6.2f} {p['wait']:6.2f} {p['q']:5.2f} "
                      f"{p['tile']:5.2f} {p['math']:5.2f} {p['epi']:5.2f} {p['exit']:6.2f}")
            res = residents(grids, sp, sp["sm"][last], ev[WAITED].get(last, ev[ENTER][last]),
                            ev[EXIT][last])
            print("  residents on its SM during its run:",
                  ", ".join(f"{n}#{b}[{us(e, qa_exit):.1f},{us(x, qa_exit):.1f}]" for n, b, e, x in res))
            print(f"  combine (us after split's last exit): last block {clast} SM {cph[clast]['sm']} "
                  f"exit {cph[clast]['exit']:.2f}; slow (> {a.slow} us weights): {len(slow)}")
            print("  block  sm  wait  lse+bar  maxsum  wts   weights sums  exit  residents")
            for b in sorted(cblocks, key=lambda b: -cph[b]["weights"])[:8]:
                p = cph[b]
                res = residents(grids, cb, p["sm"], cev[WAITED][b], cev[S0][b])
                print(f"  {b:5d} {p['sm']:3d} {p['wait']:5.2f} {p['s2']:6.2f} {p['s3']:6.2f} {p['w']:5.2f} "
                      f"{p['weights']:6.2f} {p['sums']:5.2f} {p['exit']:5.2f}  " +
                      ", ".join(f"{n}#{bb}" for n, bb, e, x in res))
    print(f"=== over {len(agg['last_exit'])} layers (medians; us; split times after q absorb's last exit)")
    for k in sorted(agg):
        v = [x for x in agg[k] if x == x]
        if v:
            print(f"  {k:28s} median {med(v):7.2f}  p90 {pct(v, 0.9):7.2f}  max {max(v):7.2f}  n {len(v)}")
    print("  split last-block ids:", last_ids.most_common(8))
    print("  combine slow block ids:", slow_ids.most_common(12))
    print("  combine slow SMs:", slow_sms.most_common(12), "of", len(all_sms), "SMs used")


if __name__ == "__main__":
    main()
