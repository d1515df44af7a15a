#!/usr/bin/env python3
"""Fails when two Bazel packages of this repository depend on each other.

A cycle between packages (backend/awq -> backend/pipeline -> backend/awq)
means neither can be understood, tested or reused without the other; the
dependency graph between packages must stay a DAG. Reads every rule's
direct dependencies from `bazel query` and reports each strongly connected
set of packages with the edges that close it. Test targets are left out:
nothing depends on a test, so a package's tests may use test support
(testing/ packages) built on the package itself.

Usage: tools/check_package_cycles.py   (from the workspace root)
"""
import re
import subprocess
import sys


def query(expression, *flags):
    return subprocess.run(["bazel", "query", *flags, expression],
                          check=True, capture_output=True, text=True).stdout


def package_edges():
    tests = set(query("tests(//...)").split())
    out = query("deps(//..., 1)", "--noimplicit_deps", "--output=graph", "--nograph:factored")
    edges = {}
    for source, target in re.findall(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"', out, re.M):
        if not (source.startswith("//") and target.startswith("//")) or source in tests:
            continue
        a, b = source[2:].split(":")[0], target[2:].split(":")[0]
        if a != b:
            edges.setdefault(a, {}).setdefault(b, (source, target))
    return edges


def strongly_connected(edges):
    """Tarjan's algorithm, iterative so deep graphs do not hit recursion limits."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    nodes = set(edges) | {b for targets in edges.values() for b in targets}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def main():
    edges = package_edges()
    cycles = strongly_connected(edges)
    if not cycles:
        print(f"package cycles: none among {len(edges)} packages with dependencies")
        return 0
    for component in cycles:
        print("package cycle: " + ", ".join(component), file=sys.stderr)
        members = set(component)
        for a in component:
            for b, (source, target) in sorted(edges.get(a, {}).items()):
                if b in members:
                    print(f"  {a} -> {b}  ({source} depends on {target})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
