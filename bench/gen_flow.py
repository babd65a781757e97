#!/usr/bin/env python3
"""Writes a large flow as TOML, for timing Baton's front door (parse, validate, run).

    bench/gen_flow.py SHAPE NODES [--dups K] [--tokens T] > flow.toml

Shapes:
  chain    node i waits for node i-1
  wide     one source, NODES-2 nodes after it, one sink after all of them (1 -> N -> 1)
  layered  layers of 10 nodes, each waiting for the whole previous layer
--dups K renames K nodes to the id of an earlier one (an invalid flow, for `baton validate`).
--tokens T sets every node's expected_tokens (default 16); long outputs stream as many chunks,
so a recording of the run is mostly NodeDelta events (for timing replay, reprice and export).

Outputs are kept short (expected_tokens = 16) so the run measures the front door and the
engine's per-node work rather than simulated text.
"""

import sys


def main() -> None:
    args = sys.argv[1:]
    dups = 0
    if "--dups" in args:
        i = args.index("--dups")
        dups = int(args[i + 1])
        del args[i : i + 2]
    tokens = 16
    if "--tokens" in args:
        i = args.index("--tokens")
        tokens = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2 or args[0] not in ("chain", "wide", "layered"):
        sys.exit(__doc__)
    shape, n = args[0], int(args[1])
    if n < 3:
        sys.exit("NODES must be at least 3")
    width = len(str(n))
    ids = [f"n{i:0{width}d}" for i in range(n)]
    # Every (n // dups)-th node takes the id of the node before it.
    if dups:
        step = max(n // dups, 2)
        for k in range(1, dups + 1):
            i = k * step - 1
            if i < n:
                ids[i] = ids[i - 1]

    def after(i: int) -> list[str]:
        if shape == "chain":
            return [ids[i - 1]] if i > 0 else []
        if shape == "wide":
            if i == 0:
                return []
            if i == n - 1:
                return ids[1 : n - 1]
            return [ids[0]]
        layer = i // 10
        if layer == 0:
            return []
        return ids[(layer - 1) * 10 : layer * 10]

    out = sys.stdout
    out.write(f'[flow]\nname = "{shape}-{n}"\ninput = "front-door benchmark"\n\n')
    for i in range(n):
        a = after(i)
        deps = ", ".join(f'"{x}"' for x in dict.fromkeys(a))
        out.write(
            f'[[node]]\nid = "{ids[i]}"\nkind = "generate"\ncomplexity = 3\nprompt = "step {i}"\n'
            f"expected_tokens = {tokens}\nafter = [{deps}]\n\n"
        )


if __name__ == "__main__":
    main()
