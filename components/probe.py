"""Probes: components that look at something outside the pipeline and hand what they saw on.

Caching must follow the world, not only the pipeline's own artifacts: new IDX files under the
same data dir must re-run the ingest, and a new model in the serving dir must re-run the
comparison with it. A probe looks (the files' content hashes, the version served now) and
outputs what it saw as a String value artifact; the component after it takes that value as a
parameter (`probe.outputs[VALUE_KEY].future()[0].value`), so the value is in that component's
cache key on every orchestrator:

* locally, the probe's driver puts what it sees into the probe's own execution properties
  before TFX's cache lookup: the probe is cached exactly when nothing changed, and then so is
  the component after it;
* on Kubeflow no custom driver runs: the probe's task is never cached (its cachingOptions are
  dropped at compile, pipeline/kubeflow/compiler.py) and the value reaches the next task as an
  input parameter, which KFP's cache key holds by value (kubeflow/pipelines
  backend/src/v2/cacheutils/cache.go, GenerateCacheKey), where it holds artifacts by id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_driver, base_executor
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_hash

VALUE_KEY = "value"  # the output: what the probe saw (a String)
SEEN_KEY = "seen"  # the execution property the local driver sets to the same value

# What every probe's spec has besides its own parameters.
OUTPUTS = {VALUE_KEY: ChannelParameter(type=standard_artifacts.String)}
PARAMETERS = {**code_hash.PARAMETERS, SEEN_KEY: ExecutionParameter(type=str, optional=True)}

Look = Callable[[dict[str, Any]], str]  # what a probe does: its execution properties -> what it saw

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    """Outputs what `look` sees; a subclass sets `look = staticmethod(function)`."""

    look: Look

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        # The driver's answer when it ran (locally): what the cache key holds is what is output.
        seen = exec_properties.get(SEEN_KEY) or self.look(exec_properties)
        artifact_utils.get_single_instance(output_dict[VALUE_KEY]).value = seen
        # Named: components run at once, so the line may come after another component's lines.
        node = self._context.pipeline_node if self._context else None
        log.info("%s saw: %s", node.node_info.id if node else type(self).__module__, self.describe(seen))

    @staticmethod
    def describe(seen: str) -> str:
        """What the probe saw, in words for the console; a subclass says what its value is."""
        return seen


class Driver(base_driver.BaseDriver):
    """Puts what `look` sees into the execution's properties, before TFX's cache lookup; a
    subclass sets `look`."""

    look: Look

    def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
        output = driver_output_pb2.DriverOutput()
        output.exec_properties[SEEN_KEY].string_value = self.look(execution_info.exec_properties)
        return output
