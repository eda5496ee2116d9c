"""The package's layers point one way: no module imports from a layer above it, and there are no cycles.

The layers are the import-linter contract in ``.importlinter`` at the repository root (bottom to
top: foundation, ``ir``, ``planning``, ``backends``, ``execution``, ``cost``, ``api``, the front ends;
docs/architecture.md draws them); the package's ``__init__`` sits above them all.

The check reads the source with :mod:`ast` (nothing is imported), so it also sees imports that
only run on some paths. An import inside a function is allowed only for optional extras
(TensorFlow, Qiskit, PennyLane, Braket, Dask, ...): never for qshift's own modules, which would hide
a back-edge or a cycle from anyone reading the top of the file.
"""

from __future__ import annotations

import ast
import configparser
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qshift"

CONTRACT = PACKAGE.parent / ".importlinter"


def read_layers(path: Path = CONTRACT) -> list[tuple[str, ...]]:
    """The layers of the import-linter contract in ``.importlinter``, bottom first; the package itself on top."""
    parser = configparser.ConfigParser()
    parser.read(path)
    lines = [line.strip() for line in parser["importlinter:contract:layers"]["layers"].splitlines() if line.strip()]
    return [tuple(name.strip() for name in line.split(":")) for line in reversed(lines)] + [("qshift",)]


LAYERS = read_layers()


def layer_of(module: str) -> int:
    """The layer of a qshift module: the longest prefix listed in LAYERS wins."""
    best, length = None, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = level, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)")
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def qshift_imports(source: str, module: str, is_package: bool) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level?)`` for every import of a qshift module."""
    tree = ast.parse(source)
    top_level = {id(node) for node in tree.body}
    top_level |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body + node.orelse}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]  # a name or a submodule of target
        else:
            continue
        for name in names:
            if name == "qshift" or name.startswith("qshift."):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def resolve(name: str, modules: set[str]) -> str | None:
    """The qshift module ``name`` refers to (``qshift.ir.circuit.Circuit`` -> ``qshift.ir.circuit``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def package_modules(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    return {module_name(p, root): (p, p.name == "__init__.py") for p in sorted(root.rglob("*.py"))}


def violations(modules: dict[str, tuple[Path, bool]], read=lambda p: p.read_text()) -> list[str]:
    """Back-edges and function-level imports of qshift modules, as readable lines."""
    names, out = set(modules), []
    for module, (path, is_package) in modules.items():
        for imported, line, top in qshift_imports(read(path), module, is_package):
            target = resolve(imported, names)
            if target is None or target == module:
                continue
            if not top:
                out.append(f"{module}:{line} imports {target} inside a function")
            if layer_of(target) > layer_of(module):
                out.append(f"{module}:{line} imports {target} from a layer above "
                           f"({layer_of(module)} -> {layer_of(target)})")
    return sorted(set(out))


def cycles(modules: dict[str, tuple[Path, bool]], read=lambda p: p.read_text()) -> list[list[str]]:
    """Import cycles among qshift modules (package ``__init__`` re-exports excluded)."""
    names = set(modules)
    graph = {m: set() for m in modules}
    for module, (path, is_package) in modules.items():
        for imported, _, _ in qshift_imports(read(path), module, is_package):
            target = resolve(imported, names)
            if target and target != module and not modules[target][1]:
                graph[module].add(target)
    found, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_the_contract_lists_the_layers_bottom_first():
    assert "qshift._errors" in LAYERS[0] and "qshift.tf" in LAYERS[-2] and LAYERS[-1] == ("qshift",)
    assert LAYERS[1:-2] == [("qshift.ir",), ("qshift.planning",), ("qshift.backends",), ("qshift.execution",),
                            ("qshift.cost",), ("qshift.api",)]


def test_every_module_is_in_a_layer():
    for module in package_modules():
        layer_of(module)


def test_no_module_imports_from_a_layer_above_or_inside_a_function():
    assert violations(package_modules()) == []


def test_no_import_cycles():
    assert cycles(package_modules()) == []


@pytest.fixture
def fake_package(tmp_path):
    """A throwaway copy of the layering rules' inputs: two modules in two layers."""
    def make(planner_source: str):
        files = {
            "qshift/ir/circuit.py": "import numpy as np\n",
            "qshift/planning/planner.py": textwrap.dedent(planner_source),
            "qshift/execution/executor.py": "from qshift.planning.planner import make_plan\n",
        }
        for rel, text in files.items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
        return package_modules(tmp_path / "qshift")
    return make


def test_a_deliberate_back_edge_is_caught(fake_package):
    modules = fake_package("from qshift.execution.executor import Executor\n")
    assert violations(modules) == ["qshift.planning.planner:1 imports qshift.execution.executor from a layer above "
                                   "(2 -> 4)"]
    assert cycles(modules) == [["qshift.execution.executor", "qshift.planning.planner",
                                "qshift.execution.executor"]]


def test_a_function_level_import_is_caught(fake_package):
    modules = fake_package("""
        def plan():
            from qshift.ir.circuit import np
            import tensorflow  # an optional extra: allowed
    """)
    assert violations(modules) == ["qshift.planning.planner:3 imports qshift.ir.circuit inside a function"]


def test_a_clean_package_passes(fake_package):
    modules = fake_package("from qshift.ir.circuit import np\n")
    assert violations(modules) == [] and cycles(modules) == []
