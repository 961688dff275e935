#!/usr/bin/env python3
"""Step 64's tables (issue 7, session 12, third round): per-block phases of the MLA split and
combine at batch 1, from a trace build with step 64's temporary marks (events 8-10, see
pdl-trace-lastblock.py), the combine's launches split into slow (median weights phase > 4.5 us)
and normal ones. Prints one line per combine launch, then the tables.
Usage: pdl-trace-step64.py trace-b1.csv.gz
"""
import collections
import importlib.util
import os
import statistics as st
import sys

spec = importlib.util.spec_from_file_location(
    "lb", os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdl-trace-lastblock.py"))
lb = importlib.util.module_from_spec(spec); spec.loader.exec_module(lb)
P = lambda v,p: lb.pct(v,p)
agg = collections.defaultdict(list); slowagg = collections.defaultdict(list); fastagg = collections.defaultdict(list)
lastagg = collections.defaultdict(list)
nslow = 0; n = 0
for step in (0,1,2):
  grids = lb.load(sys.argv[1], step)
  splits = [i for i, g in enumerate(grids) if g["tag"] == 4]
  for li, i in enumerate(splits):
    sp = grids[i]; cb = next(g for g in grids[i+1:] if g["tag"] == 5)
    qa = max((g for g in grids[:i] if g["tag"] == 3), key=lambda g: g["t0"])
    qx = max(qa["ev"][3].values())
    e = sp["ev"]
    for b in e[3]:
      agg["s_rtt_wait"].append((e[8][b]-e[2][b])/1000)
      agg["s_q_after_rtt"].append((e[4][b]-e[8][b])/1000)
      agg["s_tile"].append((e[5][b]-e[4][b])/1000)
      agg["s_math"].append((e[6][b]-e[5][b])/1000)
      agg["s_rtt_s2"].append((e[9][b]-e[6][b])/1000)
      agg["s_epi_after_rtt"].append((e[3][b]-e[9][b])/1000)
    last = max(e[3], key=lambda b: e[3][b])
    for k,(a,z) in {"wait":(None,2),"rtt_wait":(2,8),"q":(8,4),"tile":(4,5),"math":(5,6),"rtt_s2":(6,9),"epi":(9,3)}.items():
      if a is None:
        lastagg["last_"+k].append((e[z][last]-qx)/1000); lastagg["med_"+k].append(st.median((e[z][b]-qx)/1000 for b in e[3]))
      else:
        lastagg["last_"+k].append((e[z][last]-e[a][last])/1000); lastagg["med_"+k].append(st.median((e[z][b]-e[a][b])/1000 for b in e[3]))
    lastagg["last_exit"].append((e[3][last]-qx)/1000); lastagg["med_exit"].append(st.median((e[3][b]-qx)/1000 for b in e[3]))
    c = cb["ev"]
    w = st.median((c[4][b]-c[2][b])/1000 for b in c[4])
    slow = w > 4.5; n += 1; nslow += slow
    tgt = slowagg if slow else fastagg
    for b in c[4]:
      tgt["c_rtt_wait"].append((c[8][b]-c[2][b])/1000)
      tgt["c_lse_bar1"].append((c[9][b]-c[8][b])/1000)
      tgt["c_maxsum_bar2"].append((c[10][b]-c[9][b])/1000)
      tgt["c_weights_bar3"].append((c[4][b]-c[10][b])/1000)
      tgt["c_weights_total"].append((c[4][b]-c[2][b])/1000)
      tgt["c_sums"].append((c[5][b]-c[4][b])/1000)
    tgt["c_S0_spread"].append((max(c[4].values())-min(c[4].values()))/1000)
    tgt["c_bar1_spread"].append((max(c[9].values())-min(c[9].values()))/1000)
    print(f"s{step} L{li:2d} combine w {w:4.2f} {'SLOW' if slow else '    '} rtt {st.median((c[8][b]-c[2][b])/1000 for b in c[4]):4.2f} lse+bar1 {st.median((c[9][b]-c[8][b])/1000 for b in c[4]):4.2f} maxsum {st.median((c[10][b]-c[9][b])/1000 for b in c[4]):4.2f} wts {st.median((c[4][b]-c[10][b])/1000 for b in c[4]):4.2f} | split last {last} sm {sp['sm'][last]} exit {(e[3][last]-qx)/1000:5.2f} med exit {st.median((e[3][b]-qx)/1000 for b in e[3]):5.2f}")
def show(name, d):
  print("==", name)
  for k in sorted(d):
    v = d[k]; print(f"  {k:20s} median {st.median(v):5.2f} p10 {P(v,.1):5.2f} p90 {P(v,.9):5.2f} max {max(v):5.2f} n {len(v)}")
show("split per block", agg); show("split last block vs median block (per launch)", lastagg)
show(f"combine, slow launches ({nslow}/{n})", slowagg); show("combine, other launches", fastagg)
