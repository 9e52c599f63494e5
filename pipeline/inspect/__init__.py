"""Reading what runs left: ML Metadata queries and lineage, run summaries, the HTML report,
predictions with a served model. Imports the core and components/, never local/ or kubeflow/."""
