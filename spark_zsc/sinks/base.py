"""What every sink does the same way; each kind of output overrides what differs.

A sink is one output of the classify job. The job asks it, in this order:
`check` (before any work: refuse what it cannot write safely), `writer_lock` (held from before
the output is read until the write is in place), `repair` (leftovers of killed runs), `read`
(the rows already written), then one of `write` (a plain write or append), `append_missing`
(`--skip-existing`) or `replace` (`--incremental`), inside `committing`, and last `record_run`.
"""

from __future__ import annotations

import contextlib

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..errors import ConfigError
from .spec import OutputSpec

# on the rows an --incremental run keeps: does the input row differ from the one written?
CHANGED = "__spark_zsc_changed"


class Sink:
    format: str  # the data source it writes

    def hides_observations(self, merges: bool) -> bool:
        """Whether an Observation on the rows this run writes (merged into the output where
        `merges`) may miss them (see DeltaSink)."""
        return False

    def __init__(self, spark: SparkSession, options: OutputSpec):
        self.spark, self.options = spark, options

    # -- what the output is -------------------------------------------------------------------

    def describe(self, how: str = "") -> str:
        """Where the output went, for the summary; `how` says how it was written (merged, replaced)."""
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def read(self) -> DataFrame:
        raise NotImplementedError

    def partition_columns(self) -> list[str]:
        return self.options.partition_columns

    def keep_partitioning(self, existing: list[str], where: str) -> list[str]:
        """An existing output's partition columns, which a different --partition-by contradicts."""
        wanted = self.options.partition_columns
        if wanted and wanted != existing:
            raise ConfigError(
                f"--partition-by {','.join(wanted)} contradicts {where}, partitioned by "
                f"{','.join(existing) or 'nothing'}: drop --partition-by (an existing output keeps its own)"
            )
        return existing

    def check(self) -> None:
        """Refuse, before any work, what this output cannot take (runs before `read`)."""
        self.partition_columns()  # a --partition-by that contradicts the output fails now

    def check_incremental(self) -> None:
        """Refuse, before any work, an --incremental run this output cannot take safely."""

    # -- writing ------------------------------------------------------------------------------

    def writer_lock(self):
        """Held while the run reads, cleans up and writes the output (one writer at a time)."""
        return contextlib.nullcontext()

    def repair(self) -> None:
        """Before reading: finish or remove what a killed run left."""

    def write(self, frame: DataFrame) -> str:
        raise NotImplementedError

    def append_missing(self, frame: DataFrame) -> str:
        """`--skip-existing`: add rows whose ids the output does not hold (they were filtered)."""
        return self.write(frame)

    def replace(self, classified: DataFrame, kept, frame: DataFrame) -> str:
        """`--incremental`: the output becomes `kept` (None on a first run) plus `classified`."""
        raise NotImplementedError

    def committing(self, record: dict):
        """Held around the write: where the format records a commit's metadata, its commits
        carry `record` (what produced the rows, known before the write)."""
        return contextlib.nullcontext()

    def record_run(self, record: dict) -> None:
        raise NotImplementedError

    # -- streams (`--stream`) -------------------------------------------------------------------

    def stream_writer(self, result: DataFrame):
        """The `DataStreamWriter` that writes `result`'s micro-batches here exactly once."""
        raise ConfigError(f"{self.describe()}: a stream cannot write here exactly once")

    def start_stream(self, writer):
        return writer.start()


def whole_version(classified: DataFrame, kept) -> DataFrame:
    """The output an --incremental run writes whole: the kept rows (None on a first run) and
    the rows classified now."""
    return (
        classified if kept is None else kept.drop(CHANGED).unionByName(classified, allowMissingColumns=True)
    )


def missing_ids(frame: DataFrame, written, id_col: str) -> DataFrame:
    """For --skip-existing: the input rows whose id is not in the output (`written`, None when
    there is none) yet. The output's ids are read back as the input's id type, so a CSV
    output (all strings, timestamps as ISO text) still matches the input's ids."""
    if written is None:
        return frame
    if id_col not in written.columns:
        raise ConfigError(
            f"the existing output has no {id_col!r} column to compare ids with; was it written by this job?"
        )
    key = "__spark_zsc_written_id"
    id_type = frame.schema[id_col].dataType
    done = written.select(F.col(id_col).cast(id_type).alias(key)).distinct()
    return frame.join(done, frame[id_col] == done[key], "left_anti")
