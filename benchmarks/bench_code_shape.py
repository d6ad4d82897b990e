"""Benchmark: the shape of the package's code, against a baseline git revision.

Lists the functions over 60 lines and the modules over 500 lines in ``autosalt/``, and the
import cycles between its modules (imports anywhere in a module, including those inside a
function), for the working tree and, with ``--baseline REV``, for that git revision; writes the
``## Code shape`` section of docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_code_shape.py --baseline main
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "autosalt"
FUNCTION_LINES = 60
MODULE_LINES = 500


@dataclass
class Shape:
    """What one revision of the package looks like."""

    label: str
    modules: int = 0
    lines: int = 0
    long_functions: list[tuple[str, int]] = field(default_factory=list)
    long_modules: list[tuple[str, int]] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)


def sources_in_tree() -> Iterator[tuple[str, str]]:
    """(path relative to the repository, text) of every module in the working tree."""
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def sources_at(revision: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every module of the package at a git revision."""
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", revision, PACKAGE], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in sorted(n for n in names if n.endswith(".py")):
        yield name, subprocess.run(["git", "show", f"{revision}:{name}"], cwd=ROOT, check=True,
                                   capture_output=True, text=True).stdout


def module_name(path: str) -> str:
    parts = path[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports (a ``from a import b`` counts ``a.b`` when
    ``a.b`` is a module, else ``a``)."""
    found = set()
    base = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = base
            for _ in range(max(node.level - 1, 0)):
                parent = parent.rpartition(".")[0]
            source = (f"{parent}.{node.module}" if node.module else parent) if node.level else node.module
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def measure(label: str, sources: Iterator[tuple[str, str]]) -> Shape:
    shape = Shape(label)
    trees = {}
    for path, text in sources:
        tree = ast.parse(text)
        trees[path] = tree
        count = len(text.splitlines())
        shape.modules += 1
        shape.lines += count
        if count > MODULE_LINES:
            shape.long_modules.append((path, count))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    shape.long_functions.append((f"{path}:{node.name}", length))
    known = {module_name(p) for p in trees}
    graph = {module_name(p): imported_modules(t, module_name(p), p.endswith("__init__.py"), known)
             for p, t in trees.items()}
    shape.cycles = cycles(graph)
    return shape


def describe(shape: Shape) -> str:
    functions = ", ".join(f"`{n}` {c}" for n, c in sorted(shape.long_functions, key=lambda x: -x[1]))
    modules = ", ".join(f"`{n}` {c}" for n, c in sorted(shape.long_modules, key=lambda x: -x[1]))
    loops = "; ".join(" <-> ".join(f"`{m}`" for m in group) for group in shape.cycles)
    return (f"### {shape.label}\n\n{shape.modules} modules, {shape.lines} lines.\n\n"
            f"- functions over {FUNCTION_LINES} lines ({len(shape.long_functions)}): {functions or 'none'}\n"
            f"- modules over {MODULE_LINES} lines ({len(shape.long_modules)}): {modules or 'none'}\n"
            f"- import cycles ({len(shape.cycles)}): {loops or 'none'}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="append", default=[],
                        help="git revision to compare with (e.g. main); may be given more than once")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    shapes = []
    for baseline in args.baseline:
        commit = subprocess.run(["git", "rev-parse", "--short", baseline], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        shapes.append(measure(f"baseline: {baseline} ({commit})", sources_at(baseline)))
    shapes.append(measure("working tree", sources_in_tree()))
    body = ("## Code shape (`benchmarks/bench_code_shape.py`)\n\n"
            "Counted with Python's `ast`: a function's lines run from its `def` to its last line "
            "(docstring included); an import cycle is a group of package modules that import each "
            "other, directly or through others, counting imports inside functions.\n\n"
            + "\n".join(describe(s) for s in shapes))
    print(body)
    if not args.no_write:
        write_section("code_shape", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
