"""What the Spark session is and offers: classic Spark or Spark Connect, its line, and the
JVM that classic Spark's driver holds.

Spark Connect sessions have no SparkContext, no JVM and no accumulators, so every feature
that needs those asks `is_connect` first. The JVM handles (`_jvm`, `_jsc`,
`_jsparkSession`) are private to pyspark: they are used here only, so that a pyspark that
moves them breaks one module.
"""

from __future__ import annotations


def is_connect(spark) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def spark_major(spark) -> int:
    """The session's Spark major version (3 or 4): what some features need is the line."""
    return int(spark.version.split(".")[0])


def jvm(spark):
    """The driver's JVM through py4j (classic Spark only): Java classes by their names."""
    return spark._jvm


def hadoop_configuration(spark):
    """The session's Hadoop configuration, as its readers and writers see it (classic Spark only)."""
    return spark._jsc.hadoopConfiguration()


def lookup_data_source(spark, name: str) -> None:
    """Raise Spark's own error where `name` is no data source this session has (classic Spark only)."""
    data_sources = jvm(spark).org.apache.spark.sql.execution.datasources.DataSource
    data_sources.lookupDataSource(name, spark._jsparkSession.sessionState().conf())
