"""Each run's record beside its output: the configuration (with `config_sha256`), the engine
that ran, the options and the summary, so that what produced the rows can be read where they live.

- a folder of files: `_spark_zsc_run.json` in it (Spark's readers skip names starting with `_`);
- a table (of files, Delta, Iceberg): table properties `spark_zsc.run.<part>`, one per part.
  Spark redacts a property whose value looks like a secret, and the options' `token_budget`
  does: one property per part keeps it from hiding the rest.
"""

from __future__ import annotations

import json

from ..spark.lineage import sql_literal

RUN_RECORD = "_spark_zsc_run.json"
RUN_PROPERTY = "spark_zsc.run"  # spark_zsc.run.config_sha256, .config, .engine, .options, .summary


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def record_in_properties(spark, table: str, record: dict) -> None:
    pairs = ", ".join(
        f"'{RUN_PROPERTY}.{part}' = {sql_literal(_text(value))}" for part, value in record.items()
    )
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({pairs})")


def record_in_folder(files, folder: str, record: dict) -> None:
    files.write_text(f"{folder.rstrip('/')}/{RUN_RECORD}", json.dumps(record, indent=2, default=str))
