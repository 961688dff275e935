#!/usr/bin/env bash
# One device call: the PDL timeline of graph-replayed decode steps (issue 7, session 8, second
# round). BINS holds bench-trace (sieve-gpu-bench built with -DSIEVE_PDL_TRACE, pdl_trace.h) and
# any production builds (bench-*); each runs ROUNDS times in alternating order at SIEVE_AB_ARGS
# (so the trace's own cost shows as the difference from the production builds), and the trace
# build's last round leaves trace-b<batch>.csv.gz in $OUT for scripts/gpu/pdl-trace.py.
#   BINS=.devcarry/gpu8b ROUNDS=2 bash scripts/gpu/pdl-trace.sh
set -uo pipefail
OUT=${OUT:-/tmp/sieve-pdl-trace}
mkdir -p "$OUT" /tmp/sieve-pdl-trace-csv
export SIEVE_PDL_TRACE_DIR=/tmp/sieve-pdl-trace-csv
SIEVE_AB_ARGS=${SIEVE_AB_ARGS:---batch 1,8 --prefill-len 0} OUT=$OUT \
  bash "$(dirname "${BASH_SOURCE[0]}")/bench-ab.sh"
status=$?
for f in /tmp/sieve-pdl-trace-csv/trace-b*.csv; do
  [[ -f $f ]] && gzip -c "$f" > "$OUT/$(basename "$f").gz"
done
ls -la "$OUT"/*.gz 2>/dev/null || { echo "no trace files"; status=1; }
exit $status
