#!/usr/bin/env bash
# One device call for issues 6 and 7 (the GPU machine counts held time; batch everything):
#   1. (SIEVE_FIXTURES=1) regenerate the transformers fixtures deepseek_tiny and
#      deepseek_tiny_qlora with make-deepseek-fixtures.py (seed search for bf16 conditioning),
#      copy them over tests/data in this checkout, pack them into $OUT/fixtures.tar.gz;
#   2. the carried test binaries (kernels, decoder CPU tests incl. the fixture test, GPU decoder vs
#      the CPU references and transformers), logs packed into $OUT/tests.tar.gz;
#   3. (SIEVE_SANITIZE=1) compute-sanitizer memcheck + racecheck over the kernel tests (MLA decode:
#      synccheck instead of racecheck, see mla_decode.cu) and memcheck over the small-model GPU
#      decoder tests ($OUT/sanitizer.log);
#   4. a V2-Lite-size random model (uniform routing) written on the device and
#      sieve-gpu-bench: load, memory, decode at context 4096 for batch 1/8/64, stages, prefill of
#      4096 tokens, max KV tokens ($OUT/bench.log); SIEVE_COLD=1 adds a cold-cache load;
#      SIEVE_SKIP_V2LITE=1 skips this step (when an A/B run in the same call benches the model).
# Build here first (nvcc, no GPU needed) and copy the binaries into .devcarry/gpu-decoder:
#   cmake --build build-gpu -j2 --target sieve_cuda_tests sieve_decoder_tests \
#     sieve_gpu_decoder_tests sieve_make_model sieve_gpu_bench
#   mkdir -p .devcarry/gpu-decoder/tests && cp build-gpu/tests/sieve_{cuda,decoder,gpu_decoder}_tests \
#     .devcarry/gpu-decoder/tests/ && cp build-gpu/sieve-{make-model,gpu-bench} .devcarry/gpu-decoder/
# then run (carry .devcarry):  bash scripts/gpu/issue7-check.sh
# The last lines are a summary. Exit status 0 only when every step passed. Per-kernel times of a
# decode step (Nsight Compute): scripts/gpu/issue7-profile.sh, same carried binaries.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"

BIN=${BIN:-.devcarry/gpu-decoder}
OUT=${OUT:-/tmp/sieve-issue7}
mkdir -p "$OUT"
LOGS=/tmp/sieve-issue7-logs
mkdir -p "$LOGS"
START=$(date +%s)
status=0
summary=()

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem \
  --format=csv,noheader || echo "nvidia-smi failed"

# The tests read tests/data through the absolute source path compiled in.
SOURCE_DIR=${SIEVE_SOURCE_DIR:-/work/main}
if [[ ! -e $SOURCE_DIR ]]; then
  mkdir -p "$(dirname "$SOURCE_DIR")" && ln -s "$PWD" "$SOURCE_DIR"
fi

# ---- 1. fixtures ----
if [[ ${SIEVE_FIXTURES:-0} == 1 ]]; then
  T0=$(date +%s)
  rm -rf /tmp/fx
  PYTHONUNBUFFERED=1 timeout 420 python3 scripts/gpu/make-deepseek-fixtures.py --out /tmp/fx \
    --only deepseek_tiny,deepseek_tiny_qlora > "$OUT/fixture-log.txt" 2>&1
  rc=$?
  grep -E "seed [0-9]+:|WARNING|failures:|wrote" "$OUT/fixture-log.txt" | cut -c1-400
  if [[ $rc -eq 0 ]]; then
    for n in deepseek_tiny deepseek_tiny_qlora; do
      cp /tmp/fx/$n/config.json /tmp/fx/$n/model.safetensors /tmp/fx/$n/expected.json \
        tests/data/$n/ || status=1
    done
    cp /tmp/fx/fixtures.tar.gz "$OUT/"
  else
    status=1
  fi
  summary+=("fixtures: rc $rc ($(( $(date +%s) - T0 )) s)")
fi

# ---- 2. tests ----
T0=$(date +%s)
# Step 3 runs the sanitizers (SIEVE_SANITIZE=1); run-gpu-tests' own sanitizer pass would repeat
# them, so it is switched off here.
OUT=$LOGS SIEVE_SANITIZE=0 timeout 300 bash scripts/gpu/run-gpu-tests.sh "$BIN" \
  > "$LOGS/run-tests.out" 2>&1
rc=$?
[[ $rc -eq 0 ]] || status=1
summary+=("tests: $(tail -1 "$LOGS/run-tests.out") ($(( $(date +%s) - T0 )) s)")
grep -h "^\[gpu-vs-cpu\]" "$LOGS"/sieve_gpu_decoder_tests.log 2>/dev/null | cut -c14- | head -70
echo "excused positions: $(grep -c '^\[gpu-vs-cpu detail\]' "$LOGS"/sieve_gpu_decoder_tests.log 2>/dev/null)"
grep -h -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|Failure|error:" "$LOGS"/sieve_*.log 2>/dev/null | head -40

# ---- 3. sanitizers ----
if [[ ${SIEVE_SANITIZE:-0} == 1 ]] && command -v compute-sanitizer > /dev/null; then
  T0=$(date +%s)
  : > "$OUT/sanitizer.log"
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 "$BIN/tests/sieve_cuda_tests" \
    >> "$OUT/sanitizer.log" 2>&1
  echo "sanitizer memcheck kernels rc $?" | tee -a "$OUT/sanitizer.log"
  # racecheck over the kernels that share memory between warps
  # (not the slow side-stream GEMV of the PDL-after-join test: no shared memory, only time)
  race='ExpertFfn.*:Gemv.*:GemvRouted.*:MoeRouteFused.*:MoeRouting.*:MoeAlign.*:QAbsorb.*'
  timeout 150 compute-sanitizer --tool racecheck --error-exitcode 1 "$BIN/tests/sieve_cuda_tests" \
    --gtest_filter="$race-Gemv.ProgrammaticLaunchAfter*" >> "$OUT/sanitizer.log" 2>&1
  echo "sanitizer racecheck kernels rc $?" | tee -a "$OUT/sanitizer.log"
  # MLA decode is left out of racecheck: it reports every bulk copy (TMA) of the kernel as racing
  # the reads that wait for it (cuda/attention/mla_decode.cu says what was tried); memcheck above
  # and synccheck here cover it.
  timeout 150 compute-sanitizer --tool synccheck --error-exitcode 1 "$BIN/tests/sieve_cuda_tests" \
    --gtest_filter='MlaDecode.*' >> "$OUT/sanitizer.log" 2>&1
  echo "sanitizer synccheck MLA rc $?" | tee -a "$OUT/sanitizer.log"
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$BIN/tests/sieve_gpu_decoder_tests" --gtest_filter='*random_tiny*:GpuSession*' \
    >> "$OUT/sanitizer.log" 2>&1
  echo "sanitizer memcheck decoder rc $?" | tee -a "$OUT/sanitizer.log"
  summary+=("sanitizers: $(grep -h 'ERROR SUMMARY' "$OUT/sanitizer.log" | sort | uniq -c | tr '\n' ';') ($(( $(date +%s) - T0 )) s)")
fi
tar -C "$LOGS" -czf "$OUT/tests.tar.gz" . 2>/dev/null

# ---- 4. V2-Lite bench ----
if [[ ${SIEVE_SKIP_V2LITE:-0} != 1 ]]; then
  add_cuda_libs "$BIN/sieve-gpu-bench"
  MODEL=${SIEVE_V2LITE_DIR:-/tmp/sieve-v2-lite}
  T0=$(date +%s)
  if [[ ! -f $MODEL/config.json ]]; then
    timeout 180 "$BIN/sieve-make-model" --preset v2-lite --routing uniform --out "$MODEL" \
      > "$LOGS/make-model.log" 2>&1 || { echo "sieve-make-model failed"; tail -3 "$LOGS/make-model.log"; status=1; }
  fi
  summary+=("v2-lite write: $(( $(date +%s) - T0 )) s")
  T0=$(date +%s)
  timeout ${SIEVE_BENCH_TIMEOUT:-300} "$BIN/sieve-gpu-bench" --model "$MODEL" ${SIEVE_BENCH_ARGS:-} \
    > "$OUT/bench.log" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || status=1
  summary+=("bench: rc $rc ($(( $(date +%s) - T0 )) s)")
  if [[ ${SIEVE_COLD:-0} == 1 ]]; then
    sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null &&
      timeout 120 "$BIN/sieve-gpu-bench" --model "$MODEL" --load-only > "$OUT/cold-load.log" 2>&1
    grep -E "^load:" "$OUT/cold-load.log" | sed 's/^load:/cold-cache load:/'
  fi
  echo
  grep -vE "^load: +[0-9.]+ /" "$OUT/bench.log" | tail -40
fi

echo
echo "== issue7-check summary"
for line in "${summary[@]}"; do echo "$line"; done
echo "total $(( $(date +%s) - START )) s, status $status"
exit $status
