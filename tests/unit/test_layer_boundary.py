"""The Lambda layer (shared/) and the functions ship to AWS; local-only tooling must never leak into them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from prism_local.config import REPO_ROOT

SHIPPED = [REPO_ROOT / "shared", REPO_ROOT / "functions"]
LOCAL_ONLY_MODULES = {"prism_local", "moto", "osmem_server", "tests", "pytest", "hypothesis"}
LOCAL_ONLY_PACKAGES = {"moto", "osmem-server", "pytest", "hypothesis", "ruff", "mypy", "cfn-lint"}


def shipped_sources() -> list[Path]:
    return sorted(path for root in SHIPPED for path in root.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("path", shipped_sources(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shipped_code_imports_nothing_local_only(path: Path) -> None:
    assert not imported_modules(path) & LOCAL_ONLY_MODULES


def test_the_layer_requirements_name_no_development_package() -> None:
    lines = (REPO_ROOT / "shared" / "requirements.txt").read_text().splitlines()
    names = {line.split("==")[0].split("[")[0].strip().lower() for line in lines if line and not line.startswith("#")}
    assert names
    assert not names & LOCAL_ONLY_PACKAGES
