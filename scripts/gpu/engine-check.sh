#!/usr/bin/env bash
# The generation engine's check on the GPU machine (issue 8), in one command. Builds nothing: it
# runs binaries built on the development machine (nvcc there, no GPU) and carried over:
#   cmake -S . -B build-engine -DSIEVE_CUDA_ARCHS=90a && cmake --build build-engine -j2 --target \
#     sieve_engine_gpu_tests sieve_engine_tests engine_bench sieve_make_model
#   B=.devcarry/engine; mkdir -p $B/tests $B/tokenizers/deepseek_v3 &&
#   cp build-engine/tests/sieve_engine{,_gpu}_tests $B/tests/ &&
#   cp build-engine/bench/engine_bench build-engine/sieve-make-model $B/ &&
#   cp ~/.cache/sieve/tokenizers/deepseek_v3/tokenizer{,_config}.json $B/tokenizers/deepseek_v3/
# then on the device, from the repository root (carry .devcarry/engine):
#   bash scripts/gpu/engine-check.sh [BIN_DIR]
# Steps:
#   1. sieve_engine_gpu_tests: the fused sampling kernel against the CPU sampler (every row of
#      greedy / temperature / top-k / top-p over vocab sizes 5..129280 with padding), and the
#      engine on the GPU backend (schemas, validity, same seed -> same tokens);
#   2. sieve_engine_tests (the CPU engine suite, as in CI);
#   3. a V2-Lite-size random model (sieve-make-model --preset v2-lite --routing uniform, vocab
#      129280 so the real DeepSeek-V3 tokenizer fits; ~31 GB, written once) and engine_bench on
#      it: tokens/s with a JSON Schema vs without structure, same prompt and length (128 tokens,
#      stop tokens ignored), batch 1 and 64, medians of 3 repetitions, plus mask time per step
#      and the fraction hidden behind the forward pass. The summary's ratio column is the target
#      (>= 98%).
# Environment: OUT (logs; default /tmp/sieve-engine-check), SIEVE_ENGINE_MODEL (model folder;
# default: sieve-v2-lite-dsv3 under the largest of /tmp, /root, this checkout), SIEVE_SKIP_BENCH=1,
# SIEVE_BENCH_TOKENS (default 128), SIEVE_BENCH_REPS (default 3).
# Exit status 0 only when every step passed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"

BIN=${1:-.devcarry/engine}
# Libraries the bench links dynamically (libbenchmark) travel in $BIN/lib.
[[ -d $BIN/lib ]] && export LD_LIBRARY_PATH="$(cd "$BIN/lib" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
OUT=${OUT:-/tmp/sieve-engine-check}
mkdir -p "$OUT"
status=0
START=$(date +%s)

# The tests read schemas/ and tests/data through the source path compiled into them.
SOURCE_DIR=${SIEVE_SOURCE_DIR:-/work/main}
if [[ ! -e $SOURCE_DIR ]]; then
  mkdir -p "$(dirname "$SOURCE_DIR")" && ln -s "$PWD" "$SOURCE_DIR" &&
    echo "linked $SOURCE_DIR -> $PWD (compiled-in source path)"
fi

# The CPU engine tests read $SIEVE_DATA_DIR/tokenizers/deepseek_v3 (carried under BIN).
export SIEVE_DATA_DIR=${SIEVE_DATA_DIR:-$BIN}

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader ||
  echo "nvidia-smi failed"
nproc

# cuBLAS is linked dynamically; find it when the loader does not.
add_cuda_libs "$BIN/engine_bench"

run_tests() {
  local name=$1 limit=$2
  if [[ ! -x $BIN/tests/$name ]]; then
    echo "$name: missing under $BIN/tests"
    status=1
    return
  fi
  timeout "$limit" "$BIN/tests/$name" --gtest_output="xml:$OUT/$name.xml" > "$OUT/$name.log" 2>&1
  local rc=$?
  grep -E "rows compared|GPU engine:|schemas \(|grammars/regexes" "$OUT/$name.log"
  grep -E "^\[  (PASSED|FAILED) |FAILED TEST|^\[  SKIPPED" "$OUT/$name.log"
  echo "$name: exit $rc"
  [[ $rc -eq 0 ]] || status=1
}

echo "== 1. GPU engine tests"
run_tests sieve_engine_gpu_tests 300
echo "== 2. CPU engine tests"
run_tests sieve_engine_tests 300

bench_summary="skipped"
if [[ ${SIEVE_SKIP_BENCH:-0} != 1 ]]; then
  echo "== 3. V2-Lite-size random model + engine_bench"
  MODEL=${SIEVE_ENGINE_MODEL:-}
  if [[ -z $MODEL ]]; then
    best=/tmp
    bestfree=0
    for d in /tmp /root "$PWD"; do
      free=$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')
      if [[ -n $free && $free -gt $bestfree ]]; then best=$d; bestfree=$free; fi
    done
    MODEL=$best/sieve-v2-lite-dsv3
  fi
  if [[ ! -f $MODEL/config.json ]]; then
    timeout 300 "$BIN/sieve-make-model" --preset v2-lite --routing uniform --vocab 129280 \
      --tokenizer "$BIN/tokenizers/deepseek_v3" --out "$MODEL" > "$OUT/make-model.log" 2>&1 ||
      { echo "sieve-make-model failed"; tail -3 "$OUT/make-model.log"; status=1; }
    tail -1 "$OUT/make-model.log"
  fi
  cp "$BIN/tokenizers/deepseek_v3/tokenizer_config.json" "$MODEL/" 2>/dev/null
  if [[ -f $MODEL/config.json ]]; then
    timeout 480 "$BIN/engine_bench" --model="$MODEL" --device=gpu --batches=1,64 \
      --tokens="${SIEVE_BENCH_TOKENS:-128}" --benchmark_repetitions="${SIEVE_BENCH_REPS:-3}" \
      --benchmark_report_aggregates_only=true --benchmark_counters_tabular=true \
      > "$OUT/engine-bench.log" 2>&1
    rc=$?
    cat "$OUT/engine-bench.log" | grep -vE "^\*\*\*|^-+$" | tail -30
    [[ $rc -eq 0 ]] || { echo "engine_bench: exit $rc"; status=1; }
    bench_summary=$(grep -A4 "^summary" "$OUT/engine-bench.log" | tr '\n' ' ')
  fi
fi

echo "== summary ($(( $(date +%s) - START )) s)"
echo "bench: $bench_summary"
echo "status: $status"
exit $status
