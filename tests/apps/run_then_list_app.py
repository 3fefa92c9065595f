"""A classify run into a metastore table, then the table's ids, in one Hive-enabled session
(embedded Derby in the working directory, the warehouse folder given): a rerun and its read-back
in one process, as a scheduler's next run and a reader after it would see the table.

python run_then_list_app.py WAREHOUSE TABLE IDS.json CLASSIFY_ARGS...
"""

import json
import sys

from pyspark.sql import SparkSession

from spark_zsc.jobs.cli import main

warehouse, table, ids_path, *argv = sys.argv[1:]
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.sql.warehouse.dir", warehouse)
    .enableHiveSupport()
    .getOrCreate()
)
status = main(argv)  # the run uses this session (and leaves it running)
if status == 0:
    with open(ids_path, "w") as handle:
        json.dump(sorted(row.id for row in spark.table(table).collect()), handle)
spark.stop()
sys.exit(status)
