"""The ids of the pipeline's nodes: create_pipeline gives them, the tools that read runs find
components by them. No TFX here, so that reading a run does not import it."""

INGEST = "IdxExampleGen"
SCHEMA_IMPORTER = "ImportSchemaGen"
STATISTICS = "StatisticsGen"
SCHEMA_VALIDATOR = "ExampleValidator"
SPLIT_VALIDATOR = "SplitValidator"
DATA_GATE = "DataGate"
TRAINER = "Trainer"
SERVED_MODEL = "ServedModel"
EVALUATOR_PREFIX = "Evaluator."
BLESSING_EVALUATOR = EVALUATOR_PREFIX + "validation"  # blesses against the model served now
TEST_EVALUATOR = EVALUATOR_PREFIX + "test"  # reports only
PUSHER = "Pusher"
