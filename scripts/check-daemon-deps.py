#!/usr/bin/env python3
"""The daemon's modules depend on each other one way only (docs/ARCHITECTURE.md section 7).

A module is daemon/X.h with daemon/X.c; it depends on every daemon header either file includes.
Prints the dependency graph and exits non-zero if it has a cycle, or if a daemon .c file grows
past MAX_LINES (STYLE.md 1: past ~800 lines a file is probably two concerns). Records the result
for scripts/summary.sh.
"""
import os
import re
import sys

MAX_LINES = 800
INCLUDE = re.compile(r'^#include "daemon/([a-z_0-9]+)\.h"', re.M)


def graph(root):
    deps = {}
    for name in sorted(os.listdir(os.path.join(root, "daemon"))):
        stem, ext = os.path.splitext(name)
        if ext not in (".c", ".h"):
            continue
        with open(os.path.join(root, "daemon", name)) as f:
            found = set(INCLUDE.findall(f.read()))
        deps.setdefault(stem, set()).update(found - {stem})
    return deps


def find_cycle(deps):
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(deps.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(deps):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    deps = graph(root)
    for node in sorted(deps):
        print(f"  {node:12} -> {' '.join(sorted(deps[node])) or '-'}")
    cycle = find_cycle(deps)
    too_long = []
    for name in sorted(os.listdir(os.path.join(root, "daemon"))):
        if name.endswith(".c"):
            with open(os.path.join(root, "daemon", name)) as f:
                lines = sum(1 for _ in f)
            if lines > MAX_LINES:
                too_long.append(f"daemon/{name} has {lines} lines (> {MAX_LINES})")
    os.makedirs(os.path.join(root, "build", "results"), exist_ok=True)
    with open(os.path.join(root, "build", "results", "daemon-deps.txt"), "w") as f:
        f.write("0 1\n" if cycle or too_long else "1 0\n")
    for line in too_long:
        print("daemon-deps: " + line)
    if cycle:
        print("daemon-deps: include cycle: " + " -> ".join(cycle))
    if cycle or too_long:
        return 1
    print(f"daemon-deps: {len(deps)} modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
