#!/usr/bin/env bash
# Routed-expert kernels of one V2-Lite decode step (issue 7), on the GPU machine: writes the
# random V2-Lite model if missing, then Nsight Compute's full section set on one launch of each
# tensor-core expert kernel (gate/up, down) at SIEVE_PROFILE_BATCH (default 64): memory
# throughput, warp stall reasons, issue-slot use. Same carried binaries as issue7-check.sh.
# SIEVE_NCU_SET (default full) picks a smaller section set (e.g. "detailed") for a quicker call.
#   BIN=.devcarry/gpu-decoder bash scripts/gpu/expert-profile.sh
set -uo pipefail
BIN=${BIN:-.devcarry/gpu-decoder}
OUT=${OUT:-/tmp/sieve-expert-profile}
mkdir -p "$OUT"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
MODEL=${SIEVE_V2LITE_DIR:-/tmp/sieve-v2-lite}
if [[ ! -f $MODEL/config.json ]]; then
  timeout 180 "$BIN/sieve-make-model" --preset v2-lite --routing uniform --out "$MODEL" \
    > /tmp/make-model.log 2>&1 || { echo "sieve-make-model failed"; exit 1; }
fi
b=${SIEVE_PROFILE_BATCH:-64}
# The default names match today's kernels (StreamedMmaKernel gate/up and down, DownCombineKernel
# at 1-2 tokens); the old default (MmaGateUp|MmaDown) matches none of them.
KERNELS=${SIEVE_PROFILE_KERNELS:-StreamedMma|DownCombine}
timeout 300 "$NCU" --set "${SIEVE_NCU_SET:-full}" --kernel-name regex:"$KERNELS" \
  --launch-skip ${SIEVE_PROFILE_SKIP:-4} --launch-count ${SIEVE_PROFILE_COUNT:-2} --clock-control none \
  -f -o "$OUT/expert-b$b" "$BIN/sieve-gpu-bench" --model "$MODEL" --batch "$b" --steps 1 \
  --warmup 0 --prompt-len 1 --prefill-len 0 > "$OUT/expert-b$b.log" 2>&1 || tail -5 "$OUT/expert-b$b.log"
"$NCU" --import "$OUT/expert-b$b.ncu-rep" --page details > "$OUT/expert-b$b-details.txt" 2>&1
grep -E "^  [A-Za-z].*\(|Duration|DRAM Throughput|Memory Throughput|Issue Slots Busy|Registers Per|Achieved Active Warps|Block Limit|Waves Per SM|Warp Cycles Per Issued|Grid Size" \
  "$OUT/expert-b$b-details.txt" | sed 's/  */ /g'
"$NCU" --import "$OUT/expert-b$b.ncu-rep" --page raw --csv > "$OUT/expert-b$b-raw.csv" 2>&1
python3 - "$OUT/expert-b$b-raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
if hdr is None:
    sys.exit(0)
names = rows[hdr]
for vals in rows[hdr + 2:]:
    name = vals[names.index("Kernel Name")] if "Kernel Name" in names else "?"
    st = []
    for n, v in zip(names, vals):
        if n.startswith("smsp__average_warps_issue_stalled_") and n.endswith("_per_issue_active.ratio"):
            try:
                st.append((float(v.replace(",", "")), n[34:-23]))
            except ValueError:
                pass
    st.sort(reverse=True)
    print(name[:40], "stalls:", ", ".join(f"{n} {v:.2f}" for v, n in st[:8]))
PY
