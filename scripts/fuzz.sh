#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for a given time, all at once, keeping what they learn.
#
#   scripts/fuzz.sh SECONDS [--bin DIR] [--seeds DIR] [--out DIR] [--cores N] [--targets "a b"]
#                   [--timeout S]   (an input slower than S seconds, default 10, is a finding)
#   scripts/fuzz.sh --kit DIR [--bin DIR]     copy binaries + seeds + dictionaries + this script
#                                             into DIR, a self-contained folder for another machine
#
# Each target runs SECONDS seconds in libFuzzer's fork mode with --cores/targets workers (at least
# one), so all targets share the machine. Per target, under --out (default ./fuzz-out):
#   corpus/<target>/   the working corpus: seeded from the seeds, grown by every run, kept
#   crashes/<target>/  crash-*, leak-*, timeout-* and oom-* inputs (each one a finding)
#   logs/<target>.log  libFuzzer's output
# A finding is any crash, sanitizer report, leak, input slower than --timeout or using over 2 GiB:
# the script prints them and exits 1. Exit 0: every target ran its time with no finding.
# Reproduce one: <bin>/fuzz_ebnf fuzz-out/crashes/fuzz_ebnf/crash-...
#
# Where things are found: binaries in --bin (default: this script's folder when it holds fuzz_*
# binaries, i.e. a kit; else build-fuzz/fuzz), seeds in --seeds (default: corpus/ beside the
# binaries in a kit, else tests/fuzz/corpus), dictionaries in dict/ beside the seeds.
# Build the binaries with:
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSIEVE_FUZZ=ON -DSIEVE_CUDA=OFF \
#     -DSIEVE_BUILD_TESTS=OFF -DSIEVE_BUILD_BENCH=OFF && cmake --build build-fuzz --target fuzzers
set -euo pipefail

TARGETS_ALL="fuzz_ebnf fuzz_regex fuzz_json_schema fuzz_tokenizer_json fuzz_safetensors fuzz_matcher fuzz_grammar_image"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

seconds="" bin="" seeds="" out="fuzz-out" cores="$(nproc)" targets="$TARGETS_ALL" kit="" tmo=10
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cores) cores="$2"; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --kit) kit="$2"; shift 2 ;;
    --timeout) tmo="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; usage ;;
    *) [ -z "$seconds" ] || { echo "fuzz.sh: one SECONDS argument only" >&2; exit 2; }
       seconds="$1"; shift ;;
  esac
done

if [ -z "$bin" ]; then
  if [ -x "$here/fuzz_ebnf" ]; then bin="$here"; else bin="$repo/build-fuzz/fuzz"; fi
fi
if [ -z "$seeds" ]; then
  if [ -d "$bin/corpus" ]; then seeds="$bin/corpus"; else seeds="$repo/tests/fuzz/corpus"; fi
fi
dicts="$(dirname "$seeds")/dict"

for t in $targets; do
  [ -x "$bin/$t" ] || { echo "fuzz.sh: $bin/$t is missing (build the fuzzers: see --help)" >&2; exit 2; }
done

if [ -n "$kit" ]; then
  mkdir -p "$kit/corpus" "$kit/dict"
  for t in $targets; do
    cp "$bin/$t" "$kit/"
    mkdir -p "$kit/corpus/$t"
    [ -d "$seeds/$t" ] && cp -r "$seeds/$t/." "$kit/corpus/$t/"
    [ -f "$dicts/$t.dict" ] && cp "$dicts/$t.dict" "$kit/dict/"
  done
  cp "$0" "$kit/fuzz.sh"
  echo "kit in $kit: $(ls "$kit" | tr '\n' ' ')"
  echo "run it there: ./fuzz.sh 1200 --out fuzz-out   (binaries need only libc/libm/libpthread)"
  exit 0
fi

case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS (a positive integer) is required" >&2; usage ;;
esac
n_targets=$(echo $targets | wc -w)
workers=$(( cores / n_targets )); [ "$workers" -ge 1 ] || workers=1
mkdir -p "$out/logs"
echo "fuzz.sh: $n_targets targets x $workers workers for ${seconds}s (binaries $bin, out $out)"

pids=()
for t in $targets; do
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  dict_flag=()
  [ -f "$dicts/$t.dict" ] && dict_flag=(-dict="$dicts/$t.dict")
  seed_dir=()
  [ -d "$seeds/$t" ] && seed_dir=("$seeds/$t")
  # fork mode: workers run in child processes; -ignore_* keep going after a finding so one run
  # collects several. The outer timeout is a backstop in case libFuzzer itself wedges.
  timeout -k 30 $(( seconds + 120 )) "$bin/$t" -fork="$workers" -ignore_crashes=1 \
    -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" -timeout="$tmo" -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 "${dict_flag[@]}" \
    "$out/corpus/$t" "${seed_dir[@]}" > "$out/logs/$t.log" 2>&1 &
  pids+=($!)
done

status=0
i=0
for t in $targets; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  i=$((i + 1))
  findings=$(find "$out/crashes/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
             -o -name 'oom-*' \) | wc -l)
  corpus=$(find "$out/corpus/$t" -type f | wc -l)
  # fork mode prints "#N: cov: C ft: F corp: K exec/s E ..." (no colon after exec/s)
  cov=$(grep -o 'cov: [0-9]*' "$out/logs/$t.log" | tail -1 | cut -d' ' -f2 || true)
  execs=$(grep -o 'exec/s:\{0,1\} [0-9]*' "$out/logs/$t.log" | tail -1 | awk '{print $2}' || true)
  runs=$(grep -o '^#[0-9]*' "$out/logs/$t.log" | tail -1 | tr -d '#' || true)
  printf '%-22s rc %-3s runs %-9s coverage %-6s exec/s %-7s corpus %-6s findings %s\n' \
    "$t" "$rc" "${runs:-?}" "${cov:-?}" "${execs:-?}" "$corpus" "$findings"
  if [ "$findings" -gt 0 ]; then
    status=1
    find "$out/crashes/$t" -type f | sed 's/^/    /'
  elif [ "$rc" -ne 0 ]; then
    status=1
    echo "    libFuzzer exited $rc without an artifact: see $out/logs/$t.log"
  fi
done
exit $status
