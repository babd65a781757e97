#!/usr/bin/env bash
# Time per node of several builds of examples/profile_engine, in interleaved rounds so that the
# shared machine's drift falls on all of them alike; prints min / median / max per build.
#
#   bench/engine-pair.sh ROUNDS SHAPE NODES RUNS BINARY...
#   e.g. bench/engine-pair.sh 5 sparse 100 10000 /tmp/profile_engine-before target/release/examples/profile_engine
#
# Instructions a node, for the same shape (callgrind, the difference of 11 runs and 1):
#   TOKENS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null BINARY sparse 100 1    (and 11)
set -euo pipefail
if [ $# -lt 5 ]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
rounds=$1 shape=$2 nodes=$3 runs=$4
shift 4
declare -A times
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    ms=$(TOKENS=1 "$bin" "$shape" "$nodes" "$runs" | sed -E 's/.*: ([0-9.]+) ms per run.*/\1/')
    times[$bin]="${times[$bin]:-} $ms"
  done
done
for bin in "$@"; do
  echo "${times[$bin]}" | tr ' ' '\n' | grep -v '^$' | sort -n |
    awk -v n="$nodes" -v b="$bin" '{a[NR]=$1} END {printf "%s: %.3f / %.3f / %.3f us a node\n", b, a[1]*1000/n, a[int((NR+1)/2)]*1000/n, a[NR]*1000/n}'
done
