"""What the tests share: fake data and artifacts, stores written without pipelines, the real
servers they start (MinIO, Flink, ML Metadata's gRPC service), KFP's launcher port and the CLI
in a process of its own. tests/ is on the test session's path (pyproject's pythonpath).
"""
