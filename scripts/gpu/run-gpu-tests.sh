#!/usr/bin/env bash
# Runs sieve's prebuilt GPU test binaries on the GPU machine and prints one summary line.
#
# The binaries are built on the development machine (no GPU there; nvcc is) and carried over:
#   cmake -S . -B build-gpu -DSIEVE_CUDA_ARCHS=90a && cmake --build build-gpu -j2 \
#       --target sieve_cuda_tests sieve_decoder_tests sieve_gpu_decoder_tests
# then, from the repository root on the GPU machine (build-gpu/tests/<binary> carried):
#   bash scripts/gpu/run-gpu-tests.sh [BUILD_DIR] [-- extra gtest flags]
# Environment:
#   OUT                where XML results and logs go (the device tool's output folder; default
#                      /tmp/sieve-gpu-tests)
#   SIEVE_SANITIZE=1   also run sieve_cuda_tests under compute-sanitizer (memcheck, racecheck;
#                      MLA decode under synccheck instead of racecheck)
#   SIEVE_SOURCE_DIR   the source folder the binaries were configured in (default /work/main):
#                      tests read tests/data through that absolute path, so it is linked to this
#                      checkout when it does not exist here
# Exit status: 0 when every binary passed, 1 otherwise. The last line reads
# "N passed, N failed" (binaries), after each binary's own gtest summary.
set -uo pipefail

BUILD_DIR=build-gpu
if [[ $# -gt 0 && $1 != -- ]]; then
  BUILD_DIR=$1
  shift
fi
[[ ${1:-} == -- ]] && shift
EXTRA=("$@")
OUT=${OUT:-/tmp/sieve-gpu-tests}
mkdir -p "$OUT"
SOURCE_DIR=${SIEVE_SOURCE_DIR:-/work/main}
if [[ ! -e $SOURCE_DIR ]]; then
  mkdir -p "$(dirname "$SOURCE_DIR")" && ln -s "$PWD" "$SOURCE_DIR" &&
    echo "linked $SOURCE_DIR -> $PWD (compiled-in test data path)"
fi

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader ||
  echo "nvidia-smi failed"

# cuBLAS is linked dynamically: find libcublas.so.13 when the loader does not.
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"

binaries=()
for name in sieve_cuda_tests sieve_decoder_tests sieve_gpu_decoder_tests; do
  [[ -x $BUILD_DIR/tests/$name ]] && binaries+=("$BUILD_DIR/tests/$name")
done
if [[ ${#binaries[@]} -eq 0 ]]; then
  echo "no test binaries under $BUILD_DIR/tests (carry them with the run)"
  echo "0 passed, 1 failed"
  exit 1
fi
for b in "${binaries[@]}"; do
  missing=$(ldd "$b" 2>/dev/null | awk '/not found/ {print $1}')
  for lib in $missing; do
    if dir=$(find_cuda_lib "$lib"); then
      export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "using $dir/$lib"
    else
      echo "WARNING: $lib not found for $b"
    fi
  done
done

passed=0
failed=0
run() {
  local label=$1
  shift
  echo "== $label"
  if "$@" 2>&1 | tee "$OUT/$label.log"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $label"
  fi
}

for b in "${binaries[@]}"; do
  name=$(basename "$b")
  run "$name" "$b" --gtest_output="xml:$OUT/$name.xml" "${EXTRA[@]}"
done
if [[ ${SIEVE_SANITIZE:-0} == 1 && -x $BUILD_DIR/tests/sieve_cuda_tests ]]; then
  run sanitize-memcheck compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$BUILD_DIR/tests/sieve_cuda_tests" "${EXTRA[@]}"
  # racecheck reports the MLA kernel's bulk copies (TMA) as racing the reads that wait for them
  # (cuda/attention/mla_decode.cu): MLA gets synccheck instead.
  run sanitize-racecheck compute-sanitizer --tool racecheck --error-exitcode 1 \
    "$BUILD_DIR/tests/sieve_cuda_tests" --gtest_filter='-MlaDecode.*' "${EXTRA[@]}"
  run sanitize-synccheck-mla compute-sanitizer --tool synccheck --error-exitcode 1 \
    "$BUILD_DIR/tests/sieve_cuda_tests" --gtest_filter='MlaDecode.*' "${EXTRA[@]}"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
