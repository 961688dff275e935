#!/usr/bin/env bash
# Per-kernel GPU time of one decode step (issue 7), on the GPU machine, with Nsight Compute:
# writes the V2-Lite random model if missing, then runs sieve-gpu-bench at context 4096 under
# `ncu --metrics gpu__time_duration.sum --clock-control none` (one metric, one pass, the card's
# own clocks) for each batch in SIEVE_PROFILE_BATCHES (default "1 8"), and summarises the last
# eager decode step with ncu-summary.py (kernel durations only: no launch gaps, which the
# graph-replayed step time includes). CSVs and summaries go to $OUT.
#   BIN=.devcarry/gpu-decoder bash scripts/gpu/issue7-profile.sh
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"
BIN=${BIN:-.devcarry/gpu-decoder}
OUT=${OUT:-/tmp/sieve-issue7-profile}
mkdir -p "$OUT"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 ||
      ls /usr/local/cuda/bin/ncu 2>/dev/null)
[[ -n $NCU ]] || { echo "ncu not found"; exit 1; }
add_cuda_libs "$BIN/sieve-gpu-bench"
MODEL=${SIEVE_V2LITE_DIR:-/tmp/sieve-v2-lite}
if [[ ! -f $MODEL/config.json ]]; then
  T0=$(date +%s)
  timeout 180 "$BIN/sieve-make-model" --preset v2-lite --routing uniform --out "$MODEL" \
    > /tmp/make-model.log 2>&1 || { echo "sieve-make-model failed"; tail -3 /tmp/make-model.log; exit 1; }
  echo "model written in $(( $(date +%s) - T0 )) s"
fi
status=0
for b in ${SIEVE_PROFILE_BATCHES:-1 8}; do
  T0=$(date +%s)
  timeout ${SIEVE_PROFILE_TIMEOUT:-240} "$NCU" --metrics gpu__time_duration.sum --clock-control none \
    --csv --print-units base --log-file "$OUT/ncu-b$b.csv" \
    "$BIN/sieve-gpu-bench" --model "$MODEL" --batch "$b" --steps 1 --warmup 0 --prompt-len 1 \
    --prefill-len 0 > "$OUT/bench-b$b.log" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || status=1
  echo "== batch $b: ncu rc $rc ($(( $(date +%s) - T0 )) s)"
  python3 scripts/gpu/ncu-summary.py "$OUT/ncu-b$b.csv" | tee "$OUT/summary-b$b.txt"
done
exit $status
