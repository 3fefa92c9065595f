"""Spark's data sources, as what is read and what is written both meet them: whether this Spark
has one, and files read through one with the jobs' CSV defaults."""

from __future__ import annotations

from typing import Optional

from pyspark.sql import DataFrame, SparkSession

from .errors import ConfigError
from .runtime.session import is_connect, lookup_data_source, spark_major

# Sources built into Spark 4 that Spark 3.5 has only as a package: what to add there
BUILT_IN_FROM_SPARK_4 = {"xml": "--packages com.databricks:spark-xml_2.12:0.18.0"}


def check_data_source(spark: SparkSession, name: str, option: str) -> None:
    """Refuse a data source this Spark does not have, with Spark's own message, before any work.
    (On Spark Connect the server resolves sources: an unknown one fails at the read or write.)"""
    if is_connect(spark):
        return
    try:
        lookup_data_source(spark, name)
    except Exception as error:
        message = error.java_exception.getMessage() if hasattr(error, "java_exception") else str(error)
        package = BUILT_IN_FROM_SPARK_4.get(name.lower())
        if package and spark_major(spark) < 4:
            message += f" ({name} is built into Spark 4; on Spark {spark.version} add its package: {package})"
        raise ConfigError(f"{option} {name!r}: {message}") from None


def read_files(
    reader, path: str, file_format: str, csv_columns=(), options: Optional[dict] = None
) -> DataFrame:
    """Files through `reader` (`spark.read`, or `spark.readStream` with a schema), with the
    jobs' defaults for CSV; the user's options override them."""
    reader = reader.format(file_format)
    if file_format == "csv":
        # every column as a string: no inference pass over the data, no surprise types
        reader = reader.option("header", not csv_columns).option("multiLine", True).option("escape", '"')
        if csv_columns:
            reader = reader.schema(", ".join(f"`{c}` string" for c in csv_columns))
    return reader.options(**(options or {})).load(path)  # the user's options override the defaults above
