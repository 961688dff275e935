#!/usr/bin/env bash
# The GPU decoder's check on the GPU machine, in one command: the carried test binaries (kernels,
# decoder CPU tests, GPU decoder vs CPU references), compute-sanitizer memcheck over the GPU
# decoder tests on the small models, then a V2-Lite-size random model written there with the
# carried sieve-make-model (--routing uniform, ~31 GB) and loaded by sieve-gpu-bench, which
# reports load time, device memory and greedy decode ms/step at batch 1 and 8.
#
# Build here (nvcc, no GPU needed), copy the binaries into an ignored folder, carry it:
#   cmake -S . -B build-gpu -DSIEVE_CUDA_ARCHS=90a && cmake --build build-gpu -j2 --target \
#     sieve_cuda_tests sieve_decoder_tests sieve_gpu_decoder_tests sieve_make_model sieve_gpu_bench
#   mkdir -p .devcarry/gpu-decoder/tests && cp build-gpu/tests/sieve_{cuda,decoder,gpu_decoder}_tests \
#     .devcarry/gpu-decoder/tests/ && cp build-gpu/sieve-{make-model,gpu-bench} .devcarry/gpu-decoder/
# then on the device (carry .devcarry/gpu-decoder):
#   bash scripts/gpu/decoder-check.sh [BIN_DIR]
# Environment: OUT (logs; default /tmp/sieve-decoder-check), SIEVE_SKIP_V2LITE=1 (tests only),
# SIEVE_V2LITE_DIR (model folder; default: the largest of /tmp, /root, this checkout),
# SIEVE_BENCH_WIDE=1 (also batch 32 and 64, and a 1024-token context at batch 1 and 8, in
# bench-long.log), SIEVE_SKIP_COLD=1 (no cold-cache load).
# Files left in OUT (at most 8, the device tool's limit): the three test logs, sanitizer.log,
# make-model.log, bench.log, bench-long.log (SIEVE_BENCH_WIDE) and cold-load.log (a second load
# after dropping the page cache). Results of the issue-6 runs: scripts/gpu/decoder-notes.md.
# The last lines are a summary table. Exit status 0 only when every step passed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"

BIN=${1:-.devcarry/gpu-decoder}
OUT=${OUT:-/tmp/sieve-decoder-check}
mkdir -p "$OUT"
START=$(date +%s)
status=0

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader ||
  echo "nvidia-smi failed"
nproc
free -g | head -2

# cuBLAS is linked dynamically; find it the way run-gpu-tests.sh does.
add_cuda_libs "$BIN/sieve-gpu-bench"

# ---- 1. tests ----
T0=$(date +%s)
OUT=/tmp/sieve-decoder-tests timeout 180 bash scripts/gpu/run-gpu-tests.sh "$BIN" \
  > /tmp/sieve-run-tests.out 2>&1
tests_rc=$?
tail -1 /tmp/sieve-run-tests.out
cp /tmp/sieve-decoder-tests/*.log "$OUT"/ 2>/dev/null
[[ $tests_rc -eq 0 ]] || status=1
T1=$(date +%s)

# ---- 2. memcheck over the GPU decoder on small models (bounded) ----
sanitizer="skipped"
if command -v compute-sanitizer > /dev/null && [[ -x $BIN/tests/sieve_gpu_decoder_tests ]]; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$BIN/tests/sieve_gpu_decoder_tests" \
    --gtest_filter='*random_tiny*:GpuSession*:GpuWeights*:LatentKvCache*' > "$OUT/sanitizer.log" 2>&1
  rc=$?
  # Judge memcheck by its own summary: a failing test also makes the binary exit 1.
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$OUT/sanitizer.log" | tail -1)
  if [[ $rc -eq 124 ]]; then
    sanitizer="timed out (120 s)"
  elif [[ $errors == 0 ]]; then
    sanitizer="0 memcheck errors (tests rc $rc)"
  else
    sanitizer="FAILED: ${errors:-?} memcheck errors (rc $rc)"
    status=1
  fi
fi
T2=$(date +%s)

# ---- 3. V2-Lite-size model: write, load, decode ----
make_s="-"
bench_rc="skipped"
if [[ ${SIEVE_SKIP_V2LITE:-0} != 1 ]]; then
  if [[ -z ${SIEVE_V2LITE_DIR:-} ]]; then
    best=/tmp
    best_avail=0
    for d in /tmp /root "$PWD"; do
      avail=$(df -k --output=avail "$d" 2>/dev/null | tail -1 | tr -d ' ')
      if [[ -n $avail && $avail -gt $best_avail ]]; then best=$d; best_avail=$avail; fi
    done
    SIEVE_V2LITE_DIR=$best/sieve-v2-lite
  fi
  df -h "$(dirname "$SIEVE_V2LITE_DIR")" | tail -1
  M0=$(date +%s)
  if [[ ! -f $SIEVE_V2LITE_DIR/config.json ]]; then
    timeout 180 "$BIN/sieve-make-model" --preset v2-lite --routing uniform --out "$SIEVE_V2LITE_DIR" \
      > "$OUT/make-model.log" 2>&1 || { echo "sieve-make-model failed"; tail -3 "$OUT/make-model.log"; status=1; }
    tail -1 "$OUT/make-model.log"
  fi
  make_s=$(( $(date +%s) - M0 ))
  if [[ -f $SIEVE_V2LITE_DIR/config.json ]]; then
    # The page cache still holds most of the files just written: this is a warm-cache load.
    batches=1,8
    [[ ${SIEVE_BENCH_WIDE:-0} == 1 ]] && batches=1,8,32,64
    timeout 120 "$BIN/sieve-gpu-bench" --model "$SIEVE_V2LITE_DIR" --batch $batches --prompt-len 32 \
      --steps 16 > "$OUT/bench.log" 2>&1
    bench_rc=$?
    [[ $bench_rc -eq 0 ]] || status=1
    if [[ ${SIEVE_BENCH_WIDE:-0} == 1 ]]; then
      timeout 150 "$BIN/sieve-gpu-bench" --model "$SIEVE_V2LITE_DIR" --batch 1,8 --prompt-len 1024 \
        --steps 8 > "$OUT/bench-long.log" 2>&1 || status=1
    fi
    # A cold-cache load, as a first `sieve` run after boot would see it.
    if [[ ${SIEVE_SKIP_COLD:-0} != 1 ]]; then
      sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null &&
        timeout 120 "$BIN/sieve-gpu-bench" --model "$SIEVE_V2LITE_DIR" --load-only \
          > "$OUT/cold-load.log" 2>&1
    fi
  fi
fi
T3=$(date +%s)

# ---- summary ----
echo
echo "== GPU decoder vs CPU references ([gpu-vs-cpu] lines; details in $OUT/sieve_gpu_decoder_tests.log)"
grep -h "^\[gpu-vs-cpu\]" "$OUT"/sieve_gpu_decoder_tests.log 2>/dev/null | cut -c14- | head -60
echo "excused positions: $(grep -c '^\[gpu-vs-cpu detail\]' "$OUT"/sieve_gpu_decoder_tests.log 2>/dev/null)"
grep -h -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT"/sieve_*.log 2>/dev/null | head -30
if [[ -f $OUT/bench.log ]]; then
  echo
  grep -E "^(device|model|load|session|device memory):" "$OUT/bench.log"
  [[ -f $OUT/cold-load.log ]] && grep -E "^load:" "$OUT/cold-load.log" | sed 's/^load:/cold-cache load:/'
  sed -n '/== sieve-gpu-bench summary/,$p' "$OUT/bench.log"
  if [[ -f $OUT/bench-long.log ]]; then
    echo "-- 1024-token context"
    sed -n '/== sieve-gpu-bench summary/,$p' "$OUT/bench-long.log" | tail -n +3
  fi
  [[ $bench_rc -eq 0 ]] || tail -5 "$OUT/bench.log"
fi
echo
echo "== decoder-check summary"
printf "%-28s %s\n" "test binaries" "$(tail -1 /tmp/sieve-run-tests.out) ($((T1 - T0)) s)"
printf "%-28s %s\n" "memcheck (small models)" "$sanitizer ($((T2 - T1)) s)"
printf "%-28s %s\n" "v2-lite write" "${make_s} s"
printf "%-28s %s\n" "v2-lite bench" "rc ${bench_rc} ($((T3 - T2)) s incl. write)"
printf "%-28s %s\n" "total" "$(( $(date +%s) - START )) s, status $status"
exit $status
