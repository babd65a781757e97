#!/usr/bin/env bash
# Baton's front door at scale: generates chain, wide (1 -> N -> 1) and layered flows of each size
# (bench/gen_flow.py), then times `baton run FILE` (simulated, recorded to a temporary data
# directory, JSON summary discarded) and `baton validate` of a flow with one id in twenty
# duplicated, with wall time and peak resident memory from /usr/bin/time -v.
#
#   bench/front-door.sh [SIZES...]            default: 1000 10000 100000
#   BATON=path/to/baton bench/front-door.sh   time another binary (default: target/release/baton)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 10000 100000)
baton="${BATON:-target/release/baton}"
if [ -z "${BATON:-}" ]; then
  cargo build --release --quiet --bin baton
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export BATON_DATA_DIR="$work/data"

# Prints "wall_s peak_mb exit" for a command.
measure() {
  local exit=0
  /usr/bin/time -v -o "$work/time" "$@" > /dev/null 2> "$work/err" || exit=$?
  local wall rss
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time")"
  rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time")"
  echo "$wall $rss $exit"
}

echo "$("$baton" --version 2>/dev/null || echo baton), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-9s %8s %8s %10s %10s %5s\n' shape nodes file_MB wall_s peak_MB exit
for n in "${sizes[@]}"; do
  for shape in chain wide layered; do
    f="$work/$shape-$n.toml"
    python3 bench/gen_flow.py "$shape" "$n" > "$f"
    mb="$(awk -v b="$(stat -c %s "$f")" 'BEGIN {printf "%.1f", b / 1048576}')"
    read -r wall rss exit < <(measure "$baton" run "$f" --format json)
    printf '%-9s %8s %8s %10s %10s %5s\n' "$shape" "$n" "$mb" "$wall" "$rss" "$exit"
    rm -f "$f"
  done
  f="$work/dups-$n.toml"
  python3 bench/gen_flow.py chain "$n" --dups $((n / 20)) > "$f"
  mb="$(awk -v b="$(stat -c %s "$f")" 'BEGIN {printf "%.1f", b / 1048576}')"
  read -r wall rss exit < <(measure "$baton" validate "$f")
  printf '%-9s %8s %8s %10s %10s %5s   (validate, %s duplicate ids; exit 2 expected)\n' validate "$n" "$mb" "$wall" "$rss" "$exit" $((n / 20))
  rm -f "$f" "$BATON_DATA_DIR"/runs/* 2> /dev/null || true
done
