#!/usr/bin/env bash
# MLA decode alone (issue 7), on the GPU machine, one call: every carried build of
# mla_decode_bench (BIN/mla_decode_bench*, e.g. a baseline and a candidate, same machine, same
# run) timed for batch 1/8/64 at context 4096 against the device-copy baseline, then (unless
# SIEVE_NCU=0) Nsight Compute's full section set on one MLA split-kernel launch at each batch in
# SIEVE_NCU_BATCHES (default "8 64") for each build: speed of light, memory throughput, warp
# stall reasons, issue-slot use. Reports and logs go to $OUT; the last lines are a summary.
#   BIN=.devcarry/mla bash scripts/gpu/mla-profile.sh
set -uo pipefail
BIN=${BIN:-.devcarry/mla}
OUT=${OUT:-/tmp/sieve-mla-profile}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 ||
      ls /usr/local/cuda/bin/ncu 2>/dev/null)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
status=0
for exe in "$BIN"/mla_decode_bench*; do
  name=$(basename "$exe")
  echo "== $name"
  "$exe" --benchmark_repetitions=${SIEVE_REPS:-5} --benchmark_report_aggregates_only=true \
    --benchmark_min_time=${SIEVE_MIN_TIME:-0.2} > "$OUT/$name.txt" 2>&1 || status=1
  grep -E "median|error|Error" "$OUT/$name.txt"
done
if [[ ${SIEVE_NCU:-1} == 1 && -n $NCU ]]; then
  for exe in "$BIN"/mla_decode_bench*; do
    name=$(basename "$exe")
    for b in ${SIEVE_NCU_BATCHES:-8 64}; do
      timeout 200 "$NCU" --set full --kernel-name regex:MlaSplit --launch-skip 4 --launch-count 1 \
        --clock-control none -f -o "$OUT/ncu-$name-b$b" \
        "$exe" --benchmark_filter="BM_MlaDecode/$b/" --benchmark_min_time=0.001 \
        > "$OUT/ncu-$name-b$b.log" 2>&1 || { status=1; tail -5 "$OUT/ncu-$name-b$b.log"; }
      "$NCU" --import "$OUT/ncu-$name-b$b.ncu-rep" --page details > "$OUT/ncu-$name-b$b-details.txt" 2>&1
      "$NCU" --import "$OUT/ncu-$name-b$b.ncu-rep" --page raw --csv > "$OUT/ncu-$name-b$b-raw.csv" 2>&1
      echo "== ncu $name batch $b"
      grep -E "Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Registers Per|Dynamic Shared|Achieved Occupancy|Issue Slots Busy|Issued Ipc|No Eligible|Warp Cycles Per Issued|Active Warps Per" \
        "$OUT/ncu-$name-b$b-details.txt" | sed 's/  */ /g' | head -20
      python3 - "$OUT/ncu-$name-b$b-raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
if hdr is None:
    sys.exit(0)
names, vals = rows[hdr], rows[hdr + 2] if len(rows) > hdr + 2 else []
st = [(float(v.replace(",", "")), n) for n, v in zip(names, vals)
      if n.startswith("smsp__average_warps_issue_stalled_") and n.endswith("_per_issue_active.ratio")
      and v.replace(",", "").replace(".", "").isdigit()]
st.sort(reverse=True)
print("stalls (warps per issue):", ", ".join(f"{n[34:-23]} {v:.2f}" for v, n in st[:9]))
for n, v in zip(names, vals):
    if n in ("sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active",
             "smsp__inst_executed.sum", "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
             "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum", "dram__bytes_read.sum"):
        print(n, v)
PY
    done
  done
fi
exit $status
