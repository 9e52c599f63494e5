"""Imported by every Beam worker process (`--beam_plugin`, added in pipeline.create_pipeline).

It registers s3:// there, and ends the worker without C++ static destructors, as exit_process
does for the main process (components/workarounds.py): a worker process that used s3:// would
otherwise abort at exit (code 134), which the runner logs as a failed worker.
"""

from __future__ import annotations

from components.object_storage import enable_s3
from components.workarounds import end_beam_workers_without_static_destructors

enable_s3()
end_beam_workers_without_static_destructors()
