"""The classify CLI on a local Spark Connect server, run again as a scheduler's next run would be
if the first succeeded, both in one process (one server): the exit statuses, as JSON, last.

python connect_cli_app.py CLASSIFY_ARGS...   (they name --remote local[2])
"""

import json
import sys

from pyspark.sql import SparkSession

from spark_zsc.jobs.cli import main

spark = SparkSession.builder.remote("local[2]").getOrCreate()  # the runs use it, and leave it running
statuses = [main(sys.argv[1:])]
if statuses[0] == 0:
    statuses.append(main(sys.argv[1:]))
spark.stop()
print(json.dumps(statuses))
