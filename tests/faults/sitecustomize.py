"""Test-only fault injection for tests/e2e/test_faults.py, at exact points and without races.

Python imports `sitecustomize` at start-up from the PYTHONPATH, so a CLI process started with
tests/faults on its PYTHONPATH loads this file. It does nothing unless MNIST_TEST_FAULT names
one of the faults below; then it patches one call, when the module that holds it is imported:

  kill_after_rename  components.files.rename: SIGKILL right after a rename of .staging-<v> to <v>
                     (a complete serving/<v>/ that MLMD never recorded, as after a power cut)
  kill_during_copy   tfx.dsl.io.fileio.copy (TFX's io_utils.copy_dir, the Pusher's copy): SIGKILL
                     right after the first file copied into a .staging-<v>/ folder (a push that died midway)
  kill_during_publish  components.files.copy: SIGKILL right after the first file copied out of a
                     .staging-<v>/ folder (a publish to object storage, a copy there, that died midway)
  swap_after_check   components.idx_example_gen.idx.check_file: once the ingest's check has read
                     the file $MNIST_TEST_SWAP, that file is replaced by $MNIST_TEST_SWAP.new (a rename,
                     as a download or a sync tool does it), before the ingest's shards read it
  hold:<Component>   when the run starts <Component> (the runners' "Component X is running." log
                     line), create the file $MNIST_TEST_RELEASE.held, then wait until the file
                     $MNIST_TEST_RELEASE exists (the run holds its output dir meanwhile)
  hold:training      the same, once the Trainer's executor has read its data (run_fn's "Read %d
                     training examples" line): the Trainer is recorded as running in MLMD, and
                     stays running for as long as the test needs
  hold_executor:<Component>  the same, in the process that runs <Component>'s executor (a worker
                     of the run: pipeline/local/executor_processes.py), before the executor runs
  hold_during_copy   the same, right after the first file the Pusher copied into a .staging-<v>/
                     folder (a push midway through its copy, nothing published yet)
  kill_after_training_on_first_attempt  SIGKILL (as a pod killed for its memory) in the process
                     that runs the Trainer, as run_fn logs "Trained ..." (its TensorBoard logs,
                     checkpoints and fit file written into the ModelRun, the model not exported),
                     in a Kubeflow task's first attempt only: KFP_RETRY_INDEX "0", which KFP's
                     Argo compiler gives a task that may be retried (tests/support/kfp_launcher.py)

Each hold writes the id of the process it holds into $MNIST_TEST_RELEASE.held.

Nothing here is imported by the project; the project never reads MNIST_TEST_FAULT. (The venv
has no sitecustomize of its own; were one added, this file would shadow it in these processes.)
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import signal
import sys
import time

FAULT = os.environ.get("MNIST_TEST_FAULT", "")
STAGING_PREFIX = ".staging-"  # components/serving_dir.py
STARTED = "Component %s is running."  # pipeline/local/run_log.py STARTED
TRAINER_MODULE, DATA_READ = "components.trainer.module", "Read %d training examples in %.2f s"
TRAINED = "Trained %d steps in %.2f s (%.0f examples/s)"  # components/trainer/module.py run_fn


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` once `module_name` has been imported (its code executed)."""

    def __init__(self, module_name, patch):
        self.module_name, self.patch = module_name, patch

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module_name:
            return None
        sys.meta_path.remove(self)  # the real finders find it; this finder only wraps the loader
        spec = importlib.util.find_spec(fullname)
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            self.patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def _after_import(module_name, patch):
    if module_name in sys.modules:
        patch(sys.modules[module_name])
    else:
        sys.meta_path.insert(0, _PatchAfterImport(module_name, patch))


RUN_PID = os.getpid()  # the run's process: its executors run in processes forked from it


def _kill():
    """The whole run dies at once, as in a power cut: the run's process, then this one (an
    executor's process, pipeline/local/executor_processes.py, when that is not the same)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(RUN_PID, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after_rename(files):
    rename = files.rename

    def rename_then_die(src, dst):
        rename(src, dst)
        if os.path.basename(str(src).rstrip("/")).startswith(STAGING_PREFIX):
            _kill()

    files.rename = rename_then_die


def _hold():
    """Says which process is held ($MNIST_TEST_RELEASE.held), then waits for the test's release."""
    release = os.environ["MNIST_TEST_RELEASE"]
    with open(release + ".held.tmp", "w") as held:
        held.write(str(os.getpid()))
    os.rename(release + ".held.tmp", release + ".held")  # whole when it appears
    while not os.path.exists(release):
        time.sleep(0.05)


def _hold_after_staging_copy(fileio):
    copy = fileio.copy

    def copy_then_hold(src, dst, overwrite=False):
        copy(src, dst, overwrite)
        if f"/{STAGING_PREFIX}" in str(dst):
            _hold()

    fileio.copy = copy_then_hold


def _hold_executor(component):
    """Patches the workers' executor dispatch (pipeline/local/executor_processes.py) to hold before `component`'s."""

    def patch(dispatcher):
        run_executor = dispatcher.run_executor

        def hold_then_run(executable_spec, execution_info):
            if execution_info.pipeline_node.node_info.id == component:
                _hold()
            return run_executor(executable_spec, execution_info)

        dispatcher.run_executor = hold_then_run

    return patch


def _kill_when_copying(side):
    """Patches a module's copy (TFX's fileio, or components.files: the same signature) to die after
    the first copy whose `side` ("src" or "dst") is in a staging folder."""

    def patch(module):
        copy = module.copy

        def copy_then_die(src, dst, overwrite=False):
            copy(src, dst, overwrite)
            if f"/{STAGING_PREFIX}" in str({"src": src, "dst": dst}[side]):
                _kill()

        module.copy = copy_then_die

    return patch


def _swap_after_check(idx):
    check_file = idx.check_file
    path = os.environ["MNIST_TEST_SWAP"]

    def check_then_swap(checked, *args, **kwargs):
        result = check_file(checked, *args, **kwargs)
        if checked == path and os.path.exists(path + ".new"):
            os.replace(path + ".new", path)
        return result

    idx.check_file = check_then_swap


class _AtRecord(logging.Handler):
    """Runs `act` (by default: holds until the test releases it) in the thread that logs a
    record `is_the_moment` accepts."""

    def __init__(self, is_the_moment, act=_hold):
        super().__init__(logging.INFO)
        self.is_the_moment, self.act = is_the_moment, act

    def handle(self, record):
        # Not emit(): Handler.handle holds the handler's lock around emit, and logging.shutdown at
        # exit takes every handler's lock, so a held emit would keep an interrupted run from exiting.
        if self.is_the_moment(record):
            self.act()
        return True

    def emit(self, record):
        pass


def _component_starts(component):
    return lambda record: record.msg == STARTED and record.args and record.args[0] == component


if FAULT == "kill_after_rename":
    _after_import("components.files", _kill_after_rename)
elif FAULT == "kill_during_copy":
    _after_import("tfx.dsl.io.fileio", _kill_when_copying("dst"))
elif FAULT == "kill_during_publish":
    _after_import("components.files", _kill_when_copying("src"))
elif FAULT == "swap_after_check":
    _after_import("components.idx_example_gen.idx", _swap_after_check)
elif FAULT == "hold_during_copy":
    _after_import("tfx.dsl.io.fileio", _hold_after_staging_copy)
elif FAULT.startswith("hold_executor:"):
    _after_import(
        "tfx.orchestration.python_execution_binary.python_executor_operator_dispatcher",
        _hold_executor(FAULT[len("hold_executor:") :]),
    )
elif FAULT == "hold:training":
    _after_import(
        TRAINER_MODULE, lambda module: module.log.addHandler(_AtRecord(lambda record: record.msg == DATA_READ))
    )
elif FAULT == "kill_after_training_on_first_attempt":
    if os.environ.get("KFP_RETRY_INDEX") == "0":
        _after_import(
            TRAINER_MODULE, lambda module: module.log.addHandler(_AtRecord(lambda record: record.msg == TRAINED, _kill))
        )
elif FAULT.startswith("hold:"):
    # On absl's logger, once absl.logging created it (creating it here would bypass absl's class).
    component = FAULT[len("hold:") :]
    _after_import(
        "absl.logging", lambda module: logging.getLogger("absl").addHandler(_AtRecord(_component_starts(component)))
    )
elif FAULT:
    raise SystemExit(f"tests/faults/sitecustomize.py: unknown MNIST_TEST_FAULT {FAULT!r}")
