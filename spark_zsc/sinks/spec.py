"""What a sink reads of the job's options, and nothing more: the job's config has these (a
sink is given it), and a reader of `sinks/` learns the output's options here."""

from __future__ import annotations

from typing import Optional, Protocol


class OutputSpec(Protocol):
    @property
    def output(self) -> Optional[str]:
        """--output: a folder (a path or a Hadoop URI), or None for a table."""

    @property
    def output_path(self) -> str:
        """--output, where no --output-table is given."""

    @property
    def output_table(self) -> Optional[str]: ...

    @property
    def output_format(self) -> Optional[str]:
        """--output-format as given (None: an existing output's own, else the default)."""

    @property
    def file_format(self) -> str:
        """The format of an --output path."""

    @property
    def write_mode(self) -> str:
        """error, overwrite, append or ignore: what a plain write does to an existing output."""

    @property
    def partition_columns(self) -> list[str]: ...

    @property
    def writer_options(self) -> dict[str, str]: ...

    @property
    def output_col(self) -> str: ...

    @property
    def lineage_col(self) -> Optional[str]: ...

    @property
    def id_column(self) -> str:
        """--id-col, which --skip-existing and --incremental compare rows by."""

    @property
    def incremental(self) -> bool: ...

    @property
    def drop_missing(self) -> bool:
        """--incremental: delete the rows whose id left the input."""

    @property
    def checkpoint_folder(self) -> str:
        """--checkpoint: a stream's."""
