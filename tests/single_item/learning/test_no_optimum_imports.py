"""A learner never reads a known answer (issue 29 item 1; house rule): no module of
``pipeline_lib.single_item.learning`` imports Myerson's module (the optimal auction and its revenue) or evaluation's
optimum check, directly or through any ``pipeline_lib`` module it imports. Checked statically, on the import
statements of the source files (ast), so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import pipeline_lib.single_item.learning as learning

FORBIDDEN = ("pipeline_lib.single_item.mechanisms.myerson", "pipeline_lib.single_item.evaluation.optimum_check")
LEARNING = sorted(
    f"pipeline_lib.single_item.learning.{p.stem}" for p in Path(learning.__file__).parent.glob("*.py")
    if p.stem != "__init__"
)  # fmt: skip


def _imports(module: str) -> set[str]:
    """The pipeline_lib modules imported anywhere in ``module``'s source (``from a import b`` counts both a and
    a.b, since b may be a submodule)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    tree = ast.parse(Path(spec.origin).read_text(), spec.origin)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith("pipeline_lib") and _is_module(m)}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # ``a.b.name`` where a.b is a module and name one of its objects
        return False


def _reachable(module: str) -> dict[str, str]:
    """Every pipeline_lib module reachable from ``module`` by imports, mapped to the module that imports it."""
    seen, stack = {module: ""}, [module]
    while stack:
        current = stack.pop()
        for dep in _imports(current):
            if dep not in seen:
                seen[dep] = current
                stack.append(dep)
    return seen


def _chain(seen: dict[str, str], target: str) -> str:
    path = [target]
    while seen[path[-1]]:
        path.append(seen[path[-1]])
    return " <- ".join(path)


def test_every_learning_module_is_checked():
    assert {"regretnet", "myersonnet", "report_net", "distilled_start", "regretnet_sweep"} <= {
        m.rsplit(".", 1)[1] for m in LEARNING
    }


@pytest.mark.parametrize("module", LEARNING)
def test_no_learning_module_reaches_the_optimum(module):
    seen = _reachable(module)
    reached = [_chain(seen, f) for f in FORBIDDEN if f in seen]
    assert not reached, f"{module} reaches the known optimum: {reached}"


def test_the_check_sees_the_optimum_where_it_is_read():
    """The probe can fail: evaluation's family report and the baselines do reach Myerson's module."""
    assert set(FORBIDDEN) <= set(_reachable("pipeline_lib.single_item.evaluation.family_report"))
    assert FORBIDDEN[0] in _reachable("pipeline_lib.single_item.mechanisms.baselines")
