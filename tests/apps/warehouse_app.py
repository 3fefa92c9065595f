"""Metastore tables through the classify job, in one Hive-enabled session (embedded Derby in
the working directory): for ORC, JSON and Parquet, a table is created, appended to with
--skip-existing and rerun with --incremental; its format and ids are reported as JSON.

python warehouse_app.py MODEL REPORT.json
"""

import csv
import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_zsc.jobs.cli import main

model, report_path = sys.argv[1:3]
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "4")
    .enableHiveSupport()
    .getOrCreate()
)
texts = [
    "The central bank cut rates.",
    "Our team won the final!",
    "My invoice is wrong.",
    "The site is down.",
]


def write_input(rows):
    with open("in.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "bucket"])
        writer.writerows((i, text, i % 2) for i, text in rows)


def provider(table):
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    return next(r.data_type for r in rows if r.col_name == "Provider").lower()


def classify_args(table, *extra):
    return [
        "classify",
        "--input",
        "in.csv",
        "--input-format",
        "csv",
        "--text-col",
        "text",
        "--id-col",
        "id",
        "--labels",
        "finance,sports,billing,outage",
        "--model",
        model,
        "--output-table",
        table,
        *extra,
    ]


def classify(table, *extra):
    summary = f"summary-{table}.json"
    args = classify_args(table, *extra)
    assert main([*args, "--summary-json", summary]) == 0, args
    return json.load(open(summary))


report = {}
for file_format in ("orc", "json", "parquet"):
    table = f"{file_format}_table"
    providers = []
    write_input([(i, t) for i, t in enumerate(texts)])
    classify(table, "--output-format", file_format)
    providers.append(provider(table))
    write_input([(i, t) for i, t in enumerate(texts + ["A storm cut the power."])])
    classify(table, "--skip-existing")  # an existing table: appended in its own format
    providers.append(provider(table))
    write_input(
        [
            (i, t)
            for i, t in enumerate(["The central bank raised rates."] + texts[1:] + ["A storm cut the power."])
        ]
    )
    relabelled = classify(table, "--incremental")["rows_written"]
    providers.append(provider(table))
    rows = spark.table(table)
    ids = [r.id for r in rows.select(F.col("id").cast("string").alias("id")).collect()]
    properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
    report[table] = {
        "format": file_format,
        "providers": providers,
        "rows": len(ids),
        "expected_rows": len(texts) + 1,
        "ids_once": len(ids) == len(set(ids)),
        "relabelled": relabelled,
        "expected_relabelled": 1,
        "run_property": json.loads(properties.get("spark_zsc.run.summary", "{}")).get("rows_written") == 1,
    }
# a partitioned table: appends keep its partitioning without --partition-by; --incremental is refused
write_input([(i, t) for i, t in enumerate(texts)])
classify("partitioned_table", "--output-format", "orc", "--partition-by", "bucket")
write_input([(i, t) for i, t in enumerate(texts + ["A storm cut the power."])])
classify("partitioned_table", "--skip-existing")
args = classify_args("partitioned_table", "--incremental")
partition_ids = [r.id for r in spark.table("partitioned_table").collect()]
report["partitioned_table"] = {
    "partitions": [c.name for c in spark.catalog.listColumns("partitioned_table") if c.isPartition],
    "ids_once": sorted(partition_ids) == sorted(set(partition_ids)) and len(partition_ids) == len(texts) + 1,
    "incremental_refused": main(args) == 2,
}
json.dump(report, open(report_path, "w"), indent=2)
spark.stop()
os._exit(0)
