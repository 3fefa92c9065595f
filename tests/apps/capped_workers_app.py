"""Spark on a local master whose Python workers run inside a memory cgroup: Spark starts its
Python daemon (which forks every worker) through $PYTHON_IN_CGROUP, a script that moves itself
into the cgroup and then runs Python; the driver and the JVM stay outside it. One task slot:
the cgroup's limit is one Python worker's.

python capped_workers_app.py transform MODEL ROWS RESULT.json [PARAM=VALUE ...]
    ZeroShotClassifier over ROWS rows of $TEXTS (one text a line) with the Params given;
    writes the row count, the classified rows and the distinct ids to RESULT.json
python capped_workers_app.py job CLASSIFY_ARGS...
    the classify job, in a session made here; exits with the job's status
"""

import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

os.environ["PYSPARK_PYTHON"] = os.environ["PYTHON_IN_CGROUP"]  # read when the SparkContext starts
spark = SparkSession.builder.master("local[1]").config("spark.task.maxFailures", "1").getOrCreate()


def transform(model: str, rows: str, result_path: str, *params: str) -> int:
    from spark_zsc import ZeroShotClassifier

    texts = [line for line in open(os.environ["TEXTS"], encoding="utf-8").read().splitlines() if line]
    frame = spark.createDataFrame(
        [(i, texts[i % len(texts)]) for i in range(int(rows))], "id long, text string"
    ).repartition(2)
    classifier = ZeroShotClassifier(
        model=model,
        inputCol="text",
        candidateLabels=["World", "Sports", "Business", "Sci/Tech"],
        distribution="broadcast",  # each worker receives the weights, as on a cluster
        **dict(param.split("=", 1) for param in params),
    )
    summary = (
        classifier.transform(frame)
        .agg(
            F.count("*").alias("rows"),
            F.count("zsc.label").alias("classified"),
            F.countDistinct("id").alias("ids"),
        )
        .first()
    )
    with open(result_path, "w") as handle:
        json.dump(summary.asDict(), handle)
    return 0


def job(*argv: str) -> int:
    from spark_zsc.jobs.cli import main

    return main(list(argv))  # the job runs in this session


try:
    status = {"transform": transform, "job": job}[sys.argv[1]](*sys.argv[2:])
finally:
    spark.stop()
sys.exit(status)
