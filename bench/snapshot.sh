#!/usr/bin/env bash
# Saves what every sample flow reports under every sample strategy, for a byte-for-byte
# comparison before and after a change that must not move a number:
#   bench/snapshot.sh target/release/baton /tmp/before
#   (change, rebuild)
#   bench/snapshot.sh target/release/baton /tmp/after && diff -r /tmp/before /tmp/after
# Each flow × strategy gives its JSON report and its recording (with the creation time, the
# only field that differs between two runs, blanked); the support-triage and research tasks
# give batch reports. Nothing here touches the network.
set -euo pipefail
bin=${1:?usage: bench/snapshot.sh BATON_BINARY OUT_DIR}
out=${2:?usage: bench/snapshot.sh BATON_BINARY OUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for flow in "$here"/sample-flows/*.toml; do
  f=$(basename "$flow" .toml)
  for strat in "$here"/sample-flows/strategies/*.toml; do
    s=$(basename "$strat" .toml)
    "$bin" run "$flow" -s "$strat" --format json --record "$out/$f-$s.jsonl" > "$out/$f-$s.json" 2>/dev/null || true
    # The header's creation time is the one field that changes run to run.
    sed -i -E '1s/"created_unix_ms":[0-9]+/"created_unix_ms":0/' "$out/$f-$s.jsonl"
  done
done
for s in naive smart cascade; do
  "$bin" run support-triage --tasks support-triage -s "$s" --format json > "$out/batch-support-triage-$s.json" 2>/dev/null || true
  "$bin" run research-assistant --tasks "$here/sample-flows/tasks/research-questions.txt" -s "$s" --format json \
    > "$out/batch-research-$s.json" 2>/dev/null || true
done
echo "saved $(ls "$out" | wc -l) files to $out"
