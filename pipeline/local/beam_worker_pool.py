"""A pool of Python Beam workers on this machine for `--environment_type=EXTERNAL` (a Flink or
Spark cluster's workers, Beam's portable runner): `python -m pipeline.local.beam_worker_pool PORT`.

Beam's own pool (apache_beam.runners.worker.worker_pool_main) starts bare SDK harnesses unless
it is given a `--container_executable` that implements the SDK container contract: those get
no pipeline options, so Beam's s3:// file system cannot be made there ("Must provide one of
client or options") and no --beam_plugin is imported. Here the executable is `boot` below, what
Beam's Python container runs (sdks/python/container/boot.go): it asks the runner's provision
service for the job's options and starts sdk_worker_main with them. Unlike the container's boot
it installs no staged package: the workers run this venv, which has the project and TFX.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
from pathlib import Path


def boot(argv: list[str]) -> None:
    """The SDK container contract's entry (the flags worker_pool_main passes): the job's options
    from the provision service, then this venv's sdk_worker_main in this process's place."""
    import grpc
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc, endpoints_pb2
    from google.protobuf import json_format, text_format

    parser = argparse.ArgumentParser(prog="beam_worker_pool boot")
    for flag in ("--id", "--logging_endpoint", "--artifact_endpoint", "--provision_endpoint", "--control_endpoint"):
        parser.add_argument(flag, required=flag in ("--id", "--provision_endpoint", "--control_endpoint"))
    flags = parser.parse_args(argv)
    with grpc.insecure_channel(flags.provision_endpoint) as channel:
        info = (
            beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
            .GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(), metadata=[("worker_id", flags.id)])
            .info
        )

    def descriptor(url: str) -> str:
        return text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url))

    environment = {
        **os.environ,
        "WORKER_ID": flags.id,
        "PIPELINE_OPTIONS": json.dumps(json_format.MessageToDict(info.pipeline_options)),
        "CONTROL_API_SERVICE_DESCRIPTOR": descriptor(info.control_endpoint.url or flags.control_endpoint),
        "RUNNER_CAPABILITIES": " ".join(info.runner_capabilities),
        "SEMI_PERSISTENT_DIRECTORY": tempfile.mkdtemp(prefix="beam-worker-"),
    }
    logging_url = info.logging_endpoint.url or flags.logging_endpoint
    if logging_url:
        environment["LOGGING_API_SERVICE_DESCRIPTOR"] = descriptor(logging_url)
    python = sys.executable
    os.execve(python, [python, "-m", "apache_beam.runners.worker.sdk_worker_main"], environment)


def serve(port: int, directory: Path) -> None:
    """Beam's worker pool on `port`, booting each worker with `boot` through a script in `directory`."""
    from apache_beam.runners.worker import worker_pool_main

    executable = directory / "boot"
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pipeline.local.beam_worker_pool boot "$@"\n')
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    worker_pool_main.main([f"--service_port={port}", f"--container_executable={executable}"])


def main(argv: list[str]) -> None:
    if argv[:1] == ["boot"]:
        boot(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m pipeline.local.beam_worker_pool")
    parser.add_argument("port", type=int, help="the port of --environment_config=127.0.0.1:PORT")
    with tempfile.TemporaryDirectory(prefix="beam-worker-pool-") as directory:
        serve(parser.parse_args(argv).port, Path(directory))


if __name__ == "__main__":
    main(sys.argv[1:])
