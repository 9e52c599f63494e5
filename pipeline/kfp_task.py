"""The command of every Kubeflow task: TFX's executor runner, with s3:// registered.

KubeflowV2DagRunner's default command is `python -m
tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`; the compiled spec names
this module instead (kubeflow_runner.TASK_COMMAND), with the same arguments. It registers
tensorflow-io's s3:// filesystem first (TFX's standard executors do not import it) and ends
the process through exit_process, which tensorflow-io cannot abort.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from absl import app
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from components.object_storage import enable_s3, exit_process


def run_then_exit(main: Callable[[Any], object], parsed_argv: Any, what: str) -> NoReturn:
    """Runs TFX's `main` and ends the process through exit_process: 0 when it succeeded, 1 (its
    traceback logged) when it raised. The driver step (pipeline/kfp_driver.py) ends the same way."""
    try:
        main(parsed_argv)
    except Exception:  # noqa: BLE001 - logged with its traceback; the exit code fails the task
        logging.exception("The %s failed", what)
        exit_process(1)
    exit_process(0)


if __name__ == "__main__":
    enable_s3()
    app.run(lambda parsed_argv: run_then_exit(kubeflow_v2_run_executor.main, parsed_argv, "task"),
            flags_parser=kubeflow_v2_run_executor._parse_flags)  # TFX's own argument parser
