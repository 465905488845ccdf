"""Step 4 of grading, before a test runs: does the submitted cell mention a name its question forbids?

Called by the ``student`` fixture (:mod:`~nblib.grading.plugin`) with the submitted source
(step 2) and the test module's ``FORBIDDEN`` list; a finding fails the test (status ``failed``).

``forbidden_uses(source, ["torch.sigmoid", "F.sigmoid", ".sigmoid", "eval"])`` walks the
cell's syntax tree, resolves import aliases (``import torch as t``, ``from torch import
sigmoid as s``, the prelude's ``np``/``nn``/``F``) and reports every reference to a
forbidden dotted name (called or not), every attribute named like a ``".name"`` entry,
every bare name equal to an undotted entry, and ``getattr(obj, "literal")`` spelled out.
Dynamic tricks (``getattr(torch, "sig" + "moid")``, ``eval``) are caught only if the list
forbids ``getattr``/``eval``/``exec``/``__import__`` themselves.
"""
from __future__ import annotations

import ast

PRELUDE_ALIASES = {"math": "math", "np": "numpy", "torch": "torch", "nn": "torch.nn",
                   "F": "torch.nn.functional"}


def _normalize(entry: str) -> str:
    head, _, rest = entry.partition(".")
    if head in PRELUDE_ALIASES:
        return PRELUDE_ALIASES[head] + ("." + rest if rest else "")
    return entry


def _chain(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def forbidden_uses(source: str, forbidden: list[str]) -> list[str]:
    """Human-readable findings, e.g. ``["torch.sigmoid (line 3)"]``; ``[]`` if clean."""
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the sandbox reports the syntax error
    aliases = dict(PRELUDE_ALIASES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    dotted = {_normalize(e): e for e in forbidden if "." in e.strip(".") and not e.startswith(".")}
    attrs = {e[1:] for e in forbidden if e.startswith(".")}
    bare = {e for e in forbidden if "." not in e}

    found: list[str] = []

    def hit(name: str, node: ast.AST) -> None:
        item = f"{name} (line {getattr(node, 'lineno', '?')})"
        if item not in found:
            found.append(item)

    def check_resolved(full: str, node: ast.AST) -> None:
        for d, written in dotted.items():
            if full == d or full.startswith(d + "."):
                hit(written, node)

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in attrs:
                hit("." + node.attr, node)
            parts = _chain(node)
            if parts:
                check_resolved(".".join([aliases.get(parts[0], parts[0]), *parts[1:]]), node)
        elif isinstance(node, ast.Name):
            if node.id in bare:
                hit(node.id, node)
            check_resolved(aliases.get(node.id, node.id), node)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                check_resolved(f"{node.module}.{a.name}", node)
                if a.name in attrs:
                    hit("." + a.name, node)
        elif isinstance(node, ast.Import):
            for a in node.names:
                check_resolved(a.name, node)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)):
            attr = node.args[1].value
            if attr in attrs:
                hit("." + attr, node)
            parts = _chain(node.args[0])
            if parts:
                check_resolved(".".join([aliases.get(parts[0], parts[0]), *parts[1:], attr]), node)
    return found
