"""The parameter that holds the hash of a component's code, so that changed code misses the cache.

TFX's cache key holds a component's parameters and executor class name, not its code. Every
component of ours takes the hash of its executor's module (and of everything that module
imports; the Trainer's also of run_fn's) as the parameter CODE_KEY: a class-based spec adds
PARAMETERS, a function component names its argument so. pipeline.create_pipeline computes the
hashes (pipeline/fingerprint.py); MLMD records with each execution which code ran.
"""

from __future__ import annotations

from tfx.types.component_spec import ExecutionParameter

CODE_KEY = "code_sha256"
PARAMETERS = {CODE_KEY: ExecutionParameter(type=str)}
