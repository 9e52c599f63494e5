"""The ExampleGen driver step of the Kubeflow spec: TFX's driver, with s3:// registered.

KubeflowV2DagRunner gives the ingest task a `lifecycle.preCacheCheck` command, `python -m
tfx.orchestration.kubeflow.v2.file_based_example_gen.driver`, which Vertex AI runs before the
executor: it fingerprints the input files for the cache key. That command cannot open s3://
(tensorflow-io registers it, and TFX does not import it), so the compiled spec names this
module instead (kubeflow_runner.DRIVER_COMMAND), with the same arguments; like the task
command (pipeline/kfp_task.py) it ends the process through exit_process.
"""

from __future__ import annotations

from absl import app
from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

from components.object_storage import enable_s3
from pipeline.kfp_task import run_then_exit


if __name__ == "__main__":
    enable_s3()
    app.run(lambda args: run_then_exit(driver.main, args, "driver"),
            flags_parser=driver._parse_flags)  # TFX's own argument parser
