"""The layout of nblib: no import cycles between its modules, and no module over 400 lines.

The import graph is read from the source with ``ast``, without importing anything: every
``import`` and ``from ... import`` statement counts, at module level or inside a function,
absolute or relative. An edge goes to the module imported, or, for ``from package import name``
where ``name`` is not a submodule, to the package (its ``__init__``); importing ``a.b.c`` also
runs the ``__init__`` of ``a.b``, an edge too, unless that package is the importer or contains
it (it is then already being imported). So a package that imports its own submodules is not a
cycle; a submodule that imports names from its parent's ``__init__`` is an edge to the parent,
and a cycle if the parent imports it. Imports by ``importlib`` or by strings are not seen.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

from paths import ROOT

MAX_LINES = 400


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``): dotted name -> file."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(root: Path, package: str) -> dict[str, dict[str, int]]:
    """``{module: {imported module: line of the first such import}}`` for the modules of ``package``."""
    modules = module_files(root, package)
    graph = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]  # the package of `from .`
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: `from .x import y`, `from .. import y`
                    base = ".".join(here.split(".")[:len(here.split(".")) - node.level + 1] + [node.module or ""])
                    base = base.rstrip(".")
                else:
                    base = node.module
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # `import nblib.data.loader as l`, names in modules
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.setdefault(target, node.lineno)
                    target = target.rpartition(".")[0]
                    while target and target != name and not name.startswith(target + "."):  # packages run on the way
                        edges.setdefault(target, node.lineno)
                        target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` for each strongly connected group of modules (Tarjan's algorithm)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(_shortest_cycle(graph, group, min(group)) for group in groups)


def _shortest_cycle(graph, group: set[str], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself through ``group`` (breadth first)."""
    parent, frontier = {}, [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    chain = [v]
                    while chain[-1] != start:
                        chain.append(parent[chain[-1]])
                    return chain[::-1] + [start]
                if w in group and w not in parent:
                    parent[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected group but on no cycle")


def describe(cycle: list[str], graph: dict[str, dict[str, int]], root: Path) -> str:
    """``a -> b (a.py:3) -> a (b.py:12)``: each edge with the import line that makes it."""
    modules = module_files(root, cycle[0].split(".")[0])
    return " -> ".join([cycle[0]] + [f"{b} ({modules[a].relative_to(root)}:{graph[a][b]})"
                                     for a, b in zip(cycle, cycle[1:])])


def test_nblib_modules_import_each_other_without_cycles():
    graph = import_graph(ROOT, "nblib")
    cycles = find_cycles(graph)
    report = "\n".join(describe(c, graph, ROOT) for c in cycles)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports between them; cycles:\n{report or 'none'}")
    assert not cycles, f"import cycles between nblib modules:\n{report}"


def test_no_nblib_module_is_longer_than_400_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in module_files(ROOT, "nblib").items()}
    longest = sorted(lengths.items(), key=lambda kv: -kv[1])
    print("longest modules: " + ", ".join(f"{name} {n}" for name, n in longest[:5]))
    too_long = [f"{name}: {n} lines" for name, n in longest if n > MAX_LINES]
    assert not too_long, f"modules over {MAX_LINES} lines (split them by idea):\n" + "\n".join(too_long)


def test_the_cycle_detector_finds_a_cycle_planted_in_a_copy_of_nblib(tmp_path):
    shutil.copytree(ROOT / "nblib", tmp_path / "nblib", ignore=shutil.ignore_patterns("__pycache__"))
    graph, modules = import_graph(tmp_path, "nblib"), module_files(tmp_path, "nblib")
    in_cycles = {m for c in find_cycles(graph) for m in c}
    # An import a -> b outside any cycle; b imports a back, inside a function, relative to its package.
    a, b = next((a, b) for a in sorted(graph) for b in sorted(graph[a])
                if modules[b].name != "__init__.py" and a.rpartition(".")[0] == b.rpartition(".")[0]
                and not {a, b} & in_cycles)
    target = modules[b]
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    from . import {a.rpartition('.')[2]}\n")
    planted = [c for c in find_cycles(import_graph(tmp_path, "nblib")) if {a, b} <= set(c)]
    print(f"planted {b} -> {a}; found: {planted}")
    assert len(planted) == 1 and (b, a) in zip(planted[0], planted[0][1:]), (a, b, planted)


def test_the_graph_counts_every_kind_of_import_and_not_a_package_importing_its_submodules(tmp_path):
    files = {
        "pkg/__init__.py": "from . import a\nfrom .sub import d\nVERSION = 1\n",  # a package importing its own
        "pkg/a.py": "import os\nimport pkg.sub.e as e\n",                     # absolute: runs pkg.sub too
        "pkg/b.py": "def f():\n    from pkg import VERSION\n",                 # function level, a name of pkg
        "pkg/c.py": "from pkg import a, b\n",                                  # submodules named from pkg
        "pkg/sub/__init__.py": "",
        "pkg/sub/d.py": "from .. import a\nfrom ..a import x\n",               # relative, two levels
        "pkg/sub/e.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert {k: set(v) for k, v in graph.items()} == {
        "pkg": {"pkg.a", "pkg.sub", "pkg.sub.d"},
        "pkg.a": {"pkg.sub", "pkg.sub.e"},
        "pkg.b": {"pkg"},
        "pkg.c": {"pkg.a", "pkg.b"},
        "pkg.sub": set(),
        "pkg.sub.d": {"pkg.a"},
        "pkg.sub.e": set(),
    }
    assert graph["pkg.b"]["pkg"] == 2  # the line of the import
    assert find_cycles(graph) == [], "a package importing its submodules is not a cycle"
    (tmp_path / "pkg/sub/__init__.py").write_text("from pkg import VERSION\n")  # the parent's __init__: a cycle
    cycles = find_cycles(graph := import_graph(tmp_path, "pkg"))
    assert cycles == [["pkg", "pkg.sub", "pkg"]]
    assert describe(cycles[0], graph, tmp_path) == "pkg -> pkg.sub (pkg/__init__.py:2) -> pkg (pkg/sub/__init__.py:1)"
