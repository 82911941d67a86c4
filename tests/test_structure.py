"""The house rules a reader relies on, checked on the source: routes are module-level and
short (a router longer than a screen is split by business area), and "who did it" is the
typed `Actor` in every signature, never a bare dict (the methods that apply an event take
its stored form, which has one name: `shared.contracts.StoredActor`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).parents[1]
SERVICE_NAMES = sorted(p.parent.name for p in (ROOT / "services").glob("*/main.py"))
MAX_ROUTER_LINES = 80


def sources(service: str) -> list[Path]:
    return sorted((ROOT / "services" / service).rglob("*.py"))


def _is_api_router(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "APIRouter")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_router_factory_and_no_router_longer_than_a_screen(service: str) -> None:
    too_long, factories = [], []
    for path in sources(service):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                    and any(_is_api_router(n) for n in ast.walk(node))):
                factories.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}()")
        starts = [n.lineno for n in tree.body
                  if isinstance(n, ast.Assign) and _is_api_router(n.value)]
        if starts:
            # A router is its APIRouter(...) line and every route after it in the module.
            length = tree.body[-1].end_lineno - starts[0] + 1  # type: ignore[operator]
            if length > MAX_ROUTER_LINES:
                too_long.append(f"{path.relative_to(ROOT)}: {length} lines")
    assert not factories, "routes belong at module level:\n" + "\n".join(factories)
    assert not too_long, (f"routers over {MAX_ROUTER_LINES} lines, split by business area:\n"
                          + "\n".join(too_long))


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_who_did_it_is_a_typed_actor(service: str) -> None:
    untyped = []
    for path in sources(service):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.arg) and node.arg in {"actor", "by", "who"} \
                    and node.annotation is not None \
                    and ast.unparse(node.annotation).startswith(("dict", "Mapping")):
                untyped.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.arg}: "
                               f"{ast.unparse(node.annotation)}")
    assert not untyped, "use shared.contracts.Actor:\n" + "\n".join(untyped)
