#!/usr/bin/env bash
# Baton's front door at scale, timed through the binary (process start, parse, run, report):
#   1. `baton run FILE --format json` of generated chain, wide (1 -> N -> 1) and layered flows
#      (bench/gen_flow.py), recorded to a temporary data directory, and `baton validate` of a
#      chain with one id in twenty duplicated;
#   2. `replay --summary --format json`, `reprice --format json` and `export --otlp` of
#      recordings of about 10k, 100k and 1M events (layered flows with 1000-token outputs, so
#      most events are streamed chunks: about 40 a node);
#   3. `compare FLOW --tasks FILE -s naive -s smart -s cascade --format json` over 1k, 10k and
#      100k support-triage tasks (the sample's 1000 tickets repeated).
# Each command runs ROUNDS times (default 3); wall time min/median/max and the highest peak
# resident memory, from /usr/bin/time -v.
#
#   bench/front-door.sh [SIZES...]            run sizes; default: 1000 10000 100000
#   BATON=path/to/baton bench/front-door.sh   time another binary (default: target/release/baton)
#   ROUNDS=5 SECTIONS="run replay compare" bench/front-door.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 10000 100000)
rounds="${ROUNDS:-3}"
sections="${SECTIONS:-run replay compare}"
baton="${BATON:-target/release/baton}"
if [ -z "${BATON:-}" ]; then
  cargo build --release --quiet --bin baton
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export BATON_DATA_DIR="$work/data"

# Prints "min med max peak_mb exit" for ROUNDS runs of a command (output discarded).
measure() {
  local walls=() peak=0 exit=0 r wall rss
  for ((r = 0; r < rounds; r++)); do
    exit=0
    /usr/bin/time -v -o "$work/time" "$@" > /dev/null 2> "$work/err" || exit=$?
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time")"
    rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time")"
    walls+=("$wall")
    peak="$(awk -v a="$peak" -v b="$rss" 'BEGIN {print (b > a) ? b : a}')"
    rm -rf "$BATON_DATA_DIR"/runs
  done
  printf '%s\n' "${walls[@]}" | sort -g | awk -v peak="$peak" -v ex="$exit" \
    '{v[NR] = $1} END {printf "%.2f %.2f %.2f %s %s\n", v[1], v[int((NR + 1) / 2)], v[NR], peak, ex}'
}

mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", b / 1048576}'; }

row() { printf '%-22s %9s %8s %7s %7s %7s %9s %5s  %s\n' "$@"; }

echo "$("$baton" --version 2>/dev/null || echo baton), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds"
row command size file_MB min_s med_s max_s peak_MB exit note

if [[ " $sections " == *" run "* ]]; then
  for n in "${sizes[@]}"; do
    for shape in chain wide layered; do
      f="$work/$shape-$n.toml"
      python3 bench/gen_flow.py "$shape" "$n" > "$f"
      read -r lo med hi rss exit < <(measure "$baton" run "$f" --format json)
      row "run $shape" "$n" "$(mb "$f")" "$lo" "$med" "$hi" "$rss" "$exit" "$([ "$shape" = wide ] && [ "$n" -ge 100000 ] && echo 'exit 1 by design: the sink exceeds every window')"
      rm -f "$f"
    done
    f="$work/dups-$n.toml"
    python3 bench/gen_flow.py chain "$n" --dups $((n / 20)) > "$f"
    read -r lo med hi rss exit < <(measure "$baton" validate "$f")
    row "validate (dups)" "$n" "$(mb "$f")" "$lo" "$med" "$hi" "$rss" "$exit" "$((n / 20)) duplicate ids; exit 2 expected"
    rm -f "$f"
  done
fi

if [[ " $sections " == *" replay "* ]]; then
  # About 40 events a node: 250, 2,500 and 25,000 nodes give ~10k, ~100k and ~1M events.
  for nodes in 250 2500 25000; do
    f="$work/rec-$nodes.toml"
    rec="$work/rec-$nodes.jsonl"
    python3 bench/gen_flow.py layered "$nodes" --tokens 1000 > "$f"
    "$baton" run "$f" --record "$rec" > /dev/null 2>&1 || true
    events=$(($(wc -l < "$rec") - 1))
    read -r lo med hi rss exit < <(measure "$baton" replay "$rec" --summary --format json)
    row "replay --summary" "$events" "$(mb "$rec")" "$lo" "$med" "$hi" "$rss" "$exit" "events"
    read -r lo med hi rss exit < <(measure "$baton" reprice "$rec" --format json)
    row "reprice" "$events" "$(mb "$rec")" "$lo" "$med" "$hi" "$rss" "$exit" "events"
    read -r lo med hi rss exit < <(measure "$baton" export --otlp "$work/otlp.json" "$rec")
    row "export --otlp" "$events" "$(mb "$rec")" "$lo" "$med" "$hi" "$rss" "$exit" "events; $(mb "$work/otlp.json") MB written"
    rm -f "$f" "$rec" "$work/otlp.json"
  done
fi

if [[ " $sections " == *" compare "* ]]; then
  for n in 1000 10000 100000; do
    f="$work/tasks-$n.jsonl"
    python3 -c '
import json, sys
src = [json.loads(l) for l in open("sample-flows/tasks/support-triage.jsonl")]
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({"id": f"t{i:06d}", "input": src[i % len(src)]["input"]}))
' "$n" > "$f"
    read -r lo med hi rss exit < <(measure "$baton" compare support-triage --tasks "$f" -s naive -s smart -s cascade --format json)
    row "compare --tasks" "$n" "$(mb "$f")" "$lo" "$med" "$hi" "$rss" "$exit" "tasks x 3 strategies"
    rm -f "$f"
  done
fi
