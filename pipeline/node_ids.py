"""The ids of the pipeline's nodes: create_pipeline gives them, the tools that read runs find
components by them. No TFX here, so that reading a run does not import it.

On Kubeflow each id is a task name, which KFP's Argo compiler uses verbatim as an Argo DAG task
name (backend/src/v2/compiler/argocompiler/dag.go, `task`), and Argo accepts only
`[a-zA-Z0-9][-a-zA-Z0-9]*` there (argo-workflows workflow/common/util.go, IsValidWorkflowFieldName):
no dots or underscores.
"""

DATA_PROBE = "DataProbe"
INGEST = "IdxExampleGen"
SCHEMA_IMPORTER = "ImportSchemaGen"
STATISTICS = "StatisticsGen"
SCHEMA_VALIDATOR = "ExampleValidator"
SPLIT_VALIDATOR = "SplitValidator"
DATA_GATE = "DataGate"
TRAINER = "Trainer"
SERVING_PROBE = "ServingProbe"
SERVED_MODEL = "ServedModel"
EVALUATOR_PREFIX = "Evaluator-"
BLESSING_EVALUATOR = EVALUATOR_PREFIX + "validation"  # blesses against the model served now
TEST_EVALUATOR = EVALUATOR_PREFIX + "test"  # reports only
PUSHER = "Pusher"
REPORT = "RunReport"  # Kubeflow only: the report page and metrics for the KFP UI (pipeline/kubeflow/run_report.py)
# Look outside the pipeline (components/probe.py): never cached on Kubeflow.
PROBES = (DATA_PROBE, SERVING_PROBE)
