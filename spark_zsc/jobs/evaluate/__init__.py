"""The evaluate job: which label wording and template work best on rows whose class is known.

options.py   its options: the shared input, model and strategy options, several label sets
             and templates, the gold column
job.py       runs each (label set, template) on Spark, reduced to counts on the executors
metrics.py   accuracy, F1, calibration and coverage from those counts, Spark-free
report.py    the report folder: a page, plots and the numbers as JSON
"""
