"""The jobs' option tables: the classifier's options (from `spark_zsc.options`) and the jobs'
own, declared the same way; each command's list drives its flags, YAML keys and checks.

`SOURCE_OPTIONS` are what `classify` and `evaluate` share (input, labels, model, strategy,
engine, Spark); `CLASSIFY_OPTIONS` adds the output's. The `stream` and `estimate` commands
take classify's options less those that contradict them (`STREAM_OPTIONS`,
`ESTIMATE_OPTIONS`). Values in `Option.check` come parsed: KEY=VALUE settings as a mapping,
column lists as a list.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..errors import ConfigError
from ..options import BY_KEY, Option
from ..options.distill import DEFER_BELOW, DISTILL_OPTIONS

MODES = ("error", "overwrite", "append")
ESTIMATE_SAMPLE_ROWS = 256  # a bare --estimate: enough rows for steady timings, seconds to classify


def job_option(name: str, kind, default, doc: str, **more) -> Option:
    """An option of the jobs only: no Param, no SQL argument."""
    return Option(None, kind, default, doc, sql=None, job=name, **more)


_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s*(ms|milliseconds?|seconds?|minutes?|hours?|days?)\s*$", re.I)


def check_duration(value: str, name: str) -> str:
    if not _DURATION.match(value):
        raise ConfigError(f'{name} must be a duration such as "5 minutes" or "30 seconds"; got {value!r}')
    return value


def column_names(value: Any, name: str = "") -> list[str]:
    """Column names from a comma-separated string (a flag) or a list (YAML)."""
    if not value:
        return []
    if isinstance(value, str):
        return [c.strip() for c in value.split(",") if c.strip()]
    return [str(c) for c in value]


def settings(flag: str, example: str):
    """The check of a KEY=VALUE option: repeated flags (a list of strings) or YAML (a mapping)
    become a mapping; an item without `=` is refused, naming `flag`."""

    def parsed(value: Any, name: str) -> dict[str, str]:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        pairs = {}
        for item in value:
            key, sep, setting = str(item).partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{flag} {item!r} must be KEY=VALUE, e.g. {example}")
            pairs[key.strip()] = setting.strip()
        return pairs

    return parsed


def _shared(key: str) -> Option:
    return BY_KEY[key]


# classify and evaluate: a student in the place of a model
STUDENT_OPTIONS: tuple[Option, ...] = (
    job_option(
        "student",
        str,
        None,
        "run a student that `spark-zsc distill` wrote (a DistilledClassifierModel's folder) instead of a "
        "model: its labels, template and teacher are its own (evaluate: give its labels as --labels)",
    ),
    dataclasses.replace(
        DEFER_BELOW,
        param=None,  # the student's, which the job loads: no classifier Param
        job="defer_below",
        default=None,
        doc="with --student: rows whose student score is under it are scored by its teacher instead, with the "
        "teacher's own scores (the distill report gives agreement against the share deferred); default: what "
        "the student was saved with",
    ),
)

SOURCE_OPTIONS: tuple[Option, ...] = (
    job_option("input", str, None, "input path (file or folder)"),
    job_option(
        "input_format",
        str,
        "parquet",
        "Spark data source of --input: parquet, csv, json, orc, text, avro, delta, ... (CSV: header, multiLine)",
    ),
    job_option(
        "input_options",
        object,
        None,
        "reader option KEY=VALUE, e.g. sep=; or encoding=iso-8859-1 or mode=DROPMALFORMED (repeatable; YAML: a mapping)",
        repeatable=True,
        flag_name="input-option",
        check=settings("--input-option", "sep=;"),
    ),
    job_option("input_table", str, None, "metastore table to read instead of --input"),
    job_option(
        "csv_columns",
        object,
        None,
        "names for the columns of a CSV without a header row, comma-separated",
        check=column_names,
    ),
    _shared("input_col"),  # --text-col
    job_option("id_col", str, None, "column identifying a row; needed by --skip-existing"),
    _shared("candidate_labels"),  # --labels
    _shared("labels_col"),
    _shared("hypothesis_template"),  # --template
    _shared("label_descriptions"),  # --label NAME=DESCRIPTION, repeated
    *(
        _shared(key)
        for key in (
            "multi_label",
            "long_text",
            "window_overlap",
            "max_windows",
            "model",
            "strategy",
            "embedding_model",
            "temperature",
            "threshold",
            "shortlist",
            "max_length",
            "token_budget",
            "batch_rows",
            "pair_budget",
            "dedupe",
            "threads",
            "device",
            "precision",
            "backend",
            "distribution",
        )
    ),
    job_option(
        "master", str, None, "Spark master for the CLI (default local[*]); spark-submit decides its own"
    ),
    job_option(
        "remote",
        str,
        None,
        "Spark Connect URL (sc://host:15002, or local[N] for a local server) instead of --master",
    ),
    job_option(
        "conf",
        object,
        None,
        "extra Spark setting KEY=VALUE (repeatable; YAML: a mapping)",
        repeatable=True,
        check=settings("--conf", "spark.sql.shuffle.partitions=64"),
    ),
)

CLASSIFY_OPTIONS: tuple[Option, ...] = SOURCE_OPTIONS + (
    job_option("output", str, None, "output path"),
    job_option(
        "output_format",
        str,
        None,
        "Spark data source to write: --output default parquet; a new --output-table default "
        "spark.sql.sources.default; an existing table keeps its own. csv flattens the result",
    ),
    job_option(
        "output_options",
        object,
        None,
        "writer option KEY=VALUE, e.g. compression=zstd (repeatable; YAML: a mapping)",
        repeatable=True,
        flag_name="output-option",
        check=settings("--output-option", "compression=zstd"),
    ),
    job_option("output_table", str, None, "metastore table to write instead of --output"),
    _shared("output_col"),
    _shared("min_score"),
    _shared("other_label"),
    job_option("mode", str, None, "error (default), overwrite or append", choices=MODES),
    job_option("partition_by", object, None, "output partition columns, comma-separated", check=column_names),
    job_option(
        "skip_existing",
        bool,
        False,
        "cheap appends: classify only ids not in the output yet, and append them (an edited text keeps its label)",
    ),
    job_option(
        "incremental",
        bool,
        False,
        "relabel exactly what changed: new ids, edited texts, and every row after a change of model, labels, "
        "template or strategy; the new output replaces the old one whole (needs --id-col)",
    ),
    job_option("drop_missing", bool, False, "with --incremental: drop output rows whose id left the input"),
    job_option("no_lineage", bool, False, "leave out the <output-col>_meta lineage column"),
    job_option(
        "embedding_fallback",
        bool,
        False,
        "if the NLI model cannot be had (no hub, not cached), run strategy embedding with --embedding-model "
        "instead, and say so",
    ),
    job_option(
        "estimate",
        int,
        None,
        f"write nothing: classify a sample of this many rows (bare flag: {ESTIMATE_SAMPLE_ROWS}) and print what "
        "the full run would cost (rows, pairs, tokens, pairs/s, projected wall time); the same as the "
        "estimate command (spark-zsc estimate --sample-rows ROWS)",
        least=1,
        bare_value=ESTIMATE_SAMPLE_ROWS,
    ),
    job_option(
        "no_progress",
        bool,
        False,
        "no progress line while the job runs (by default: every few seconds on a terminal, every minute in a log)",
    ),
    *STUDENT_OPTIONS,
    job_option(
        "stream",
        bool,
        False,
        "read the input as a stream (Structured Streaming): each run classifies what arrived since the last, "
        "tracked by --checkpoint; appends to --output or --output-table; the same as the stream command "
        "(spark-zsc stream)",
    ),
    job_option(
        "checkpoint",
        str,
        None,
        "the stream's checkpoint folder (what was read and written); needed by --stream",
    ),
    job_option(
        "trigger_interval",
        str,
        None,
        'with --stream: keep running, a micro-batch every interval ("5 minutes"); default: take what is there '
        "(availableNow), then stop",
        check=check_duration,
    ),
    job_option(
        "schema",
        str,
        None,
        'with --stream: the input files\' schema as DDL ("id string, text string"); default: taken from the '
        "files already there",
    ),
)


def _without(options: tuple[Option, ...], *names: str) -> tuple[Option, ...]:
    return tuple(option for option in options if option.job_name not in names)


STREAM_ONLY = ("stream", "checkpoint", "trigger_interval", "schema")
STUDENT_ONLY = tuple(option.job_name for option in STUDENT_OPTIONS)  # a stream and an estimate run a model
# what a stream cannot do: it appends what arrived, its checkpoint tracking what was done
NOT_IN_A_STREAM = ("estimate", "incremental", "drop_missing", "skip_existing", "partition_by", *STUDENT_ONLY)
STREAM_OPTIONS = _without(CLASSIFY_OPTIONS, "stream", *NOT_IN_A_STREAM)
ESTIMATE_OPTIONS = _without(CLASSIFY_OPTIONS, "estimate", *STREAM_ONLY, *STUDENT_ONLY) + (
    job_option(
        "sample_rows",
        int,
        ESTIMATE_SAMPLE_ROWS,
        "the rows of the sample classified to measure the run (drawn over the whole input)",
        least=1,
    ),
)
BY_KEY_JOB = {option.job_name: option for option in CLASSIFY_OPTIONS}

# distill: the teacher's options (those classify and evaluate share), where the student goes, and
# the distillation's own (`spark_zsc.options.distill`, DistilledClassifier's Params too)
DISTILL_JOB_OPTIONS: tuple[Option, ...] = (
    SOURCE_OPTIONS
    + (
        job_option(
            "output",
            str,
            None,
            "folder the student is written to (a DistilledClassifierModel, its report in it)",
        ),
        job_option("mode", str, None, "error (default) or overwrite", choices=("error", "overwrite")),
    )
    + DISTILL_OPTIONS
)
