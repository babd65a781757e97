#!/usr/bin/env bash
# Baton's engine against LangGraph on the same four DAG shapes (bench/shapes.json), in one
# invocation so machine noise affects both alike. Installs LangGraph into a virtual environment
# from the package registry on first use. Prints nodes per second for each and the ratio.
#
#   bench/peer-langgraph.sh [LANGGRAPH_RUNS] [BATON_RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BATON_BENCH_VENV:-target/bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "installing LangGraph into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check langgraph
fi
lg_runs="${1:-5}"
baton_runs="${2:-21}"
cargo build --release --quiet --example peer_shapes
langgraph_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("langgraph"))')"
echo "LangGraph $langgraph_version (Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')) vs Baton $(cargo pkgid | sed 's/.*#//'), $(nproc) cores, $(date -u +%Y-%m-%d)" >&2

lg_out="$(mktemp)"; baton_out="$(mktemp)"
trap 'rm -f "$lg_out" "$baton_out"' EXIT
"$venv/bin/python" bench/peer_langgraph.py bench/shapes.json "$lg_runs" > "$lg_out"
target/release/examples/peer_shapes bench/shapes.json "$baton_runs" > "$baton_out"

python3 - "$lg_out" "$baton_out" <<'PY'
import json, sys
lg = {j["shape"]: j for j in map(json.loads, open(sys.argv[1]))}
bt = {j["shape"]: j for j in map(json.loads, open(sys.argv[2]))}
print(f"{'shape':<16} {'nodes':>6} {'LangGraph nodes/s':>18} {'Baton nodes/s':>14} {'ratio':>8}")
worst = None
for name, b in bt.items():
    l = lg[name]
    ratio = b["nodes_per_second"] / l["nodes_per_second"]
    worst = ratio if worst is None else min(worst, ratio)
    print(f"{name:<16} {b['nodes']:>6} {l['nodes_per_second']:>18,} {b['nodes_per_second']:>14,} {ratio:>7.0f}x")
print(f"\nworst ratio {worst:.0f}x (target >= 100x)")
PY
