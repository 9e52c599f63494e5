"""The curated schema under a path named by its content, for local runs and for the image.

ImportSchemaGen's cache key holds the schema's path, not its content: a new path per content
makes an edited schema re-run validation instead of hitting the cache. Local runs copy it into
<output-dir>/schemas/; `docker build` copies every configs/*.pbtxt into /pipeline/schemas/
(`python -m pipeline.schema_staging`), where the compiled Kubeflow spec names it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePath

from components.errors import PipelineError
from pipeline.fingerprint import PROJECT_ROOT, content_addressed

SCHEMAS_DIR = "schemas"  # under the output dir, and under the project root in the image


def staged_path(schema_path: Path, schemas_dir: PurePath) -> PurePath:
    """Where stage_schema puts `schema_path` under `schemas_dir`."""
    return schemas_dir / content_addressed(schema_path)


def stage_schema(schema_path: Path, schemas_dir: Path) -> Path:
    """Copies the schema to its content-addressed path (once; concurrent callers are safe)."""
    if not schema_path.is_file():
        raise PipelineError(f"{schema_path}: schema file not found")
    staged = Path(staged_path(schema_path, schemas_dir))
    if not staged.exists():
        staged.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=staged.parent, prefix=".", suffix=".tmp")
        os.close(descriptor)
        shutil.copyfile(schema_path, temporary)
        os.replace(temporary, staged)
    return staged


if __name__ == "__main__":  # in `docker build`: stage every schema the image may be asked for
    for schema in sorted((PROJECT_ROOT / "configs").glob("*.pbtxt")):
        print(stage_schema(schema, Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / SCHEMAS_DIR))
