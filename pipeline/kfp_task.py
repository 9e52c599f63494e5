"""The command of every Kubeflow task: TFX's executor runner, with s3:// registered.

KubeflowV2DagRunner's default command is `python -m
tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`; the compiled spec names
this module instead (kubeflow_runner.TASK_COMMAND), with the same arguments. It registers
tensorflow-io's s3:// filesystem first (TFX's standard executors do not import it) and ends
the process through exit_process, which tensorflow-io cannot abort.
"""

from __future__ import annotations

import argparse
import logging
from typing import NoReturn

from absl import app
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from components.object_storage import enable_s3, exit_process


def run_task(parsed_argv: tuple[argparse.Namespace, list[str]]) -> NoReturn:
    """Runs the task's executor and exits: 0 when it succeeded, 1 when it raised."""
    try:
        kubeflow_v2_run_executor.main(parsed_argv)
    except Exception:  # noqa: BLE001 - logged with its traceback; the exit code fails the task
        logging.exception("The task failed")
        exit_process(1)
    exit_process(0)


if __name__ == "__main__":
    enable_s3()
    app.run(run_task, flags_parser=kubeflow_v2_run_executor._parse_flags)  # TFX's own argument parser
