"""Preflight for Beam's FlinkRunner (called by preflight.check_beam_args): the Flink cluster and
Beam's Flink job server that the Beam components will need answer before anything runs.
Without these checks a wrong address fails the ingest after the probes ran, with a gRPC or
Java trace, and a missing job server jar makes Beam download it in the middle of the run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pipeline.config import ConfigError

ANSWER_WITHIN_S = 5.0


def check_flink(options) -> None:
    """Raises a ConfigError naming the flag of the first of the Flink master, the job server and
    the external worker pool (if the options name one) that is not there; `options` are Beam's
    PipelineOptions of a FlinkRunner run."""
    from apache_beam.options.pipeline_options import FlinkRunnerOptions, PortableOptions
    from apache_beam.runners.portability.flink_runner import MAGIC_HOST_NAMES

    flink = options.view_as(FlinkRunnerOptions)
    portable = options.view_as(PortableOptions)
    if flink.flink_master not in MAGIC_HOST_NAMES:  # [auto], [local]: Beam starts an in-process Flink
        check_master(flink.flink_master, flink.flink_version)
    if portable.job_endpoint and portable.job_endpoint != "embed":
        check_listening("--job_endpoint", portable.job_endpoint)
    else:
        check_job_server_jar(flink.flink_job_server_jar, flink.flink_version)
    if portable.environment_type == "EXTERNAL" and portable.environment_config:
        check_listening("--environment_config", portable.environment_config)


def check_master(master: str, flink_version: str) -> None:
    """A Flink REST API answers at `master` (what --flink_master names), of the Flink version the
    job server is built for (--flink_version)."""
    base = master if re.match(r"https?://", master) else f"http://{master}"
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/overview", timeout=ANSWER_WITHIN_S) as response:
            overview = json.load(response)
    except urllib.error.HTTPError as error:
        raise ConfigError(f"--flink_master={master} answers HTTP {error.code}, not as Flink's REST API") from None
    except (OSError, ValueError) as error:  # refused, unknown host, timeout; not JSON
        reason = getattr(error, "reason", None) or error
        raise ConfigError(f"--flink_master={master}: no Flink REST API answers there ({reason})") from None
    version = overview.get("flink-version") if isinstance(overview, dict) else None
    if not isinstance(version, str):
        raise ConfigError(f"--flink_master={master} answers, but not as Flink's REST API (no flink-version)")
    if version.split(".")[:2] != flink_version.split("."):
        raise ConfigError(
            f"--flink_master={master} runs Flink {version}, but the job server is for Flink "
            f"{flink_version} (--flink_version)"
        )


def check_job_server_jar(jar: str | None, flink_version: str) -> None:
    """The job server Beam would start is there: the jar --flink_job_server_jar names, or,
    without it, Beam's own download of it already in Beam's jar cache."""
    from apache_beam.utils.subprocess_server import JavaJarServer

    if jar and not urlsplit(jar).scheme:
        if not os.path.isfile(jar):
            raise ConfigError(f"--flink_job_server_jar={jar}: no such file")
        return
    url = jar or JavaJarServer.path_to_beam_jar(f":runners:flink:{flink_version}:job-server:shadowJar")
    if os.path.isfile(url) or os.path.isfile(os.path.join(JavaJarServer.JAR_CACHE, os.path.basename(url))):
        return
    raise ConfigError(
        f"--runner=FlinkRunner needs Beam's Flink job server: Beam would download {url} in the "
        "middle of the run; give --flink_job_server_jar=PATH or --job_endpoint=HOST:PORT of a running one"
    )


def check_listening(flag: str, address: str) -> None:
    """Something accepts connections at HOST:PORT (a gRPC service: the job server, a worker pool)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=ANSWER_WITHIN_S):
            return
    except ValueError:
        raise ConfigError(f"{flag}={address}: not HOST:PORT") from None
    except OSError as error:
        raise ConfigError(f"{flag}={address}: nothing answers there ({error.strerror or error})") from None
