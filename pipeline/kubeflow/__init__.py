"""The pipeline on Kubeflow: compiling the spec, submitting it through the KFP API, and the
command every compiled task runs. Imports the core and inspect/, never local/
(tests/support/import_graph.py LAYERS)."""
