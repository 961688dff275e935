#!/usr/bin/env python3
"""Per-kernel timeline of one traced decode step (issue 7, session 8, second round).

Input: trace-b<batch>.csv from a SIEVE_PDL_TRACE build of sieve-gpu-bench (cuda/common/pdl_trace.h:
thread 0 of each block records %globaltimer at entry, at the trigger (PdlLaunchDependents), when
PdlWait returned and at exit; one grid per launch). Output, for the chosen step:
  1. every launch of one MoE layer in start order, times in us from that layer's first entry;
  2. the median over all MoE layers of the same pattern, each time relative to the previous
     main-stream kernel's last exit ("prev end"): first / last block entry (negative = placed
     before its predecessor finished), PdlWait returned (last block), last exit, and the
     critical-path increment (this kernel's last exit - prev end).
Usage: pdl-trace.py trace-b1.csv[.gz] [--step 1] [--layer 10]
"""
import argparse
import collections
import csv
import gzip
import statistics

TAGS = {0: "?", 1: "gemv", 2: "gemv+norm", 3: "q_absorb", 4: "mla_split", 5: "mla_combine",
        6: "value_up", 7: "latent_append", 8: "exp_gate_up", 9: "exp_down+comb", 10: "exp_down",
        11: "exp_combine", 12: "route(side)", 13: "rms_norm", 14: "argmax",
        15: "gemv+route"}
ENTER, TRIGGER, WAITED, EXIT = 0, 1, 2, 3


def load(path, step):
    grids = collections.OrderedDict()
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for r in csv.DictReader(f):
            if int(r["step"]) != step:
                continue
            g = grids.setdefault(r["grid"], {"tag": 0, "blocks": int(r["blocks"]),
                                             "threads": int(r["threads"]), "ev": collections.defaultdict(dict)})
            ev, blk, ns = int(r["event"]), int(r["block"]), int(r["ns"])
            g["tag"] = max(g["tag"], int(r["tag"]))
            # first record of each (event, block): a thread may call PdlWait more than once
            g["ev"][ev].setdefault(blk, ns)
    out = []
    for gid, g in grids.items():
        e = g["ev"]
        first_seen = {}
        for ev in (ENTER, TRIGGER, WAITED, EXIT):
            for b, ns in e[ev].items():
                first_seen[b] = min(first_seen.get(b, ns), ns)
        k = {"grid": gid, "name": TAGS.get(g["tag"], str(g["tag"])), "blocks": g["blocks"],
             "threads": g["threads"], "seen": len(first_seen),
             "start0": min(first_seen.values()), "start1": max(first_seen.values())}
        for ev, key in ((TRIGGER, "trig"), (WAITED, "wait"), (EXIT, "exit")):
            v = list(e[ev].values())
            k[key + "0"] = min(v) if v else None
            k[key + "1"] = max(v) if v else None
        out.append(k)
    out.sort(key=lambda k: k["start0"])
    return out


def layers(ks):
    """Splits the launches at each q_absorb (a layer starts one launch before it)."""
    starts = [i - 1 for i, k in enumerate(ks) if k["name"] == "q_absorb"]
    return [ks[a:b] for a, b in zip(starts, starts[1:] + [len(ks)])]


def fmt(x):
    return " " * 8 if x is None else f"{x:8.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--layer", type=int, default=10)
    a = ap.parse_args()
    ks = load(a.csv, a.step)
    t0 = ks[0]["start0"]
    end = max((k["exit1"] or k["wait1"] or k["start1"]) for k in ks)
    print(f"step {a.step}: {len(ks)} launches, first entry to last record {(end - t0) / 1e3:.1f} us")
    ls = layers(ks)
    pat = collections.Counter(tuple(k["name"] for k in l) for l in ls).most_common(1)[0][0]
    moe = [l for l in ls if tuple(k["name"] for k in l) == pat]
    print(f"{len(ls)} layers split at q_absorb; {len(moe)} share the pattern: {' '.join(pat)}")
    lay = moe[min(a.layer, len(moe) - 1)]
    b = lay[0]["start0"]
    print(f"\n== one layer (times in us from its first entry; layer {min(a.layer, len(moe) - 1)})")
    print(f"{'kernel':15s} {'blocks':>6s} {'thr':>4s} {'entry0':>8s} {'entry1':>8s} {'trig1':>8s} "
          f"{'wait0':>8s} {'wait1':>8s} {'exit0':>8s} {'exit1':>8s}")
    for k in lay:
        r = lambda x: None if x is None else (x - b) / 1e3
        print(f"{k['name']:15s} {k['blocks']:6d} {k['threads']:4d} {fmt(r(k['start0']))} "
              f"{fmt(r(k['start1']))} {fmt(r(k['trig1']))} {fmt(r(k['wait0']))} {fmt(r(k['wait1']))} "
              f"{fmt(r(k['exit0']))} {fmt(r(k['exit1']))}")
    # Medians over the MoE layers, relative to the previous main-stream kernel's last exit.
    print(f"\n== median over {len(moe)} layers, us relative to the previous main-stream kernel's last "
          "exit (prev end)")
    print(f"{'kernel':15s} {'entry0':>8s} {'entry1':>8s} {'wait1':>8s} {'exit1':>8s} "
          f"{'busy':>8s}  (busy = exit1 - max(wait1, entry1))")
    n = len(pat)
    total = 0.0
    for i in range(n):
        rows = collections.defaultdict(list)
        for li, l in enumerate(moe):
            k = l[i]
            # previous main-stream kernel: the launch before, skipping the side stream's routing;
            # for a layer's first kernel, the previous layer's last kernel.
            j, prev_l = i - 1, l
            if j < 0:
                idx = ls.index(l)
                if idx == 0:
                    continue
                prev_l, j = ls[idx - 1], len(ls[idx - 1]) - 1
            while j >= 0 and prev_l[j]["name"] == "route(side)":
                j -= 1
            pe = prev_l[j]["exit1"]
            if pe is None:
                continue
            rows["entry0"].append((k["start0"] - pe) / 1e3)
            rows["entry1"].append((k["start1"] - pe) / 1e3)
            if k["wait1"] is not None:
                rows["wait1"].append((k["wait1"] - pe) / 1e3)
            if k["exit1"] is not None:
                rows["exit1"].append((k["exit1"] - pe) / 1e3)
                ready = max(k["wait1"] or k["start1"], k["start1"])
                rows["busy"].append((k["exit1"] - ready) / 1e3)
        med = {key: (statistics.median(v) if v else None) for key, v in rows.items()}
        if pat[i] != "route(side)" and med.get("exit1") is not None:
            total += med["exit1"]
        print(f"{pat[i]:15s} {fmt(med.get('entry0'))} {fmt(med.get('entry1'))} "
              f"{fmt(med.get('wait1'))} {fmt(med.get('exit1'))} {fmt(med.get('busy'))}")
    print(f"sum of main-stream exit1 increments: {total:.1f} us per layer")
    # Side stream: routing's last exit vs the expert gate/up's first entry.
    gaps = []
    for l in moe:
        names = [k["name"] for k in l]
        if "route(side)" in names and "exp_gate_up" in names:
            r = l[names.index("route(side)")]
            g = l[names.index("exp_gate_up")]
            prev = l[names.index("exp_gate_up") - 1]
            if prev["name"] == "route(side)":
                prev = l[names.index("exp_gate_up") - 2]
            gaps.append(((r["exit1"] - prev["exit1"]) / 1e3, (g["start0"] - max(r["exit1"], prev["exit1"])) / 1e3,
                         (r["start0"] - l[0]["start0"]) / 1e3, (r["exit1"] - r["start0"]) / 1e3))
    if gaps:
        print("\n== join (median over layers): routing's last exit - main stream's last exit before "
              f"the join {statistics.median(g[0] for g in gaps):.1f} us; gate/up first entry - "
              f"later of the two {statistics.median(g[1] for g in gaps):.1f} us; routing entry "
              f"{statistics.median(g[2] for g in gaps):.1f} us after the layer's first entry, "
              f"runs {statistics.median(g[3] for g in gaps):.1f} us")


if __name__ == "__main__":
    main()
