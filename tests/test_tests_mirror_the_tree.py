"""Tests mirror the tree: each source module with logic (a function or method) has a test module
at tests/<same folder>/test_<name>.py, so that its tests are found where its code is."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT, TESTS_DIR

PACKAGES = ("components", "pipeline")
# Modules tested by a test module named otherwise, or only end to end (tests/e2e/test_<name>.py).
TESTED_ELSEWHERE = {
    "components/trainer/executor.py": "tests/e2e/test_faults.py",  # damaged shards stop the Trainer
    "components/evaluator/figures.py": "tests/e2e/test_pipeline_e2e.py",  # the summary's figures are these
    "components/served_model/properties.py": "tests/components/served_model/test_executor.py",
    # The Evaluators' and the Trainer's figures:
    "pipeline/inspect/artifact_metrics.py": "tests/pipeline/inspect/run_page/test_page_of_a_run.py",
}


def has_logic(path: Path) -> bool:
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in ast.walk(ast.parse(path.read_text()))
    )


def where_tested(source: Path) -> list[Path]:
    """Where the tests of `source` may be."""
    relative = source.relative_to(REPO_ROOT)
    return [
        TESTS_DIR / relative.parent / f"test_{relative.name}",
        TESTS_DIR / "e2e" / f"test_{relative.name}",
        *([REPO_ROOT / TESTED_ELSEWHERE[relative.as_posix()]] if relative.as_posix() in TESTED_ELSEWHERE else []),
    ]


def untested_modules() -> set[str]:
    return {
        source.relative_to(REPO_ROOT).as_posix()
        for package in PACKAGES
        for source in sorted((REPO_ROOT / package).rglob("*.py"))
        if "__pycache__" not in source.parts
        and has_logic(source)
        and not any(path.is_file() for path in where_tested(source))
    }


def test_every_module_with_logic_has_its_test_module():
    assert untested_modules() == set()


def test_modules_without_logic_need_none():
    assert not has_logic(REPO_ROOT / "components" / "errors.py")
    assert not has_logic(REPO_ROOT / "components" / "__init__.py")
    assert has_logic(REPO_ROOT / "components" / "serving_dir.py")
