#!/usr/bin/env bash
# Routed-expert kernels, old vs new build in one device call (issue 7, step 13):
#   1. (unless SIEVE_AB_SKIP_TESTS=1) the new build's tests (run-gpu-tests.sh: every-element kernel tests, decoder CPU tests with
#      the strict fixtures, GPU decoder vs the CPU references and transformers), logs packed into
#      $OUT/tests.tar.gz;
#   2. the random V2-Lite model (written on the device if missing);
#   3. sieve-gpu-bench of both builds on that model, alternating old / new: the defaults (batch 1,
#      8, 64 and a 4096-token prefill) once each, then batch 64 alone (no prefill) once more each
#      ($OUT/bench-{old,new}.log, $OUT/bench64-{old,new}.log);
#   4. (SIEVE_AB_PROFILE=1) Nsight Compute on the new build's expert kernels
#      (expert-profile.sh with SIEVE_PROFILE_KERNELS, default StreamedMma).
# Binaries: NEW (default .devcarry/gpu-decoder: tests/, sieve-make-model, sieve-gpu-bench) and OLD
# (default .devcarry/gpu-decoder-old: sieve-gpu-bench), built here and carried (see
# issue7-check.sh). The last lines are a table of decode ms/step and the experts' stage time.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"
NEW=${NEW:-.devcarry/gpu-decoder}
OLD=${OLD:-.devcarry/gpu-decoder-old}
OUT=${OUT:-/tmp/sieve-expert-ab}
mkdir -p "$OUT"
LOGS=/tmp/sieve-expert-ab-logs
mkdir -p "$LOGS"
status=0

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem \
  --format=csv,noheader || echo "nvidia-smi failed"
SOURCE_DIR=${SIEVE_SOURCE_DIR:-/work/main}
if [[ ! -e $SOURCE_DIR ]]; then
  mkdir -p "$(dirname "$SOURCE_DIR")" && ln -s "$PWD" "$SOURCE_DIR"
fi

# ---- 1. tests (SIEVE_AB_SKIP_TESTS=1: none, e.g. after issue7-check.sh in the same call) ----
if [[ ${SIEVE_AB_SKIP_TESTS:-0} != 1 ]]; then
  T0=$(date +%s)
  OUT=$LOGS timeout 300 bash scripts/gpu/run-gpu-tests.sh "$NEW" > "$LOGS/run-tests.out" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || status=1
  echo "tests: rc $rc, $(tail -1 "$LOGS/run-tests.out") ($(( $(date +%s) - T0 )) s)"
  grep -h -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|Failure|error:" "$LOGS"/sieve_*.log 2>/dev/null | head -30
  tar -C "$LOGS" -czf "$OUT/tests.tar.gz" . 2>/dev/null
fi

# ---- 2. model ----
add_cuda_libs "$NEW/sieve-gpu-bench"
MODEL=${SIEVE_V2LITE_DIR:-/tmp/sieve-v2-lite}
T0=$(date +%s)
if [[ ! -f $MODEL/config.json ]]; then
  timeout 180 "$NEW/sieve-make-model" --preset v2-lite --routing uniform --out "$MODEL" \
    > "$LOGS/make-model.log" 2>&1 || { echo "sieve-make-model failed"; tail -3 "$LOGS/make-model.log"; exit 1; }
fi
echo "model write: $(( $(date +%s) - T0 )) s"

# ---- 3. bench, alternating builds ----
bench() {  # name binary log args...
  local name=$1 bin=$2 log=$3
  shift 3
  timeout 240 "$bin" --model "$MODEL" "$@" > "$log" 2>&1 || { echo "$name: rc $?"; status=1; }
}
bench old "$OLD/sieve-gpu-bench" "$OUT/bench-old.log"
bench new "$NEW/sieve-gpu-bench" "$OUT/bench-new.log"
bench old64 "$OLD/sieve-gpu-bench" "$OUT/bench64-old.log" --batch 64 --prefill-len 0
bench new64 "$NEW/sieve-gpu-bench" "$OUT/bench64-new.log" --batch 64 --prefill-len 0

# ---- 4. profile ----
if [[ ${SIEVE_AB_PROFILE:-0} == 1 ]]; then
  BIN=$NEW OUT=/tmp/sieve-expert-profile SIEVE_PROFILE_KERNELS=${SIEVE_PROFILE_KERNELS:-StreamedMma} \
    timeout 200 bash scripts/gpu/expert-profile.sh > "$OUT/profile.txt" 2>&1
  echo "profile rc $?"
  grep -E "Kernel|Duration|DRAM Throughput|Issue Slots|stall" "$OUT/profile.txt" | head -24
fi

echo
echo "== expert A/B (old = $OLD, new = $NEW)"
for f in bench-old bench-new bench64-old bench64-new; do
  echo "-- $f"
  grep -E "decode median|^prefill:" "$OUT/$f.log" | sed -E 's/; greedy tokens of sequence 0:/ | seq0:/'
  grep -E "GPU ms/step by stage" "$OUT/$f.log" | sed -E 's/.*(batch [0-9]+).*moe.experts ([0-9.]+).*/\1 moe.experts \2 ms/'
done
echo "status $status"
exit $status
