"""The HTML page of one run (`mnist-pipeline report`, and the end of every run): what it shows
(data.py, from the run's record), its pictures (plots.py), and the page (page.py, templates/)."""
