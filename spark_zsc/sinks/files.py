"""`--output PATH`: a folder of files in any Spark file format (parquet, orc, json, csv, ...),
on the local disk or any Hadoop file system.

Guarantees:
- crash: a plain write or append killed mid-way leaves uncommitted task files under
  `<output>/_temporary` only; the next run removes them before it writes. An `--incremental`
  run writes a whole new version beside the output (`.<name>.spark_zsc-<id>`) and swaps it
  in: on a local disk one `renameat2(RENAME_EXCHANGE)` (readers see the old version or the
  new one); on HDFS two atomic renames, and a run killed between them is repaired by the next
  run before it reads (the path is briefly absent, never half-written). On an object store a
  folder rename copies object by object, so a swap could leave a half-moved output as the
  only copy: `--incremental` into files there is refused before any work (a metastore table,
  whose location is switched in one step, or Delta and Iceberg, which commit, do it safely).
- retried run: `--skip-existing` appends only ids not written yet; `--incremental` rewrites
  the version whole; the run record is rewritten.
- concurrent writer: refused. Every write takes the output's lock (`.<name>.spark_zsc_lock`
  beside it) before it reads or cleans anything, so clean-up never touches a live run's files.
- partitioning: an existing partitioned folder keeps its partition columns (read from its
  `name=value` folders); a contradicting `--partition-by` is refused. Partition values are
  read back as written (`shop=007` stays "007"), never re-typed by inference.
"""

from __future__ import annotations

import ctypes
import uuid
from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from ..errors import ConfigError
from ..formats import read_files
from ..log import log
from ..paths import LocalFiles, base_name, files_for, local_path, parent, sibling
from .base import Sink, whole_version
from .locks import WriterLock
from .run_records import record_in_folder

VERSION_MARK = ".spark_zsc-"  # hidden sibling versions: .<name>.spark_zsc-<id>
CSV_KEEPS_SPACES = {"ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false"}


def csv_columns(column: str, lineage_col, selected: bool) -> list[str]:
    """The flat columns a CSV output holds instead of the result struct (and its lineage)."""
    names = [f"{column}_label", f"{column}_score", f"{column}_scores"]
    return names + ([f"{column}_selected"] if selected else []) + ([lineage_col] if lineage_col else [])


def flatten_for_csv(frame: DataFrame, column: str, lineage_col: Optional[str] = None) -> DataFrame:
    """CSV has no structs: <col>_label, <col>_score and <col>_scores as JSON {label: score}
    (and <col>_selected as a JSON array, where there is one); the lineage struct as one JSON object."""
    result = F.col(column)
    flat = {
        f"{column}_label": result["label"],
        f"{column}_score": result["score"],
        f"{column}_scores": F.to_json(F.map_from_arrays(result["labels"], result["scores"])),
    }
    result_type = frame.schema[column].dataType
    if (
        isinstance(result_type, StructType) and "selected" in result_type.fieldNames()
    ):  # multi-label with --min-score
        flat[f"{column}_selected"] = F.to_json(result["selected"])
    if lineage_col:  # last, after the result's columns
        frame = frame.withColumnRenamed(lineage_col, "__spark_zsc_meta")
        flat[lineage_col] = F.to_json(F.col("__spark_zsc_meta"))
    return frame.withColumns(flat).drop(column, "__spark_zsc_meta")


def exchange(a: str, b: str) -> bool:
    """Swap two local paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_exchange) == 0


def folder_partitions(files, path: str) -> list[str]:
    """The partition columns of a folder Spark wrote partitioned: the `name=value` folders,
    followed down from the first one at each level."""
    columns: list[str] = []
    folder = path
    while True:
        partition = next((n for n in files.list_names(folder) if "=" in n and not n.startswith(".")), None)
        if partition is None:
            return columns
        columns.append(partition.split("=", 1)[0])
        folder = f"{folder.rstrip('/')}/{partition}"


class FileSink(Sink):
    def __init__(self, spark, options, file_format: str):
        super().__init__(spark, options)
        self.format, self.path = file_format, options.output.rstrip("/")
        self.files = files_for(spark, self.path)
        self.next_version = sibling(
            self.path, f".{base_name(self.path)}{VERSION_MARK}{uuid.uuid4().hex[:12]}"
        )

    def describe(self, how: str = "") -> str:
        return f"{self.format} {self.options.output}" + (f" ({how})" if how else "")

    def exists(self) -> bool:
        if self.files is not None:
            return self.files.exists(self.path)
        try:  # Spark Connect, a path off this machine: ask the server to list it
            self.spark.read.format("binaryFile").load(self.path).schema  # noqa: B018
            return True
        except Exception as error:
            if "PATH_NOT_FOUND" in str(error) or "does not exist" in str(error):
                return False
            raise

    def check_incremental(self) -> None:
        if self.files is None:
            raise ConfigError(
                f"--incremental into --output {self.options.output!r} needs classic Spark (it swaps folders "
                "through the driver's Hadoop file system): on Spark Connect write a Delta or Iceberg table"
            )
        if self.files.is_object_store:
            raise ConfigError(
                f"--incremental into --output {self.options.output!r}: {self.files.scheme} renames a folder "
                "object by object, so swapping in the new version is not one step and a crash could leave "
                "half an output. Write a Delta path (--output-format delta) or table, an Iceberg table, or "
                "--output-table NAME (a table of files whose location is switched in one step)"
            )

    def partition_columns(self) -> list[str]:
        """--partition-by; where the run keeps what the folder holds (append, --skip-existing,
        --incremental), the folder's own partitioning, which a different --partition-by contradicts."""
        wanted = self.options.partition_columns
        keeps_rows = self.options.write_mode == "append" or self.options.incremental
        if not (keeps_rows and self.exists()) or self.files is None:
            return wanted
        return self.keep_partitioning(
            folder_partitions(self.files, self.path), f"--output {self.options.output!r}"
        )

    def read(self) -> DataFrame:
        """The output as written: partition values as the text of their folder names (no type
        inference, which would turn "007" into 7); an incremental run casts them to the input's types."""
        conf = "spark.sql.sources.partitionColumnTypeInference.enabled"
        before = str(self.spark.conf.get(conf, "true"))
        self.spark.conf.set(conf, "false")
        try:
            frame = read_files(
                self.spark.read, self.path, self.format
            )  # written by this job: CSV with a header
            frame.schema  # noqa: B018 (partitions are discovered now, while inference is off)
        finally:
            self.spark.conf.set(conf, before)
        return frame

    def writer_lock(self):
        if self.files is None:
            log.warning(
                "Spark Connect: cannot lock %s from here; one writer at a time is up to you", self.path
            )
            return super().writer_lock()
        return WriterLock(self.files, self.path, f"--output {self.options.output!r}")

    def repair(self) -> None:
        """An output missing while an old version waits beside it (killed between two renames)
        is put back; hidden versions and uncommitted task files of killed runs are removed.
        Only under the lock: no live run owns them."""
        if self.files is None:
            log.warning("Spark Connect: cannot check %s for leftovers of a killed run from here", self.path)
            return
        prefix = f".{base_name(self.path)}{VERSION_MARK}"
        leftovers = self.files.matching(parent(self.path), prefix + "*")
        old = [p for p in leftovers if p.endswith("-old")]
        if not self.exists() and old:
            log.warning("restoring %s from %s, left by a run killed while swapping", self.path, old[0])
            self.files.rename(old[0], self.path)
        for path in self.files.matching(parent(self.path), prefix + "*"):
            log.warning("removing %s, left by an earlier run that did not finish", path)
            self.files.delete(path)
        temporary = f"{self.path}/_temporary"
        if self.files.exists(temporary):
            log.warning("removing %s left by an earlier run that did not finish", temporary)
            self.files.delete(temporary)

    def _writer(self, frame: DataFrame, partitions: list[str]):
        if self.format == "csv":
            frame = flatten_for_csv(frame, self.options.output_col, self.options.lineage_col)
        writer = frame.write.format(self.format)
        if partitions:
            writer = writer.partitionBy(*partitions)
        if self.format == "csv":
            writer = writer.option("header", True).option("escape", '"').options(**CSV_KEEPS_SPACES)
        return writer.options(**self.options.writer_options)  # the user's options override the defaults

    def write(self, frame: DataFrame) -> str:
        self._writer(frame, self.partition_columns()).mode(self.options.write_mode).save(self.path)
        return self.describe()

    def replace(self, classified: DataFrame, kept, frame: DataFrame) -> str:
        whole = whole_version(classified, kept)
        self._writer(whole, self.partition_columns()).save(self.next_version)
        self._swap_in()
        return self.describe("replaced")

    def _swap_in(self) -> None:
        """Put the written next version in place of the output, then drop the old one."""
        if not self.exists():
            self.files.rename(self.next_version, self.path)
            return
        local = isinstance(self.files, LocalFiles)
        if local and exchange(local_path(self.next_version), local_path(self.path)):
            self.files.delete(self.next_version)  # now the old version
            return
        old = self.next_version + "-old"
        for source, target in ((self.path, old), (self.next_version, self.path)):
            if not self.files.rename(source, target):
                raise OSError(f"could not rename {source} to {target}")
        self.files.delete(old)

    def stream_writer(self, result: DataFrame):
        """Spark's file sink: its `_spark_metadata` log holds the committed batches, and Spark's
        readers of the folder read only those."""
        if self.format == "csv":
            result = flatten_for_csv(result, self.options.output_col, self.options.lineage_col)
        writer = result.writeStream.format(self.format).option("path", self.path)
        if self.format == "csv":
            writer = writer.option("header", True).option("escape", '"').options(**CSV_KEEPS_SPACES)
        return writer.options(**self.options.writer_options)

    def record_run(self, record: dict) -> None:
        """The run's configuration and summary as JSON in the output folder."""
        if self.files is None:
            log.warning(
                "Spark Connect: cannot write %s's run record from here; it is in the summary", self.path
            )
            return
        record_in_folder(self.files, self.path, record)
