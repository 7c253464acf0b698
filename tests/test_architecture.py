"""The layout as rules: which package may import which, no import cycle, every module importable
on its own, no production code reading from tests/.

The import graph is read from the source (every ``import``, at module level or inside a
function, under TYPE_CHECKING or not), so a rule is broken by writing the import, not only by
running it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.files import ROOT

PACKAGES = ("crawler", "diff", "storage", "pipeline", "publish", "scheduler")

# package -> the project packages it must never import
FORBIDDEN = {
    "crawler": {"storage", "pipeline", "publish", "scheduler"},    # fetch -> typed items, no database
    "diff": {"crawler", "storage", "pipeline", "publish", "scheduler"},   # pure: only itself
    "storage": {"pipeline", "publish", "scheduler"},
    "pipeline": {"publish", "scheduler"},
    "publish": {"pipeline", "scheduler"},
}
# Modules that cannot be imported on their own, and why.
NOT_IMPORTABLE_ALONE = {
    "scheduler.cli.__main__": "runs the command line when imported (checked with python -m below)",
    "storage.migrations.env": "runs inside Alembic's migration context only",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def production_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = production_modules()


def imported_modules(name: str, path: Path) -> Iterator[str]:
    """The project modules ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from pkg import module`` imports the module; ``from module import name``, the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:   # ``import a.b.c`` names a.b.c; a name inside it names a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: set(imported_modules(name, path)) for name, path in MODULES.items()}


def test_the_graph_sees_the_packages_and_their_imports():
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    assert "storage.models" in GRAPH["storage.lists"] and "diff.events" in GRAPH["pipeline.ingest"]
    assert "scheduler.cli.lists" in GRAPH["scheduler.cli.main"]         # ``from scheduler.cli import lists``


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_boundaries(package):
    broken = sorted(f"{name} imports {target}" for name, targets in GRAPH.items() if name.split(".")[0] == package
                    for target in targets if target.split(".")[0] in FORBIDDEN[package])
    assert broken == []


def test_no_import_cycle_between_modules():
    cycles = [sorted(component) for component in strongly_connected(GRAPH) if len(component) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_the_cycle_check_finds_a_cycle():
    """The control for the test above."""
    assert sorted(map(sorted, strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}))) == [
        ["a", "b", "c"], ["d"]]


def _import_alone(name: str) -> tuple[str, int, str]:
    # import_module: migration modules have names that an import statement cannot spell
    result = subprocess.run([sys.executable, "-c", f"import importlib; importlib.import_module({name!r})"],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    return name, result.returncode, result.stderr[-2000:]


def test_every_module_imports_on_its_own():
    """``python -c "import <module>"`` for every module, each in a fresh interpreter, so that no
    module works only because another one was imported first."""
    names = sorted(set(MODULES) - set(NOT_IMPORTABLE_ALONE))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        failures = [(name, error) for name, code, error in pool.map(_import_alone, names) if code != 0]
    assert failures == []
    help_text = subprocess.run([sys.executable, "-m", "scheduler.cli", "--help"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
    assert help_text.returncode == 0 and "backfill" in help_text.stdout


def _code_strings(path: Path) -> Iterator[str]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def test_no_production_module_reads_from_tests():
    mentions = sorted(f"{name}: {text!r}" for name, path in MODULES.items() for text in _code_strings(path)
                      if re.search(r"(^|[/\\])tests([/\\]|$)", text))
    assert mentions == []


def test_every_package_is_installed():
    """The packages pyproject.toml installs are the project's packages (an editable install of a
    package left out there imports only from a checkout's own folder)."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(pattern.rstrip("*") for pattern in include) == sorted(PACKAGES)


def test_test_folders_do_not_stand_in_for_the_packages():
    """tests/diff and the others are tests.diff...: ``import diff`` is always the project's."""
    import diff
    import tests.diff

    assert Path(diff.__file__).parent == ROOT / "diff"
    assert Path(tests.diff.__file__).parent == ROOT / "tests" / "diff"
    assert not [path for path in (ROOT / "tests").rglob("test_*.py")
                if any(isinstance(node, (ast.Import, ast.ImportFrom)) and _names_a_test_module(node)
                       for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]


def _names_a_test_module(node: ast.Import | ast.ImportFrom) -> bool:
    """No test imports another test module (shared things live in conftest.py or helper modules)."""
    names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return any(part.startswith("test_") or part == "conftest" for name in names for part in name.split("."))
