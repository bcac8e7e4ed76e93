"""The import graph of savos/ and generators/, built from the sources with ast: imports go one way, down
the layers of docs/architecture.md, with no cycle; and imports sit at module top, except deliberately
lazy ones, each commented ``# lazy: why``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("savos", "generators")

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS = [
    ["savos", "savos.errors", "savos.limits", "savos.atomic", "savos.readers", "savos.schema",
     "savos.outputs", "savos.locks", "savos.safe_yaml"],
    ["savos.data"],
    ["generators"],
    ["savos.warp", "savos.trajectory", "savos.motion"],
    ["savos.tracks"],
    ["savos.models"],
    ["savos.config", "savos.training"],  # a recipe names a method: config reads the method registry
    ["savos.evaluation"],
    ["savos.adapt"],
    ["savos.report"],
    ["savos.cli"],
]


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """Project modules an import statement loads (``from pkg import mod`` loads pkg.mod)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative import
            here = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    out = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


def _imports() -> dict[str, list[tuple[str, ast.AST, bool]]]:
    """module -> [(imported project module, node, at module top)] (TYPE_CHECKING imports excluded)."""
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        top = {id(n) for n in tree.body}
        edges = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skip:
                edges += [(t, node, id(node) in top) for t in _targets(node, module) if t != module]
        graph[module] = edges
    return graph


GRAPH = _imports()


def _layer(module: str) -> int:
    if module in LAYERS[0]:
        return 0
    for i, prefixes in enumerate(LAYERS[1:], 1):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module}: in no layer; add it to LAYERS here and to docs/architecture.md")


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_imports_never_go_up_a_layer():
    upward = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
              for m, edges in GRAPH.items() for t, _, _ in edges if _layer(t) > _layer(m)]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t, _, _ in GRAPH[m]:
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t):] + [m, t]) if t in path else f"{m} -> {t}")
            elif t not in state:
                visit(t, path + [m])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [])
    assert not cycles, "\n".join(cycles)


def test_imports_below_module_top_are_commented_lazy():
    for path in MODULES.values():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        top = {id(n) for n in tree.body}
        for node in tree.body:  # a module-level try/if holds top imports too
            if isinstance(node, ast.If | ast.Try):
                top.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                near = "".join(lines[node.lineno - 2: node.end_lineno])  # the line above, or the statement
                assert "# lazy" in near, (f"{path.relative_to(ROOT)}:{node.lineno}: an import inside a "
                                          "function; move it to the module top or comment why it is lazy "
                                          "(# lazy: ...)")


def test_the_graph_sees_imports():
    """The checks above are only as good as the graph: it finds known top and lazy edges."""
    edges = {(t, top) for t, _, top in GRAPH["savos.cli.main"]}
    assert ("savos.cli.group", True) in edges and ("savos.evaluation.evaluate", False) in edges
    assert ("savos.report.reach", True) in {(t, top) for t, _, top in GRAPH["savos.report.report"]}
    assert _layer("savos.report.reach") > _layer("savos.evaluation.evaluate") > _layer("savos.data.clip")
