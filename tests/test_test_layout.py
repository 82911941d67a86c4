"""The tests' own layout: what tests share lives in tests/support, and a test module or a
conftest imports from there only, never from another test module or conftest (a helper
found in test_api.py belongs in tests/support/<area>.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
TESTS = ROOT / "tests"
SHARED = "tests.support"


def modules_under_test() -> list[Path]:
    found = [*TESTS.rglob("test_*.py"), *TESTS.rglob("conftest.py"),
             *(TESTS / "support").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    return sorted(p for p in found if "__pycache__" not in p.parts)


def imported_tests_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a tests.* module, `from tests import x` included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names
                    if a.name == "tests" or a.name.startswith("tests.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tests":
                out += [(node.lineno, f"tests.{a.name}") for a in node.names]
            elif node.module.startswith("tests."):
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            out.append((node.lineno, "." * node.level + (node.module or "")))
    return out


def is_shared(module: str) -> bool:
    return module == SHARED or module.startswith(SHARED + ".")


@pytest.mark.fast
def test_test_modules_import_only_from_tests_support() -> None:
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in modules_under_test()
             for line, module in imported_tests_modules(path) if not is_shared(module)]
    assert not wrong, ("move what is shared into tests/support/ and import it from there:\n"
                       + "\n".join(wrong))


@pytest.mark.fast
def test_the_check_sees_a_test_module_importing_another(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("from tests.intake.test_api import filing\n"
                      "from tests import stack\nimport tests.review.conftest\n"
                      "from .helpers import x\nfrom tests.support.web import client\n")
    assert [m for _, m in imported_tests_modules(sample) if not is_shared(m)] == [
        "tests.intake.test_api", "tests.stack", "tests.review.conftest", ".helpers"]


@pytest.mark.fast
def test_what_tests_share_is_not_left_beside_them() -> None:
    """Only test modules, conftests and packages' __init__ outside tests/support."""
    stray = sorted(str(p.relative_to(ROOT)) for p in TESTS.rglob("*.py")
                   if "support" not in p.relative_to(TESTS).parts[:1]
                   and not p.name.startswith("test_")
                   and p.name not in ("conftest.py", "__init__.py")
                   and "__pycache__" not in p.parts)
    assert not stray, stray
