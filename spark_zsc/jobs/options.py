"""The jobs' options: the classifier's (from the option table) and the jobs' own, declared
here the same way; each job's list drives its flags, YAML keys and checks.

`SOURCE_OPTIONS` are what `classify` and `evaluate` share (input, labels, model, strategy,
engine, Spark); each job adds its own. Flags override the YAML file (`--config`), which
overrides the defaults. Everything that can be checked without Spark is checked here,
before a session starts.
"""

from __future__ import annotations

import argparse
import copy
import re
from typing import Optional
from urllib.parse import urlparse

from ..errors import ConfigError
from ..options import BY_KEY, JOB, Option, StrategyOptions, check_scoring_rules

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


def _shared(key: str) -> Option:
    return BY_KEY[key]


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
    ),
    job_option("input_table", str, None, "metastore table to read instead of --input"),
    job_option(
        "csv_columns", object, None, "names for the columns of a CSV without a header row, comma-separated"
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
        "conf", object, None, "extra Spark setting KEY=VALUE (repeatable; YAML: a mapping)", repeatable=True
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
    ),
    job_option("output_table", str, None, "metastore table to write instead of --output"),
    _shared("output_col"),
    _shared("min_score"),
    _shared("other_label"),
    job_option("mode", str, None, "error (default), overwrite or append", choices=MODES),
    job_option("partition_by", object, None, "output partition columns, comma-separated"),
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

BY_KEY_JOB = {option.name(JOB): option for option in CLASSIFY_OPTIONS}

# Params the job sets itself (labels, template, columns): left out of classifier_params()
_SET_BY_THE_JOB = ("candidateLabels", "labelsCol", "hypothesisTemplate", "outputCol", "inputCol")


_SECRET = re.compile(r"(?i)secret|password|token|access[._-]?key|credential")


def column_names(value) -> list[str]:
    """Column names from a comma-separated string (a flag) or a list (YAML)."""
    if not value:
        return []
    return (
        [c.strip() for c in value.split(",") if c.strip()]
        if isinstance(value, str)
        else [str(c) for c in value]
    )


def key_values(value, option: str, example: str) -> dict:
    """KEY=VALUE settings from repeated flags (a list of strings) or YAML (a mapping)."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = {}
    for item in value:
        key, sep, setting = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r} must be KEY=VALUE, e.g. {example}")
        pairs[key.strip()] = setting.strip()
    return pairs


def local_path(path: str) -> str:
    """A local path or file: URL as a path this process can open."""
    return urlparse(path).path if path.startswith("file:") else path


class SourceOptions:
    """A job's checked options as attributes named by their YAML keys (flags use dashes);
    the class's OPTIONS say which there are."""

    OPTIONS: tuple[Option, ...] = SOURCE_OPTIONS

    # what a command implies for the options it does not take (the stream command: --stream)
    IMPLIED: dict = {}

    def __init__(self, **values):
        for option in self.OPTIONS:
            setattr(self, option.name(JOB), values.get(option.name(JOB), option.default))
        for name, value in self.IMPLIED.items():
            setattr(self, name, value)

    def replace(self, **changes) -> "SourceOptions":
        changed = copy.copy(self)
        for name, value in changes.items():
            setattr(changed, name, value)
        return changed

    def as_dict(self) -> dict:
        """The options as classify names them: a command's implied ones too (stream: true)."""
        return {
            **{option.name(JOB): getattr(self, option.name(JOB)) for option in self.OPTIONS},
            **self.IMPLIED,
        }

    def values_by_key(self) -> dict:
        """The options keyed as the option table keys them (`Option.key`)."""
        return {option.key: getattr(self, option.name(JOB)) for option in self.OPTIONS}

    def as_record(self) -> dict:
        """The options as a run's record keeps them: Spark settings that look like credentials
        (as Spark's own redaction rule sees them) are left out, so no secret lands beside the data."""
        record = self.as_dict()
        record["conf"] = {
            key: "*** (redacted)" if _SECRET.search(key) else value for key, value in self.spark_conf.items()
        }
        return record

    # -- derived, after validation ----------------------------------------------------------

    @property
    def csv_column_names(self) -> list[str]:
        return column_names(self.csv_columns)

    @property
    def spark_conf(self) -> dict:
        return key_values(self.conf, "--conf", "spark.sql.shuffle.partitions=64")

    @property
    def reader_options(self) -> dict:
        return key_values(self.input_options, "--input-option", "sep=;")

    @property
    def text_column(self) -> Optional[str]:
        return self.text_col or ("value" if self.input_format == "text" and self.input else None)

    def strategy_options(self) -> StrategyOptions:
        return StrategyOptions(
            strategy=self.strategy,
            temperature=self.temperature,
            threshold=self.threshold,
            shortlist=self.shortlist,
        )

    def classifier_params(self) -> dict:
        """The ZeroShotClassifier Params these options set (labels, template and columns are the job's)."""
        params = {
            option.param: getattr(self, option.name(JOB))
            for option in self.OPTIONS
            if option.param and option.param not in _SET_BY_THE_JOB
        }
        return {**{k: v for k, v in params.items() if v is not None}, "inputCol": self.text_column}

    @property
    def models_description(self) -> str:
        """The model(s) the strategy runs, for a job's summary: which model answered matters."""
        if self.strategy == "embedding":
            return f"{self.embedding_model} (embedding strategy)"
        if self.shortlist:
            return f"{self.model} (NLI) on a shortlist of {self.shortlist} by {self.embedding_model}"
        return f"{self.model} (NLI)"

    @property
    def model_names(self) -> dict[str, str]:
        """kind ('nli', 'embedding') -> model name, for every model the strategy runs."""
        return self.strategy_options().model_names(self.model, self.embedding_model)

    def validate(self) -> None:
        """The rules that tie options together (each value was checked on its own already)."""
        if self.master and self.remote:
            raise ConfigError("give --master (classic Spark) or --remote (Spark Connect), not both")
        if bool(self.input) == bool(self.input_table):
            raise ConfigError("give exactly one of --input PATH or --input-table NAME")
        if not self.text_column:
            raise ConfigError("--text-col is required: name the column that holds the text")
        names = self.csv_column_names
        if self.csv_columns is not None and (
            self.input_format != "csv" or len(set(names)) != len(names) or not names
        ):
            raise ConfigError(
                "--csv-columns names the columns of a header-less --input-format csv file: "
                "distinct names, comma-separated"
            )
        self.strategy_options()
        self.spark_conf, self.reader_options  # noqa: B018 (parsing them refuses a bad KEY=VALUE now)


class JobOptions(SourceOptions):
    """Every option of `classify`."""

    OPTIONS = CLASSIFY_OPTIONS

    @property
    def partition_columns(self) -> list[str]:
        return column_names(self.partition_by)

    @property
    def writer_options(self) -> dict:
        return key_values(self.output_options, "--output-option", "compression=zstd")

    @property
    def file_format(self) -> str:
        """The format of an --output path."""
        return self.output_format or "parquet"

    @property
    def write_mode(self) -> str:
        if self.incremental:
            return "overwrite"  # a whole new version replaces the old one
        return "append" if self.skip_existing else (self.mode or "error")

    @property
    def lineage_col(self) -> Optional[str]:
        return None if self.no_lineage else f"{self.output_col}_meta"

    def validate(self) -> None:
        super().validate()
        self._validate_stream()
        targets = bool(self.output) + bool(self.output_table)
        if targets > 1 or (
            targets == 0 and not self.estimate
        ):  # an estimate writes nothing: a target is optional
            raise ConfigError("give exactly one of --output PATH or --output-table NAME")
        if self.labels is not None and self.labels_col:
            raise ConfigError("give --labels or --labels-col, not both")
        if self.labels_col is None and not self.labels and self.label_descriptions:
            self.labels = list(self.label_descriptions)  # described labels alone are the label set, in order
        if self.labels_col is None and not self.labels:
            raise ConfigError(
                'no candidate labels: give --labels "a,b,c", --labels-col COLUMN or --label NAME=DESCRIPTION'
            )
        if self.labels_col is None:
            self.strategy_options().check_label_count(self.labels)
        check_scoring_rules(self.values_by_key(), None if self.labels_col else self.labels, JOB)
        if self.skip_existing and not self.id_col:
            raise ConfigError("--skip-existing needs --id-col: the column that tells rows already written")
        if self.skip_existing and self.mode not in (None, "append"):
            raise ConfigError(
                f"--skip-existing appends the missing rows; --mode {self.mode} contradicts it (drop --mode)"
            )
        self._validate_incremental()
        self.writer_options  # noqa: B018 (parsing it refuses a bad KEY=VALUE now)

    def _validate_stream(self) -> None:
        if not self.stream:
            stream_only = [o for o in ("checkpoint", "trigger_interval", "schema") if getattr(self, o)]
            if stream_only:
                raise ConfigError(f"--{stream_only[0].replace('_', '-')} goes with --stream")
            return
        if not self.checkpoint:
            raise ConfigError(
                "--stream needs --checkpoint DIR: the folder where Spark records what the stream read and wrote "
                "(keep it between runs)"
            )
        contradictions = {
            "--incremental": self.incremental,
            "--skip-existing": self.skip_existing,
            "--estimate": self.estimate,
            f"--mode {self.mode}": self.mode not in (None, "append"),
            "--partition-by": bool(self.partition_by),
        }
        wrong = [flag for flag, given in contradictions.items() if given]
        if wrong:
            raise ConfigError(
                f"--stream appends what arrived, its checkpoint tracking what was done: drop {', '.join(wrong)}"
            )
        if self.input_table and self.schema:
            raise ConfigError("--schema is for an --input folder; a table has its own")

    def _validate_incremental(self) -> None:
        if self.drop_missing and not self.incremental:
            raise ConfigError("--drop-missing goes with --incremental")
        if not self.incremental:
            return
        problems = {
            "--id-col COLUMN": not self.id_col,
            "no --skip-existing (choose one of the two)": self.skip_existing,
            "no --mode (it writes a whole new version itself)": self.mode is not None,
            "the lineage column it compares (drop --no-lineage)": self.no_lineage,
            "an output format that holds structs (parquet, orc, json, ...), not csv": self.output_format
            == "csv",
        }
        missing = [need for need, wrong in problems.items() if wrong]
        if missing:
            raise ConfigError(f"--incremental needs {'; '.join(missing)}")


def add_job_arguments(parser: argparse.ArgumentParser, options_class: type = JobOptions) -> None:
    """One flag per option; unset flags stay absent so that YAML values are not overridden."""
    parser.add_argument("--config", help="YAML file with the same options as keys (flags override it)")
    for option in options_class.OPTIONS:
        kwargs = dict(help=option.doc, default=argparse.SUPPRESS, dest=option.name(JOB))
        kind = option.kind if option.kind in (int, float) else str
        if option.kind is bool:
            parser.add_argument(option.flag, action="store_true", **kwargs)
        elif option.repeatable:
            parser.add_argument(
                option.flag, action="append", type=kind, metavar=option.name(JOB).upper(), **kwargs
            )
        else:
            bare = {} if option.bare_value is None else {"nargs": "?", "const": option.bare_value}
            parser.add_argument(option.flag, type=kind, choices=option.choices or None, **bare, **kwargs)


def load_yaml(path: str, options_class: type = JobOptions) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    except OSError as error:
        raise ConfigError(f"--config {path!r} cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config {path!r} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(
            f"--config {path!r} must hold a mapping of option: value, not {type(values).__name__}"
        )
    names = [option.name(JOB) for option in options_class.OPTIONS]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"--config {path!r} has unknown key(s) {', '.join(unknown)}; known keys: {', '.join(names)}"
        )
    return values


def build_job_options(flags: dict, options_class: type = JobOptions):
    """Defaults <- YAML (`config`) <- flags, each value checked by its option, then the rules
    that tie them together; nothing here needs Spark."""
    flags = dict(flags)
    values = load_yaml(flags.pop("config"), options_class) if flags.get("config") else {}
    flags.pop("config", None)
    values.update(flags)
    unknown = sorted(set(values) - {option.name(JOB) for option in options_class.OPTIONS})
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}")
    options = options_class(
        **{
            option.name(JOB): option.validate(values.get(option.name(JOB)), JOB)
            for option in options_class.OPTIONS
        }
    )
    options.validate()
    return options


def _without(options: tuple[Option, ...], *names: str) -> tuple[Option, ...]:
    return tuple(option for option in options if option.name(JOB) not in names)


STREAM_ONLY = ("stream", "checkpoint", "trigger_interval", "schema")
# what a stream cannot do: it appends what arrived, its checkpoint tracking what was done
NOT_IN_A_STREAM = ("estimate", "incremental", "drop_missing", "skip_existing", "partition_by")
STREAM_OPTIONS = _without(CLASSIFY_OPTIONS, "stream", *NOT_IN_A_STREAM)
ESTIMATE_OPTIONS = _without(CLASSIFY_OPTIONS, "estimate", *STREAM_ONLY) + (
    job_option(
        "sample_rows",
        int,
        ESTIMATE_SAMPLE_ROWS,
        "the rows of the sample classified to measure the run (drawn over the whole input)",
        least=1,
    ),
)


class StreamOptions(JobOptions):
    """`stream`: classify's options for a stream (what `classify --stream` takes)."""

    OPTIONS = STREAM_OPTIONS
    IMPLIED = {"stream": True, **{name: BY_KEY_JOB[name].default for name in NOT_IN_A_STREAM}}


class EstimateOptions(JobOptions):
    """`estimate`: classify's options, measured on a sample instead of written (`classify --estimate`)."""

    OPTIONS = ESTIMATE_OPTIONS
    IMPLIED = {name: BY_KEY_JOB[name].default for name in STREAM_ONLY}

    @property
    def estimate(self) -> int:
        return self.sample_rows
