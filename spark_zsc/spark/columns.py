"""Checks of the columns an option names, shared by the Transformer and the jobs."""

from __future__ import annotations

from typing import Optional, Sequence

from pyspark.sql.types import StringType, StructType

from ..errors import ConfigError


def require_column(schema: StructType, column: str, option: str) -> None:
    """`column`, named by `option`, is a column of the input."""
    if column not in schema.names:
        raise ConfigError(
            f"{option} {column!r} is not a column of the input (columns: {', '.join(schema.names)})"
        )


def require_string_column(schema: StructType, column: str, option: str) -> None:
    require_column(schema, column, option)
    if not isinstance(schema[column].dataType, StringType):
        raise ConfigError(
            f"{option} {column!r} must be a string column, but it is {schema[column].dataType.simpleString()}: cast it first"
        )


def clashing_column(spark, existing: Sequence[str], added: Sequence[str]) -> Optional[tuple[str, str]]:
    """(added, existing) for the first added column that an existing one, or an added one before
    it, matches as Spark resolves names in `spark` (ignoring case unless spark.sql.caseSensitive):
    written, it would replace that column. None when every added column is new."""
    sensitive = str(spark.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"
    fold = (lambda name: name) if sensitive else str.lower
    seen = {fold(name): name for name in existing}
    for name in added:
        if fold(name) in seen:
            return name, seen[fold(name)]
        seen[fold(name)] = name
    return None


CASE_RULE = "Spark matches column names ignoring case unless spark.sql.caseSensitive is true"
