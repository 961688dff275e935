#!/usr/bin/env bash
# Decode speed of several builds in one device call (issue 7, session 5): every carried
# sieve-gpu-bench binary BINS/bench-NAME runs on the same random V2-Lite model (written on the
# device if missing), ROUNDS times, in forward order on odd rounds and reverse order on even ones
# (so a drift of the card over the call, e.g. warming up, does not favour one build), with
# SIEVE_AB_ARGS (default: --batch 1,8,64 --prefill-len 0). Logs: $OUT/NAME-rROUND.log; the last
# lines are one table row per run (decode ms/step per batch; eager moe.shared+route and
# moe.experts stage ms).
#   BINS=.devcarry/gpu-var ROUNDS=2 bash scripts/gpu/bench-ab.sh
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cuda-libs.sh"
BINS=${BINS:-.devcarry/gpu-var}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-/tmp/sieve-bench-ab}
ARGS=${SIEVE_AB_ARGS:---batch 1,8,64 --prefill-len 0}
mkdir -p "$OUT"
status=0
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu \
  --format=csv,noheader || echo "nvidia-smi failed"
mapfile -t bins < <(ls "$BINS"/bench-* 2>/dev/null)
[[ ${#bins[@]} -gt 0 ]] || { echo "no $BINS/bench-* binaries"; exit 1; }
add_cuda_libs "${bins[0]}"
MAKE_MODEL=${MAKE_MODEL:-.devcarry/gpu-decoder/sieve-make-model}
MODEL=${SIEVE_V2LITE_DIR:-/tmp/sieve-v2-lite}
if [[ ! -f $MODEL/config.json ]]; then
  T0=$(date +%s)
  timeout 180 "$MAKE_MODEL" --preset v2-lite --routing uniform --out "$MODEL" > "$OUT/make-model.log" 2>&1 ||
    { echo "sieve-make-model failed"; tail -3 "$OUT/make-model.log"; exit 1; }
  echo "model written in $(( $(date +%s) - T0 )) s"
fi
rows=()
for ((r = 1; r <= ROUNDS; ++r)); do
  order=("${bins[@]}")
  if (( r % 2 == 0 )); then
    order=()
    for ((i = ${#bins[@]} - 1; i >= 0; --i)); do order+=("${bins[i]}"); done
  fi
  for bin in "${order[@]}"; do
    name=$(basename "$bin")
    log="$OUT/$name-r$r.log"
    # shellcheck disable=SC2086
    timeout 240 "$bin" --model "$MODEL" $ARGS > "$log" 2>&1 || { echo "$name round $r: rc $?"; status=1; }
    ms=$(grep -oE "^batch [0-9]+, context [0-9]+: .*decode median [0-9.]+" "$log" |
         sed -E 's/^batch ([0-9]+).*decode median ([0-9.]+)/b\1 \2/' | tr '\n' ' ')
    ex=$(grep -E "GPU ms/step by stage" "$log" |
         sed -E 's/.*moe.shared\+route ([0-9.]+) moe.experts ([0-9.]+).*/\1+\2/' | tr '\n' ' ')
    rows+=("$(printf '%-12s r%d  %s | shared+route + experts %s' "$name" "$r" "$ms" "$ex")")
  done
done
nvidia-smi --query-gpu=clocks.sm,temperature.gpu --format=csv,noheader
echo "== decode ms/step (median of the bench's timed steps) | eager stage ms"
printf '%s\n' "${rows[@]}"
exit $status
