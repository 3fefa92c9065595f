"""`--incremental`: relabel exactly what changed, and keep the output equal to a full run on
the current input.

A row of the output is *done* when its id is in the input with the same text (`text_sha256`
of its lineage), the same per-row labels where labels come per row, and the same
`config_sha256` (model, labels, template, strategy, ...). Everything else in the input is
classified. A done row is the current input's row with the result and lineage it was given
(`classified_at` too): a column added to the input, or an edit to any column but the text,
reaches the output without a relabel. Rows whose id left the input stay as they were unless
`--drop-missing`.

How the new version is put in place is the sink's (`spark_zsc.sinks`): files and tables of
files are written whole beside the old version and swapped in; Delta and Iceberg merge only
the rows that changed (`CHANGED` tells the kept rows whose other columns did).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..errors import ConfigError, required
from ..sinks import CHANGED
from .options import ClassifyConfig

_ID, _TEXT_SHA, _LABELS = "__spark_zsc_id", "__spark_zsc_text_sha256", "__spark_zsc_labels"


def _as_input_columns(source: DataFrame, schema) -> list:
    """`source`'s values of the input's columns, as the input types them (null where absent;
    cast only where the type differs: a cast to the same type that allows fewer nulls fails)."""
    have = {f.name: f.dataType.simpleString() for f in source.schema}
    columns = []
    for field in schema:
        if field.name not in have:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        elif have[field.name] != field.dataType.simpleString():
            columns.append(F.col(field.name).cast(field.dataType).alias(field.name))
        else:
            columns.append(F.col(field.name))
    return columns


def _row_digest(source: DataFrame, schema) -> F.Column:
    """One comparable value of a row's input columns."""
    return F.to_json(F.struct(*_as_input_columns(source, schema)))


def split(frame: DataFrame, existing: DataFrame, options: ClassifyConfig, config_sha256: str) -> tuple:
    """(input rows to classify, output rows to keep): the kept rows have the input's columns,
    the result and lineage as written, and CHANGED."""
    meta = required(options.lineage_col, "the lineage column (drop --no-lineage)")
    id_col = options.id_column
    missing = [c for c in (id_col, meta) if c not in existing.columns]
    if missing:
        raise ConfigError(
            f"the existing output has no {' or '.join(map(repr, missing))} column: --incremental compares ids and "
            "lineage written by this job; rewrite it once with --mode overwrite (lineage on), then run incrementally"
        )
    labels = options.labels_col
    wanted = frame.select(
        F.col(id_col).cast("string").alias(_ID),
        F.sha2(F.col(options.text_column), 256).alias(_TEXT_SHA),
        *([F.col(labels).alias(_LABELS)] if labels else []),
    )
    written = existing.where(F.col(f"{meta}.config_sha256") == F.lit(config_sha256)).select(
        F.col(id_col).cast("string").alias(_ID),
        F.col(f"{meta}.text_sha256").alias(_TEXT_SHA),
        *([F.col(labels).alias(_LABELS)] if labels else []),
    )
    same = [written[_ID] == wanted[_ID], written[_TEXT_SHA].eqNullSafe(wanted[_TEXT_SHA])]
    if labels:
        same.append(written[_LABELS].eqNullSafe(wanted[_LABELS]))
    done = written.join(wanted, same, "inner").select(written[_ID]).distinct()
    todo = frame.join(done, frame[id_col].cast("string") == done[_ID], "left_anti")

    results = existing.select(
        F.col(id_col).cast("string").alias(_ID),
        options.output_col,
        meta,
        _row_digest(existing, frame.schema).alias("__spark_zsc_written"),
    ).dropDuplicates([_ID])
    current = frame.withColumn(_ID, F.col(id_col).cast("string")).join(done, _ID, "left_semi")
    kept = current.join(results, _ID, "inner").withColumn(
        CHANGED, ~_row_digest(current, frame.schema).eqNullSafe(F.col("__spark_zsc_written"))
    )
    kept = kept.drop("__spark_zsc_written")
    if not options.drop_missing:  # rows whose id left the input stay, as they were
        gone = existing.withColumn(_ID, F.col(id_col).cast("string")).join(
            wanted.select(_ID), _ID, "left_anti"
        )
        kept = kept.unionByName(
            gone.select(
                _ID,
                *_as_input_columns(existing, frame.schema),
                options.output_col,
                meta,
                F.lit(False).alias(CHANGED),
            )
        )
    return todo, kept.drop(_ID)
