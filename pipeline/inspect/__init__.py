"""Reading what runs left: the ML Metadata store (store.py), one record per run (runs.py) and
its views (run_summary.py, lineage_views.py, the HTML run page in run_page/), artifacts and
traces (artifacts.py), predictions with a served model. Imports the core and components/, never local/ or kubeflow/."""
