#!/usr/bin/env bash
# Baton against LangGraph on issue 19's six DAG shapes (bench/shapes.json): engine only and end
# to end, rounds interleaved per shape so machine noise falls on both alike. Installs LangGraph
# into a virtual environment from the package registry on first use. Prints a self-contained
# table: per shape, min / median / max per node (engine only) and per process (end to end) for
# each side, the ratio per round and whether the target is met.
#
#   bench/peer-langgraph.sh [ROUNDS] [E2E_ROUNDS] [-- extra options for bench/peer_langgraph.py]
#
# e.g. `bench/peer-langgraph.sh 7 5 -- --only chain-200,layered-10x10-sparse`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BATON_BENCH_VENV:-target/bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "installing LangGraph into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check langgraph
fi
rounds="${1:-7}"
e2e_rounds="${2:-5}"
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --example peer_shapes --bin baton
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$target/release/examples/peer_shapes" emit bench/shapes.json "$dir"
"$venv/bin/python" bench/peer_langgraph.py bench "$dir" bench/shapes.json \
  "$target/release/examples/peer_shapes" "$target/release/baton" \
  --rounds "$rounds" --e2e-rounds "$e2e_rounds" --baton-version "Baton $(cargo pkgid | sed 's/.*#//') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))" "$@"
