"""The package's imports obey docs/architecture.md: layers, no arrow back up, no circle, no Namespace in library code.

Every import is read, at the top of a module and inside functions alike (an import moved into a function still
ties the two modules).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pyserini_dr"
BASE = {"errors", "files", "progress", "arg_types"}

# docs/architecture.md's table: each unit (a subpackage or a top-level module) and the units it may import
ALLOWED = {
    "errors": set(),
    "java_setup": set(),
    "files": {"errors"},
    "progress": set(),
    "arg_types": set(),
    "_pyserini": {"java_setup"} | BASE,
    "data": BASE,
    "eval": {"data", "_pyserini"} | BASE,
    "fusion": {"data"} | BASE,
    "index": {"data", "_pyserini"} | BASE,
    "encode": {"index", "data"} | BASE,
    "prebuilt": {"encode", "index", "data", "_pyserini"} | BASE,
    "search": {"prebuilt", "encode", "index", "fusion", "eval", "data", "_pyserini"} | BASE,
    "rerank": {"encode", "data"} | BASE,
    "train": {"rerank", "search", "prebuilt", "encode", "index", "fusion", "eval", "data", "_pyserini"} | BASE,
}
COMMAND_HELPERS = {"cli"}  # imported by command modules only
MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _command_nodes(tree: ast.Module) -> set[int]:
    """ids of the nodes inside a module's ``main`` function or its ``if __name__ == "__main__":`` block."""
    roots = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    roots += [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    return {id(sub) for root in roots for sub in ast.walk(root)}


def _imports(name: str, path: Path, *, library_only: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for every import of the file, resolved to a module of ours where it is one;
    ``library_only`` leaves out the imports of the module's command code (its ``main``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = _command_nodes(tree) if library_only else set()
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import x` imports the module x when there is one
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}
LIBRARY_IMPORTS = {name: _imports(name, path, library_only=True) for name, path in MODULES.items()}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pyserini_dr"


def _is_command(module: str) -> bool:
    """A module that only parses command lines: a ``__main__``, an ``options`` module, ``cli``."""
    return module.endswith(".__main__") or module.split(".")[-1] in {"options", "cli"}


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}"


def test_only_the_door_imports_pyserini():
    bad = [f"{_where(m, line)} imports {target}" for m, found in IMPORTS.items() for target, line in found
           if (target == "pyserini" or target.startswith("pyserini.")) and m != "pyserini_dr._pyserini"]
    assert not bad, "\n".join(bad)


def test_nothing_imports_a_main_module():
    bad = [f"{_where(m, line)} imports {target}" for m, found in IMPORTS.items() for target, line in found
           if target.endswith(".__main__")]
    assert not bad, "\n".join(bad)


def test_library_modules_import_only_down_the_layers():
    bad = []
    for module, found in LIBRARY_IMPORTS.items():
        if _is_command(module) or module == "pyserini_dr":
            continue
        unit = _unit(module)
        for target, line in found:
            if not target.startswith("pyserini_dr.") or target == "pyserini_dr.cli" and "def main(" in MODULES[
                    module].read_text():  # a module's main may use cli.run_main
                continue
            other = _unit(target)
            if other != unit and other not in ALLOWED[unit]:
                bad.append(f"{_where(module, line)}: {unit} -> {other} ({target})")
    assert not bad, "arrows docs/architecture.md does not allow:\n" + "\n".join(bad)


def test_every_unit_is_in_the_layer_table():
    units = {_unit(m) for m in MODULES} - {"pyserini_dr"} - COMMAND_HELPERS
    assert units <= set(ALLOWED), f"add to docs/architecture.md and ALLOWED: {sorted(units - set(ALLOWED))}"


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_circle_between_modules():
    graph = defaultdict(set)
    for module, found in IMPORTS.items():
        for target, _ in found:
            # a package's __init__ is run before its submodules: a submodule taking a name from its own package's
            # __init__ is not a circle of ours
            if target in MODULES and target != module and target not in _parents(module):
                graph[module].add(target)
    assert not _circles(graph)


def test_no_circle_between_packages():
    """Between the packages' library code: a command sits above every layer and may use any of them."""
    graph = defaultdict(set)
    for module, found in LIBRARY_IMPORTS.items():
        if _is_command(module):
            continue
        for target, _ in found:
            if target in MODULES and _unit(target) != _unit(module) and not _is_command(target):
                graph[_unit(module)].add(_unit(target))
    assert not _circles(graph)


def _namespace_parameters(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            for arg in arguments:
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg in {"args", "namespace"} or "Namespace" in annotation:
                    bad.append(f"{path}:{node.lineno} {node.name}({arg.arg})")
    return bad


def test_no_library_function_takes_a_namespace():
    bad = [hit for name, path in MODULES.items() if not _is_command(name) for hit in _namespace_parameters(path)]
    assert not bad, "library functions taking parsed arguments:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines < MAX_LINES, f"{MODULES[name]}: {lines} lines (split it: docs/architecture.md)"


def test_the_table_catches_an_arrow_back_up(tmp_path):
    """The checks above see an import inside a function, relative or absolute."""
    path = tmp_path / "probe.py"
    path.write_text("def f(args):\n    from ..search.faiss import x\n    import pyserini_dr.train\n\n\n"
                    "def main(argv=None):\n    from ..encode import options\n")
    found = _imports("pyserini_dr.data.probe", path)
    assert ("pyserini_dr.search.faiss", 2) in found and ("pyserini_dr.train", 3) in found
    assert ("pyserini_dr.encode.options", 7) in found
    assert ("pyserini_dr.encode.options", 7) not in _imports("pyserini_dr.data.probe", path, library_only=True)
    assert len(_namespace_parameters(path)) == 1


def test_no_private_module_used_from_another_package():
    """A package's private modules (``_name.py``) are its own; other packages use its public names."""
    bad = []
    for module, found in IMPORTS.items():
        for target, line in found:
            private = [part for part in target.split(".")[1:] if part.startswith("_") and part != "__main__"]
            if private and private != ["_pyserini"] and _unit(target) != _unit(module):
                bad.append(f"{_where(module, line)} imports {target}")
    assert not bad, "\n".join(bad)
