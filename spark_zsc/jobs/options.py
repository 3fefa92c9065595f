"""The jobs' options: one table of them per job drives the flags, the YAML keys and the checks.

`SourceOptions` are what `classify` and `evaluate` share (input, labels, model, strategy,
engine, Spark); each job's class adds its own. Flags override the YAML file (`--config`),
which overrides the defaults. Everything that can be checked without Spark is checked
here, before a session starts.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from typing import Any, Optional
from urllib.parse import urlparse

from ..options import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    DEFAULT_TEMPERATURE,
    DEFAULT_TEMPLATE,
    DEFAULT_THRESHOLD,
    STRATEGIES,
    ConfigError,
    EngineOptions,
    ScoringOptions,
    StrategyOptions,
    parse_candidate_labels,
)

INPUT_FORMATS = ("parquet", "csv", "json", "orc", "text")
OUTPUT_FORMATS = ("parquet", "csv", "json", "orc")
MODES = ("error", "overwrite", "append")


def _names(value) -> list[str]:
    """Column names from a comma-separated string (a flag) or a list (YAML)."""
    if not value:
        return []
    return [c.strip() for c in value.split(",") if c.strip()] if isinstance(value, str) else [str(c) for c in value]


@dataclass
class SourceOptions:
    """The options every job has; the field names are the YAML keys (flags use dashes)."""

    input: Optional[str] = field(default=None, metadata={"help": "input path (file or folder)"})
    input_format: str = field(default="parquet", metadata={"help": "format of --input", "choices": INPUT_FORMATS})
    input_table: Optional[str] = field(default=None, metadata={"help": "metastore table to read instead of --input"})
    csv_columns: Any = field(default=None, metadata={"help": "names for the columns of a CSV without a header row, comma-separated"})
    text_col: Optional[str] = field(default=None, metadata={"help": "column holding the text (text format: value)"})
    id_col: Optional[str] = field(default=None, metadata={"help": "column identifying a row; needed by --skip-existing"})
    labels: Any = field(default=None, metadata={"help": 'candidate labels for every row: "a,b,c" (YAML: a list)'})
    labels_col: Optional[str] = field(default=None, metadata={"help": "column of labels per row: array<string>, or a comma-separated string"})
    template: Any = field(default=DEFAULT_TEMPLATE, metadata={"help": "hypothesis template with one {}"})
    multi_label: bool = field(default=False, metadata={"help": "score each label independently"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "hub id or local folder of an NLI model"})
    strategy: str = field(default="nli", metadata={"help": "nli, or embedding (cosine of sentence embeddings: cheaper, less accurate)", "choices": STRATEGIES})
    embedding_model: str = field(default=DEFAULT_EMBEDDING_MODEL, metadata={"help": "hub id or folder of a mean-pooling sentence encoder (strategy embedding, --shortlist)"})
    temperature: float = field(default=DEFAULT_TEMPERATURE, metadata={"help": "embedding strategy: cosine / temperature before softmax or sigmoid"})
    threshold: float = field(default=DEFAULT_THRESHOLD, metadata={"help": "embedding strategy, multi-label: the cosine that scores 0.5"})
    shortlist: Optional[int] = field(default=None, metadata={"help": "NLI only on each row's K labels most similar by embedding (scores of the others: 0)"})
    max_length: int = field(default=0, metadata={"help": "most tokens per pair; 0 = the tokenizer's limit"})
    token_budget: int = field(default=0, metadata={"help": "most tokens per forward batch; 0 = 4096 on CPU, 16384 on a GPU"})
    batch_rows: int = field(default=0, metadata={"help": "most rows scored at once; 0 = the whole Arrow batch"})
    threads: int = field(default=0, metadata={"help": "torch threads per task; 0 = spark.task.cpus"})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})
    precision: str = field(default="auto", metadata={"help": "auto, fp32, fp16, bf16 (GPU) or int8 (CPU)"})
    distribution: str = field(default="auto", metadata={"help": "auto, broadcast, artifacts (Spark Connect) or path"})
    master: Optional[str] = field(default=None, metadata={"help": "Spark master for the CLI (default local[*]); spark-submit decides its own"})
    remote: Optional[str] = field(default=None, metadata={"help": "Spark Connect URL (sc://host:15002, or local[N] for a local server) instead of --master"})
    conf: Any = field(default=None, metadata={"help": "extra Spark setting KEY=VALUE (repeatable; YAML: a mapping)"})

    # -- derived, after validation ----------------------------------------------------------

    @property
    def label_list(self) -> Optional[list[str]]:
        return parse_candidate_labels(self.labels, "labels") if self.labels is not None else None

    @property
    def csv_column_names(self) -> list[str]:
        return _names(self.csv_columns)

    @property
    def spark_conf(self) -> dict:
        if not self.conf:
            return {}
        if isinstance(self.conf, dict):
            return {str(k): str(v) for k, v in self.conf.items()}
        pairs = {}
        for item in self.conf:
            key, sep, value = str(item).partition("=")
            if not sep or not key:
                raise ConfigError(f"conf {item!r} must be KEY=VALUE, e.g. spark.sql.shuffle.partitions=64")
            pairs[key.strip()] = value.strip()
        return pairs

    @property
    def text_column(self) -> Optional[str]:
        return self.text_col or ("value" if self.input_format == "text" and self.input else None)

    def engine_options(self) -> EngineOptions:
        return EngineOptions(max_length=self.max_length or None, token_budget=self.token_budget, batch_rows=self.batch_rows,
                             threads=self.threads, device=self.device, precision=self.precision)

    def strategy_options(self) -> StrategyOptions:
        return StrategyOptions(strategy=self.strategy, temperature=self.temperature, threshold=self.threshold,
                               shortlist=self.shortlist)

    def classifier_params(self) -> dict:
        """The ZeroShotClassifier params these options set, labels and template excepted."""
        return dict(
            model=self.model, inputCol=self.text_column, multiLabel=self.multi_label, maxLength=self.max_length,
            tokenBudget=self.token_budget, batchRows=self.batch_rows, threads=self.threads, device=self.device,
            precision=self.precision, distribution=self.distribution, strategy=self.strategy,
            embeddingModel=self.embedding_model, temperature=float(self.temperature), threshold=float(self.threshold),
            **({"shortlist": self.shortlist} if self.shortlist is not None else {}),
        )

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
        if self.master and self.remote:
            raise ConfigError("give --master (classic Spark) or --remote (Spark Connect), not both")
        if bool(self.input) == bool(self.input_table):
            raise ConfigError("give exactly one of --input PATH or --input-table NAME")
        if self.input and is_local_path(self.input) and not os.path.exists(local_path(self.input)):
            raise ConfigError(f"--input {self.input!r} does not exist")
        if not self.text_column:
            raise ConfigError("--text-col is required: name the column that holds the text")
        if self.csv_columns is not None and (self.input_format != "csv" or len(set(self.csv_column_names)) != len(self.csv_column_names) or not self.csv_column_names):
            raise ConfigError("--csv-columns names the columns of a header-less --input-format csv file: distinct names, comma-separated")
        self.engine_options()
        self.strategy_options()
        self.spark_conf


@dataclass
class JobOptions(SourceOptions):
    """Every option of `classify`."""

    output: Optional[str] = field(default=None, metadata={"help": "output path"})
    output_format: str = field(default="parquet", metadata={"help": "format of --output; csv flattens the result", "choices": OUTPUT_FORMATS})
    output_table: Optional[str] = field(default=None, metadata={"help": "metastore table to write instead of --output"})
    output_col: str = field(default="zsc", metadata={"help": "name of the result column"})
    mode: Optional[str] = field(default=None, metadata={"help": "error (default), overwrite or append", "choices": MODES})
    partition_by: Any = field(default=None, metadata={"help": "output partition columns, comma-separated"})
    skip_existing: bool = field(default=False, metadata={"help": "classify only ids not in the output yet, and append them"})
    embedding_fallback: bool = field(default=False, metadata={"help": "if the NLI model cannot be had (no hub, not cached), run strategy embedding with --embedding-model instead, and say so"})

    @property
    def partition_columns(self) -> list[str]:
        return _names(self.partition_by)

    @property
    def write_mode(self) -> str:
        return "append" if self.skip_existing else (self.mode or "error")

    def validate(self) -> None:
        super().validate()
        o = self
        if bool(o.output) == bool(o.output_table):
            raise ConfigError("give exactly one of --output PATH or --output-table NAME")
        if o.labels is not None and o.labels_col:
            raise ConfigError("give --labels or --labels-col, not both")
        if o.labels_col is None and not o.label_list:
            raise ConfigError('no candidate labels: give --labels "a,b,c" or --labels-col COLUMN')
        if o.labels_col is None:
            o.strategy_options().check_label_count(o.label_list)
        if o.skip_existing and not o.id_col:
            raise ConfigError("--skip-existing needs --id-col: the column that tells rows already written")
        if o.skip_existing and o.mode not in (None, "append"):
            raise ConfigError(f"--skip-existing appends the missing rows; --mode {o.mode} contradicts it (drop --mode)")
        if o.output and is_local_path(o.output) and o.write_mode == "error" and os.path.exists(local_path(o.output)):
            raise ConfigError(
                f"--output {o.output!r} already exists: pass --mode overwrite or --mode append, "
                "--skip-existing, or another path"
            )
        if o.output_format == "csv" and o.output_table:
            raise ConfigError("--output-format applies to --output paths; tables are written as parquet")
        if not isinstance(o.template, str):
            raise ConfigError(f"template must be one string with one {{}}, got {o.template!r}")
        ScoringOptions(hypothesis_template=o.template, multi_label=o.multi_label)


def add_job_arguments(parser: argparse.ArgumentParser, options_class: type = JobOptions) -> None:
    """One flag per option; unset flags stay absent so that YAML values are not overridden."""
    parser.add_argument("--config", help="YAML file with the same options as keys (flags override it)")
    for option in fields(options_class):
        flag = "--" + option.name.replace("_", "-")
        kwargs = dict(help=option.metadata["help"], default=argparse.SUPPRESS, dest=option.name)
        kind = {"int": int, "Optional[int]": int, "float": float}.get(str(option.type), str)
        if option.type in (bool, "bool"):
            parser.add_argument(flag, action="store_true", **kwargs)
        elif option.name == "conf" or option.metadata.get("repeatable"):
            parser.add_argument(flag, action="append", type=kind, metavar=option.name.upper(), **kwargs)
        else:
            parser.add_argument(flag, type=kind, choices=option.metadata.get("choices"), **kwargs)


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
        raise ConfigError(f"--config {path!r} must hold a mapping of option: value, not {type(values).__name__}")
    names = [f.name for f in fields(options_class)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"--config {path!r} has unknown key(s) {', '.join(unknown)}; known keys: {', '.join(names)}")
    return values


def _check_type(options_class: type, name: str, value):
    expected = {f.name: f.type for f in fields(options_class)}[name]
    if value is None:
        return
    kinds = {"bool": bool, "int": int, "float": float, "str": str, "Optional[str]": str, "Optional[int]": int}
    kind = kinds.get(str(expected).replace("typing.", ""))
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")


def is_local_path(path: str) -> bool:
    return urlparse(path).scheme in ("", "file")


def local_path(path: str) -> str:
    """A local path or file: URL as a path this process can open."""
    return urlparse(path).path if path.startswith("file:") else path


def build_job_options(flags: dict, options_class: type = JobOptions):
    """Defaults <- YAML (`config`) <- flags, then every check that needs no Spark."""
    flags = dict(flags)
    values = load_yaml(flags.pop("config"), options_class) if flags.get("config") else {}
    flags.pop("config", None)
    values.update(flags)
    for name, value in values.items():
        _check_type(options_class, name, value)
    options = options_class(**values)
    for option in fields(options_class):
        allowed, value = option.metadata.get("choices"), getattr(options, option.name)
        if allowed and value is not None and value not in allowed:
            raise ConfigError(f"{option.name} {value!r} is not supported: use one of {', '.join(allowed)}")
    options.validate()
    return options
