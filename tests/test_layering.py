"""Imports point one way, down the layers written in tests/support/import_graph.py (LAYERS): notebook -> cli ->
{local, kubeflow} -> inspect -> core (pipeline/) -> components/; and no project modules import
each other in a cycle. The source is read with ast; nothing is imported, so a violation is found
even in a module no test imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO_ROOT
from support.import_graph import (
    LAYERS,
    external_imports,
    import_cycles,
    import_graph,
    layer_of,
    layer_violations,
    project_modules,
)

TENSORFLOW_PACKAGES = {"tensorflow", "tfx", "tensorflow_model_analysis", "tensorflow_data_validation", "apache_beam"}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(REPO_ROOT)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Writes `files` (relative path -> source) under root, with empty __init__.py files."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


# --- the project ----------------------------------------------------------------------------


def test_the_graph_covers_every_module_of_both_packages(graph):
    assert {
        "components.settings",
        "components.idx_example_gen.executor",
        "pipeline.cli",
        "pipeline.pipeline",
    } <= graph.keys()
    assert graph.keys() == project_modules(REPO_ROOT).keys()
    assert "components.settings" in graph["pipeline.config"]


def test_imports_point_down_the_layers(graph):
    assert layer_violations(graph) == []


def test_every_module_is_in_a_layer_and_each_subpackage_of_pipeline_is_one(graph):
    assert {layer_of(module)[1] for module in graph} == {group for layer in LAYERS for group in layer}
    packages = {path.name for path in (REPO_ROOT / "pipeline").iterdir() if (path / "__init__.py").is_file()}
    assert {f"pipeline.{package}" for package in packages} == {
        "pipeline.local",
        "pipeline.kubeflow",
        "pipeline.inspect",
    }


def test_no_import_cycles(graph):
    assert import_cycles(graph) == []


def test_the_config_and_the_settings_types_import_no_tensorflow():
    """Every command loads the config; its settings types say "No TensorFlow here"."""
    for module in ("pipeline.config", "pipeline.node_ids"):
        imported = set().union(*external_imports(REPO_ROOT, module).values())
        assert imported & TENSORFLOW_PACKAGES == set(), module


# --- the checker, on synthetic trees --------------------------------------------------------


def test_checker_finds_imports_against_the_written_order(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/a.py": "from pipeline.config import load_config\n",
            "components/b.py": "def f():\n    from ..pipeline import node_ids\n",  # relative, inside a function
            "components/c.py": "import components.a\n",
            "pipeline/__init__.py": "",
            "pipeline/config.py": "from components import a\nfrom pipeline.inspect import lineage\n",  # core -> inspect
            "pipeline/node_ids.py": "",
            "pipeline/cli.py": "from pipeline.local import runner\n",
            "pipeline/inspect/__init__.py": "",
            "pipeline/inspect/lineage.py": "from pipeline import node_ids\nfrom pipeline.local.runner import run\n",
            "pipeline/local/__init__.py": "",
            "pipeline/local/runner.py": "from pipeline.inspect import lineage\nfrom pipeline.kubeflow import task\n",
            "pipeline/kubeflow/__init__.py": "",
            "pipeline/kubeflow/task.py": "from pipeline.cli import main\n",
        },
    )
    assert layer_violations(import_graph(root)) == [
        "components.a imports pipeline.config (components -> pipeline)",
        "components.b imports pipeline (components -> pipeline)",  # the package, then its module
        "components.b imports pipeline.node_ids (components -> pipeline)",
        "pipeline.config imports pipeline.inspect (pipeline -> pipeline.inspect)",
        "pipeline.config imports pipeline.inspect.lineage (pipeline -> pipeline.inspect)",
        "pipeline.inspect.lineage imports pipeline.local.runner (pipeline.inspect -> pipeline.local)",
        "pipeline.kubeflow.task imports pipeline.cli (pipeline.kubeflow -> pipeline.cli)",
        "pipeline.local.runner imports pipeline.kubeflow (pipeline.local -> pipeline.kubeflow)",  # siblings
        "pipeline.local.runner imports pipeline.kubeflow.task (pipeline.local -> pipeline.kubeflow)",
    ]


def test_checker_reports_the_path_of_a_cycle(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/x/__init__.py": "",
            "components/x/a.py": "from . import b\n",
            "components/x/b.py": "from components.x.c import NAME\n",
            "components/x/c.py": "NAME = 1\ndef f():\n    import components.x.a\n",
            "components/d.py": "from .x import a\n",
            "pipeline/__init__.py": "",
        },
    )
    assert import_cycles(import_graph(root)) == [
        ["components.x.a", "components.x.b", "components.x.c", "components.x.a"]
    ]


def test_checker_passes_a_tree_that_imports_downwards(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/a.py": "import os\nfrom components import b\n",
            "components/b.py": "import numpy\n",
            "pipeline/__init__.py": "",
            "pipeline/p.py": "from components.a import b\nfrom . import q\n",
            "pipeline/q.py": "import components.b\n",
        },
    )
    graph = import_graph(root)
    assert graph["pipeline.p"] == {"components.a", "pipeline", "pipeline.q"}  # b is a name in a
    assert layer_of("pipeline.p") == (4, "pipeline") and layer_of("pipeline.local.x") == (2, "pipeline.local")
    assert layer_violations(graph) == [] and import_cycles(graph) == []
    assert external_imports(root, "pipeline.p")["components.b"] == {"numpy"}
