"""LangGraph's side of the peer comparison, and the driver that interleaves it with Baton's.

    python peer_langgraph.py once GRAPH.json MODE WIRING
        One whole process for the end-to-end figure: import LangGraph, read the graph, build,
        compile, invoke once, print the number of nodes that ran.
    python peer_langgraph.py bench DIR SHAPES.json BATON_WORKER BATON_BIN [options]
        The comparison: DIR holds what `peer_shapes emit` wrote; BATON_WORKER is
        `peer_shapes`, driven over a pipe (`serve`); BATON_BIN is the `baton` binary.

Every node of the LangGraph graph is trivial: it adds 1 to a counter whose reducer is
`operator.add`; the counter at the end must equal the number of nodes (so no node ran twice or
was skipped). LangGraph gets its best case per shape:

- MODE `sync`: plain functions, `graph.invoke`; `async`: coroutine nodes, `graph.ainvoke` on one
  event loop that lives across invocations.
- WIRING for a node with several predecessors: `list` is one `add_edge([p1, p2, ...], node)` (a
  barrier that waits for all of them); `edges` is one `add_edge(p, node)` per predecessor. In
  these shapes every predecessor of a node finishes in the same superstep, so both run each node
  exactly once, after all its predecessors; they differ only in cost.
- `recursion_limit` is raised to the number of supersteps plus some; the graph is compiled once,
  outside the timed region.
"""

import argparse
import asyncio
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Annotated, TypedDict


class State(TypedDict):
    done: Annotated[int, operator.add]


def step(_state: State) -> dict:
    return {"done": 1}


async def astep(_state: State) -> dict:
    return {"done": 1}


def build(graph: dict, mode: str, wiring: str):
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(State)
    fn = astep if mode == "async" else step
    waited_for = set()
    for node in graph["nodes"]:
        g.add_node(node["id"], fn)
    for node in graph["nodes"]:
        after = node["after"]
        waited_for.update(after)
        if not after:
            g.add_edge(START, node["id"])
        elif len(after) == 1 or wiring == "edges":
            for p in after:
                g.add_edge(p, node["id"])
        else:
            g.add_edge(after, node["id"])
    for node in graph["nodes"]:
        if node["id"] not in waited_for:
            g.add_edge(node["id"], END)
    return g.compile()


def depth(graph: dict) -> int:
    level = {}
    for node in graph["nodes"]:
        level[node["id"]] = 1 + max((level[p] for p in node["after"]), default=0)
    return max(level.values())


class Runner:
    """One compiled graph and a way to invoke it once, checked."""

    def __init__(self, graph: dict, mode: str, wiring: str):
        self.compiled = build(graph, mode, wiring)
        self.nodes = len(graph["nodes"])
        self.config = {"recursion_limit": depth(graph) + 10}
        self.mode = mode
        self.loop = asyncio.new_event_loop() if mode == "async" else None

    def invoke(self) -> None:
        if self.loop is None:
            out = self.compiled.invoke({"done": 0}, self.config)
        else:
            out = self.loop.run_until_complete(self.compiled.ainvoke({"done": 0}, self.config))
        if out["done"] != self.nodes:
            sys.exit(f"LangGraph ran {out['done']} nodes, expected {self.nodes}")

    def round(self, min_seconds: float) -> float:
        """Invocations back to back until min_seconds have passed; the mean time of one."""
        t = time.perf_counter()
        runs = 0
        while True:
            self.invoke()
            runs += 1
            elapsed = time.perf_counter() - t
            if elapsed >= min_seconds:
                return elapsed / runs


def once(path: str, mode: str, wiring: str) -> None:
    with open(path) as f:
        graph = json.load(f)
    r = Runner(graph, mode, wiring)
    r.invoke()
    print(r.nodes)


def variants(graph: dict) -> list[tuple[str, str]]:
    fan_in = any(len(n["after"]) > 1 for n in graph["nodes"])
    wirings = ["list", "edges"] if fan_in else ["edges"]
    return [(m, w) for m in ("sync", "async") for w in wirings]


class Baton:
    """The engine-only worker (`peer_shapes serve`), one request per round."""

    def __init__(self, worker: str, shapes: str):
        self.p = subprocess.Popen([worker, "serve", shapes], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def round(self, index: int, min_seconds: float) -> float:
        self.p.stdin.write(f"{index} {min_seconds}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            sys.exit("the Baton worker stopped")
        runs, seconds = line.split()
        return float(seconds) / int(runs)

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def loadavg() -> float:
    return os.getloadavg()[0]


def stats(xs: list[float]) -> tuple[float, float, float]:
    return min(xs), statistics.median(xs), max(xs)


def fmt_us(s: float) -> str:
    return f"{s * 1e6:,.2f}" if s < 1e-5 else f"{s * 1e6:,.1f}" if s < 1e-3 else f"{s * 1e6:,.0f}"


def fmt_ms(s: float) -> str:
    return f"{s * 1e3:,.1f}"


def timed_process(argv: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return elapsed


def bench(a: argparse.Namespace) -> None:
    import importlib.metadata

    shapes = json.load(open(a.shapes))
    names = []
    for s in shapes:
        k = s["kind"]
        names.append(
            f"chain-{s['n']}" if k == "chain"
            else f"layered-{s['layers']}x{s['width']}" if k == "layered"
            else f"layered-{s['layers']}x{s['width']}-sparse" if k == "sparse"
            else f"fan-1-{s['width']}-1"
        )
    only = set(a.only.split(",")) if a.only else None
    print(
        f"LangGraph {importlib.metadata.version('langgraph')} (Python {platform.python_version()}) vs {a.baton_version}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, load average at start {loadavg():.1f}",
        flush=True,
    )
    print(
        f"engine-only: {a.rounds} rounds per shape, interleaved (LangGraph round, Baton round, ...); a round is "
        f"back-to-back runs for at least {a.min_round}s (at least one), its figure the mean time of one run.\n"
        f"end to end: {a.e2e_rounds} rounds per shape, interleaved; one whole process each.",
        flush=True,
    )
    baton = Baton(a.worker, a.shapes)
    engine_rows, e2e_rows, choices = [], [], {}
    for index, name in enumerate(names):
        if only and name not in only:
            continue
        graph = json.load(open(os.path.join(a.dir, f"{name}.json")))
        nodes = len(graph["nodes"])
        # Pick LangGraph's best variant: every variant compiled once, warmed, then timed.
        runners = {v: Runner(graph, *v) for v in variants(graph)}
        trial = {}
        for v, r in runners.items():
            r.invoke()
            trial[v] = min(r.round(a.min_round) for _ in range(a.trials))
        best = min(trial, key=trial.get)
        choices[name] = best
        print(
            f"\n{name} ({nodes} nodes): LangGraph variants, best of {a.trials} rounds, per node: "
            + ", ".join(f"{m}/{w} {fmt_us(t / nodes)} µs" for (m, w), t in sorted(trial.items(), key=lambda kv: kv[1]))
            + f" -> {best[0]}/{best[1]}",
            flush=True,
        )
        runner = runners[best]
        del runners
        baton.round(index, a.min_round)  # warm-up
        lg, bt, loads = [], [], []
        for _ in range(a.rounds):
            loads.append(loadavg())
            lg.append(runner.round(a.min_round))
            bt.append(baton.round(index, a.min_round))
        ratios = [l / b for l, b in zip(lg, bt)]
        engine_rows.append((name, nodes, best, lg, bt, ratios, loads))
        print(
            f"  engine-only per node, µs: LangGraph {'/'.join(fmt_us(x / nodes) for x in stats(lg))}, "
            f"Baton {'/'.join(fmt_us(x / nodes) for x in stats(bt))}; ratio per round {'/'.join(f'{x:.0f}' for x in stats(ratios))}, "
            f"load {'/'.join(f'{x:.1f}' for x in stats(loads))}",
            flush=True,
        )
        if a.e2e_rounds:
            lg_argv = [sys.executable, os.path.abspath(__file__), "once", os.path.join(a.dir, f"{name}.json"), *best]
            bt_argv = [
                a.baton, "run", os.path.join(a.dir, f"{name}.toml"), "--format", "json", "--no-record",
                "--catalog", os.path.join(a.dir, "instant-catalog.toml"), "-s", os.path.join(a.dir, "instant-strategy.toml"),
            ]
            timed_process(lg_argv), timed_process(bt_argv)  # warm the page cache
            lg2, bt2, loads2 = [], [], []
            for _ in range(a.e2e_rounds):
                loads2.append(loadavg())
                lg2.append(timed_process(lg_argv))
                bt2.append(timed_process(bt_argv))
            ratios2 = [l / b for l, b in zip(lg2, bt2)]
            e2e_rows.append((name, nodes, best, lg2, bt2, ratios2, loads2))
            print(
                f"  end to end, ms: LangGraph {'/'.join(fmt_ms(x) for x in stats(lg2))}, Baton {'/'.join(fmt_ms(x) for x in stats(bt2))}; "
                f"ratio per round {'/'.join(f'{x:.0f}' for x in stats(ratios2))}",
                flush=True,
            )
    baton.close()

    print("\nEngine only, time per node in µs, min / median / max over rounds (target: worst-round ratio >= 300x)")
    print(f"{'shape':<22} {'nodes':>6} {'LangGraph best':<12} {'LangGraph µs/node':>24} {'Baton µs/node':>20} {'ratio med':>9} {'worst':>6} {'load':>5}  met")
    for name, nodes, (m, w), lg, bt, ratios, loads in engine_rows:
        lgs = " / ".join(fmt_us(x / nodes) for x in stats(lg))
        bts = " / ".join(fmt_us(x / nodes) for x in stats(bt))
        worst = min(ratios)
        print(
            f"{name:<22} {nodes:>6} {m + '/' + w:<12} {lgs:>24} {bts:>20} {statistics.median(ratios):>8.0f}x {worst:>5.0f}x "
            f"{statistics.median(loads):>5.1f}  {'yes' if worst >= 300 else 'NO'}"
        )
    if e2e_rows:
        print("\nEnd to end (process start included), ms, min / median / max over rounds (target: worst-round ratio >= 50x)")
        print(f"{'shape':<22} {'nodes':>6} {'LangGraph ms':>24} {'Baton ms':>20} {'ratio med':>9} {'worst':>6} {'load':>5}  met")
        for name, nodes, _, lg, bt, ratios, loads in e2e_rows:
            worst = min(ratios)
            print(
                f"{name:<22} {nodes:>6} {' / '.join(fmt_ms(x) for x in stats(lg)):>24} {' / '.join(fmt_ms(x) for x in stats(bt)):>20} "
                f"{statistics.median(ratios):>8.0f}x {worst:>5.0f}x {statistics.median(loads):>5.1f}  {'yes' if worst >= 50 else 'NO'}"
            )
    print(
        "\nworst = the lowest ratio of one round's LangGraph figure to the Baton round right after it; load = median "
        "1-minute load average at the rounds' start."
    )


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "once":
        if len(sys.argv) != 5:
            sys.exit(__doc__)
        once(*sys.argv[2:5])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["bench"])
    p.add_argument("dir")
    p.add_argument("shapes")
    p.add_argument("worker")
    p.add_argument("baton")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--e2e-rounds", type=int, default=5)
    p.add_argument("--min-round", type=float, default=0.2)
    p.add_argument("--trials", type=int, default=2, help="rounds per LangGraph variant when picking the best")
    p.add_argument("--only", help="comma-separated shape names")
    p.add_argument("--baton-version", default="Baton")
    bench(p.parse_args())


if __name__ == "__main__":
    main()
