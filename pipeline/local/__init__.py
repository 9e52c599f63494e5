"""Running the pipeline on this machine: the runner, its checks before a run, its log, and
what it puts right after runs that did not finish. Imports inspect/ and the core, never kubeflow/."""
