"""The ExampleGen driver step of the Kubeflow spec: TFX's driver, with s3:// registered.

KubeflowV2DagRunner gives the ingest task a `lifecycle.preCacheCheck` command, `python -m
tfx.orchestration.kubeflow.v2.file_based_example_gen.driver`, which Vertex AI runs before the
executor: it fingerprints the input files for the cache key. That command cannot open s3://
(tensorflow-io registers it, and TFX does not import it), so the compiled spec names this
module instead (kubeflow_runner.DRIVER_COMMAND), with the same arguments; like the task
command (pipeline/kfp_task.py) it ends the process through exit_process.
"""

from __future__ import annotations

import argparse
import logging
from typing import NoReturn

from absl import app
from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

from components.object_storage import enable_s3, exit_process


def run_driver(args: argparse.Namespace) -> NoReturn:
    """Runs TFX's driver and exits: 0 when it succeeded, 1 when it raised."""
    try:
        driver.main(args)
    except Exception:  # noqa: BLE001 - logged with its traceback; the exit code fails the task
        logging.exception("The driver failed")
        exit_process(1)
    exit_process(0)


if __name__ == "__main__":
    enable_s3()
    app.run(run_driver, flags_parser=driver._parse_flags)  # TFX's own argument parser
