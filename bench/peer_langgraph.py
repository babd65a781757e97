"""LangGraph's side of the peer comparison: builds each DAG shape from the shared JSON
description with trivial nodes and times graph.invoke (compilation excluded), printing one JSON
line per shape with the median of several runs and nodes per second.

Usage: python peer_langgraph.py SHAPES.json [RUNS]
"""
import json
import operator
import statistics
import sys
import time
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    done: Annotated[int, operator.add]


def step(_state: State) -> dict:
    return {"done": 1}


def layers(shape: dict) -> list[list[str]]:
    kind = shape["kind"]
    if kind == "chain":
        return [[f"n{i}"] for i in range(shape["n"])]
    if kind == "layered":
        return [[f"n{l}_{w}" for w in range(shape["width"])] for l in range(shape["layers"])]
    if kind == "fan_out_in":
        return [["src"], [f"m{w}" for w in range(shape["width"])], ["sink"]]
    raise ValueError(f"unknown shape kind {kind}")


def name(shape: dict) -> str:
    kind = shape["kind"]
    if kind == "chain":
        return f"chain-{shape['n']}"
    if kind == "layered":
        return f"layered-{shape['layers']}x{shape['width']}"
    return f"fan-1-{shape['width']}-1"


def build(shape: dict):
    g = StateGraph(State)
    ls = layers(shape)
    for layer in ls:
        for node in layer:
            g.add_node(node, step)
    for node in ls[0]:
        g.add_edge(START, node)
    for prev, layer in zip(ls, ls[1:]):
        for node in layer:
            # Every node waits for the whole previous layer, as in Baton's shapes.
            g.add_edge(prev if len(prev) > 1 else prev[0], node)
    for node in ls[-1]:
        g.add_edge(node, END)
    return g.compile(), sum(len(l) for l in ls)


def main() -> None:
    shapes = json.load(open(sys.argv[1]))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for shape in shapes:
        graph, nodes = build(shape)
        config = {"recursion_limit": 100_000}
        times = []
        for _ in range(runs + 1):
            t = time.perf_counter()
            out = graph.invoke({"done": 0}, config)
            times.append(time.perf_counter() - t)
            assert out["done"] == nodes, (out, nodes)
        median = statistics.median(times[1:])
        print(json.dumps({"shape": name(shape), "nodes": nodes, "seconds": round(median, 6), "nodes_per_second": round(nodes / median)}), flush=True)


if __name__ == "__main__":
    main()
