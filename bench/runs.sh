#!/usr/bin/env bash
# `baton runs` over 10,000 recordings, warm index: the run history's speed target (< 100 ms).
#   bench/runs.sh [BATON_BINARY] [DATA_DIR] [COUNT]
# The first use generates COUNT (10,000) small recordings under DATA_DIR/runs (default
# target/bench-runs; about 60 MB): a few real simulated runs of a two-node flow, each cloned with
# another start time (spread over 30 days), seed and strategy name. Later uses reuse them. It then
# times the cold index build once and each command below 15 times (the first of each is a warm-up),
# printing the median and the worst. Nothing here touches the network.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/baton}
data=${2:-$here/target/bench-runs}
count=${3:-10000}
runs="$data/runs"
export BATON_DATA_DIR="$data" BATON_CONFIG_DIR="$data/no-config"

if [ "$(find "$runs" -maxdepth 1 -name '*.jsonl' 2>/dev/null | wc -l)" -lt "$count" ]; then
  rm -rf "$data"
  mkdir -p "$runs" "$data/seed"
  cat > "$data/seed/tiny.toml" <<'EOF'
[flow]
name = "tiny"
input = "Is this ticket about billing?"

[[node]]
id = "classify"
kind = "classification"
complexity = 2
prompt = "Classify: {{input}}"
expected_tokens = 2
max_tokens = 8

[[node]]
id = "answer"
kind = "generate"
complexity = 3
after = ["classify"]
prompt = "Answer briefly: {{input}}"
expected_tokens = 30
max_tokens = 60
EOF
  for s in naive smart cascade; do
    for seed in 1 2; do
      "$bin" run "$data/seed/tiny.toml" -s "$s" --seed "$seed" --record "$data/seed/$s-$seed.jsonl" >/dev/null
    done
  done
  python3 - "$data/seed" "$runs" "$count" <<'EOF'
import json, os, sys
seed_dir, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
seeds = sorted(f for f in os.listdir(seed_dir) if f.endswith(".jsonl"))
texts = [open(os.path.join(seed_dir, f)).read().split("\n", 1) for f in seeds]
start = 1_793_000_000_000  # 2026-10-26
for i in range(count):
    head, rest = texts[i % len(texts)]
    h = json.loads(head)
    h["created_unix_ms"] = start + i * (30 * 86_400_000 // count)
    h["seed"] = 1000 + i
    with open(os.path.join(out, f"run-{i:05d}.jsonl"), "w") as f:
        f.write(json.dumps(h) + "\n" + rest)
EOF
  echo "generated $count recordings in $runs ($(du -sh "$runs" | cut -f1))"
fi

ms() { date +%s%N; }
rm -f "$runs/index.sqlite"
t0=$(ms); "$bin" runs >/dev/null; t1=$(ms)
echo "cold: index built from $count recordings in $(( (t1 - t0) / 1000000 )) ms"

time_it() {
  local label=$1; shift
  local all=()
  for i in $(seq 1 15); do
    local a b; a=$(ms); "$bin" "$@" >/dev/null; b=$(ms)
    [ "$i" -gt 1 ] && all+=($(( (b - a) / 100000 )))
  done
  local sorted; sorted=$(printf '%s\n' "${all[@]}" | sort -n)
  local med worst; med=$(echo "$sorted" | sed -n "$(( (${#all[@]} + 1) / 2 ))p"); worst=$(echo "$sorted" | tail -1)
  # CPU time is steadier than wall time on a shared machine: perf's task-clock when it is there.
  local cpu=""
  if command -v perf >/dev/null 2>&1; then
    cpu=$(perf stat -x, -e task-clock -r 10 "$bin" "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {printf "   cpu %.1f ms", $1}')
  fi
  printf '%-52s median %3d.%d ms   worst %3d.%d ms%s\n' "$label" $((med / 10)) $((med % 10)) $((worst / 10)) $((worst % 10)) "$cpu"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
time_it "baton runs (newest 50, totals of all)" runs
time_it "baton runs --limit 0 --format json (all)" runs --limit 0 --format json
time_it "baton runs --flow tiny --since 7d --min-cost 0.0001" runs --flow tiny --since 7d --min-cost 0.0001
time_it "baton runs --by model" runs --by model
time_it "baton runs --by day" runs --by day
time_it "baton --version (process start, for scale)" --version
