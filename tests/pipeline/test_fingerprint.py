"""pipeline/fingerprint.py: a component's code hash covers every project module it imports.

Edits happen in a copy of the project under tmp_path (the `root` argument), never in the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.fingerprint import PROJECT_ROOT, code_sha256, content_addressed, file_sha256, imported_files

INGEST = "components.idx_example_gen.executor"


def append_comment(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


def relative(paths: set[Path], root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in paths}


def write_module(root: Path, relative_path: str, source: str) -> None:
    path = root / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_the_ingest_covers_the_modules_it_imports_transitively():
    files = relative(imported_files(INGEST), PROJECT_ROOT)
    assert {
        "components/idx_example_gen/executor.py",
        "components/idx_example_gen/idx.py",
        "components/idx_example_gen/layout.py",
        "components/idx_example_gen/settings.py",
        "components/example_format.py",
        "components/errors.py",  # through layout.py and idx.py: transitive
        "components/idx_example_gen/__init__.py",  # importing a.b runs a/__init__.py
        "components/__init__.py",
    } <= files
    assert not any(name.startswith("pipeline/") for name in files)
    assert "components/trainer/model.py" not in files


def test_the_hash_is_stable_and_the_same_in_a_copy(project_copy):
    assert code_sha256(INGEST) == code_sha256(INGEST)
    assert code_sha256(INGEST, root=project_copy) == code_sha256(INGEST)  # relative paths, not absolute


@pytest.mark.parametrize(
    "edited",
    [
        "components/idx_example_gen/executor.py",
        "components/idx_example_gen/idx.py",
        "components/errors.py",
        "components/idx_example_gen/__init__.py",
    ],
)
def test_editing_an_imported_module_changes_the_hash(project_copy, edited):
    before = code_sha256(INGEST, root=project_copy)
    append_comment(project_copy / edited)
    assert code_sha256(INGEST, root=project_copy) != before


@pytest.mark.parametrize("edited", ["components/trainer/model.py", "pipeline/cli.py", "configs/pipeline.yaml"])
def test_editing_a_module_it_does_not_import_keeps_the_hash(project_copy, edited):
    before = code_sha256(INGEST, root=project_copy)
    append_comment(project_copy / edited)
    assert code_sha256(INGEST, root=project_copy) == before


def test_a_newly_imported_module_joins_the_hash(project_copy):
    before = code_sha256(INGEST, root=project_copy)
    write_module(project_copy, "components/helper.py", "VALUE = 1\n")
    assert code_sha256(INGEST, root=project_copy) == before  # not imported yet
    executor = project_copy / "components/idx_example_gen/executor.py"
    executor.write_text(executor.read_text() + "\nfrom components.helper import VALUE\n")
    with_import = code_sha256(INGEST, root=project_copy)
    append_comment(project_copy / "components/helper.py")
    assert code_sha256(INGEST, root=project_copy) != with_import


@pytest.mark.parametrize(
    "statement",
    [
        "from . import helper",
        "from .helper import VALUE",
        "from .. import helper_above as h",
        "import components.pkg.helper",
        "from components.pkg import helper",
        "def f():\n    from .helper import VALUE",
    ],  # a lazy import is still code the module runs
)
def test_absolute_relative_and_lazy_imports_are_followed(tmp_path, statement):
    write_module(tmp_path, "components/__init__.py", "")
    write_module(tmp_path, "components/pkg/__init__.py", "")
    write_module(tmp_path, "components/pkg/main.py", statement + "\n")
    write_module(tmp_path, "components/pkg/helper.py", "VALUE = 1\n")
    write_module(tmp_path, "components/helper_above.py", "VALUE = 2\n")
    files = relative(imported_files("components.pkg.main", tmp_path), tmp_path)
    assert files & {"components/pkg/helper.py", "components/helper_above.py"}
    before = code_sha256("components.pkg.main", root=tmp_path)
    for path in files - {"components/__init__.py", "components/pkg/__init__.py", "components/pkg/main.py"}:
        append_comment(tmp_path / path)
    assert code_sha256("components.pkg.main", root=tmp_path) != before


def test_several_modules_hash_the_union_of_their_imports(project_copy):
    """The Trainer runs its executor and its run_fn's module; both are in its hash."""
    both = code_sha256(INGEST, "components.split_validator", root=project_copy)
    assert both != code_sha256(INGEST, root=project_copy)
    append_comment(project_copy / "components/split_validator.py")
    assert code_sha256(INGEST, "components.split_validator", root=project_copy) != both


def test_modules_outside_the_project_are_not_followed(tmp_path):
    write_module(tmp_path, "components/__init__.py", "")
    write_module(tmp_path, "components/main.py", "import os\nimport numpy as np\nfrom tfx import types\n")
    assert relative(imported_files("components.main", tmp_path), tmp_path) == {
        "components/__init__.py",
        "components/main.py",
    }


def test_a_cycle_of_imports_terminates(tmp_path):
    write_module(tmp_path, "components/__init__.py", "")
    write_module(tmp_path, "components/a.py", "from components import b\n")
    write_module(tmp_path, "components/b.py", "from components import a\n")
    assert relative(imported_files("components.a", tmp_path), tmp_path) == {
        "components/__init__.py",
        "components/a.py",
        "components/b.py",
    }


def test_content_addressed_path_changes_with_the_content(tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("feature {}")
    first = content_addressed(schema)
    assert first.name == "schema.pbtxt" and len(first.parent.name) == 16
    assert first.parent.name == file_sha256(schema)[:16]
    schema.write_text("feature { name: 'x' }")
    assert content_addressed(schema) != first
