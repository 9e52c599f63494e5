"""The runs the read side is tested on: tests/support/mlmd_builder.py's three runs, written straight into
a real ML Metadata store in TFX's layout and in KFP's, one store per module (no pipeline runs)."""

from __future__ import annotations

import pytest

from support import mlmd_builder


@pytest.fixture(scope="module")
def tfx_written(tmp_path_factory: pytest.TempPathFactory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("tfx"), mlmd_builder.TfxLayout)


@pytest.fixture(scope="module")
def kfp_written(tmp_path_factory: pytest.TempPathFactory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("kfp"), mlmd_builder.KfpLayout)


@pytest.fixture(params=["tfx", "kfp"])
def written(request: pytest.FixtureRequest) -> mlmd_builder.Written:
    """The three runs in TFX's layout and in KFP's."""
    return request.getfixturevalue(f"{request.param}_written")
