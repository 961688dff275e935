#!/usr/bin/env python3
"""Summarises an `ncu --csv --metrics gpu__time_duration.sum` log of sieve-gpu-bench.

Splits the kernel sequence into forwards at each embedding kernel, takes the last forward (an
eager decode step; the graph-replayed steps run the same kernels), and prints its kernels grouped
by name (count, total us, share) plus the per-forward kernel-time totals of the last five forwards.
Usage: ncu-summary.py NCU_CSV
"""
import csv
import re
import sys
from collections import OrderedDict


def short(name):
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"\(.*$", "", name)
    name = re.sub(r"sieve::cuda::(\(anonymous namespace\)::)?", "", name)
    return name[:70]


def main():
    rows = []
    with open(sys.argv[1], newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        v = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "ns")
        us = v / 1000.0 if unit in ("ns", "nsecond") else v * 1e6 if unit == "s" else v
        rows.append((int(r["ID"]), short(r["Kernel Name"]), r.get("Grid Size", ""),
                     r.get("Block Size", ""), us))
    rows.sort()
    starts = [i for i, r in enumerate(rows) if "Embedding" in r[1]]
    if not starts:
        print("no embedding kernel found; %d kernels" % len(rows))
        return
    forwards = [rows[a:b] for a, b in zip(starts, starts[1:] + [len(rows)])]
    print("kernels %d, forwards %d; last five forwards' kernel time (us): %s" % (
        len(rows), len(forwards), " ".join("%.0f" % sum(r[4] for r in fw) for fw in forwards[-5:])))
    last = forwards[-1]
    groups = OrderedDict()
    for _, name, grid, block, us in last:
        key = name
        g = groups.setdefault(key, [0, 0.0, grid, block])
        g[0] += 1
        g[1] += us
    total = sum(g[1] for g in groups.values())
    print("last forward: %d kernels, %.1f us of kernel time" % (len(last), total))
    print("%-70s %5s %9s %6s %8s  %s" % ("kernel", "count", "total us", "share", "us each", "grid/block"))
    for name, (n, us, grid, block) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print("%-70s %5d %9.1f %5.1f%% %8.2f  %s %s" % (name, n, us, 100 * us / total, us / n, grid, block))
    # one layer (the second MoE layer) in order, to see each launch
    emb = [i for i, r in enumerate(last)]
    print("first 45 kernels of the last forward in order:")
    for _, name, grid, block, us in last[:45]:
        print("  %8.2f us  %-60s %s %s" % (us, name[:60], grid, block))


if __name__ == "__main__":
    main()
