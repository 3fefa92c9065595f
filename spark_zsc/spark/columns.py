"""Checks of the columns an option names, shared by the Transformer and the jobs."""

from __future__ import annotations

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
