"""The jobs' configs: frozen and typed, made from their option tables (`fields.py`), each value
checked by its option and every rule between a job's options in its config's `check_rules`.

`SourceConfig` is what `classify` and `evaluate` share (input, labels, model, strategy, engine,
Spark); `ClassifyConfig` is classify's, which the `stream` and `estimate` commands build with
`stream` or `estimate` set (`commands.py`). A job config holds the classifier's config it runs
(`classifier`), checked by the classifier's own rules. Nothing here needs Spark.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

from ..errors import ConfigError, required
from ..options import BY_KEY, DEFAULT_MODEL, DEFAULT_TEMPLATE, JOB, ClassifierConfig
from ..options.typed import Config
from ..sinks import written_columns
from .fields import ClassifyFields

if TYPE_CHECKING:  # a mixin: the fields come from the class it is mixed into
    from .fields import SourceFields as _SourceBase
else:
    _SourceBase = Config

_SECRET = re.compile(r"(?i)secret|password|token|access[._-]?key|credential")

# Params the job sets itself (labels, template, columns): left out of classifier_params()
_SET_BY_THE_JOB = ("candidateLabels", "labelsCol", "hypothesisTemplate", "outputCol", "inputCol")


class SourceConfig(_SourceBase):
    """What every job config does with the options `classify` and `evaluate` share."""

    def as_record(self) -> dict:
        """The options as a run's record keeps them: Spark settings that look like credentials
        (as Spark's own redaction rule sees them) are left out, so no secret lands beside the data."""
        record = self.as_dict()
        record["conf"] = {
            key: "*** (redacted)" if _SECRET.search(key) else value for key, value in self.spark_conf.items()
        }
        return record

    @cached_property
    def classifier(self) -> ClassifierConfig:
        """The classifier's options as this job gives them, checked by the classifier's rules."""
        return ClassifierConfig.of(
            {option.job_name: getattr(self, option.job_name) for option in self._classifier_options()}, JOB
        )

    def _classifier_options(self) -> list:
        """This job's options that are the classifier's (distill's own have Params of their own)."""
        return [option for option in self.OPTIONS if option.param and option.key in BY_KEY]

    @property
    def csv_column_names(self) -> list[str]:
        return self.csv_columns or []

    @property
    def spark_conf(self) -> dict[str, str]:
        return self.conf or {}

    @property
    def reader_options(self) -> dict[str, str]:
        return self.input_options or {}

    @property
    def text_column(self) -> str:
        """The column holding the text: --text-col, or a text file's `value`."""
        return required(self._text_column(), "--text-col")

    def _text_column(self) -> Optional[str]:
        return self.text_col or ("value" if self.input_format == "text" and self.input else None)

    @property
    def id_column(self) -> str:
        """--id-col, where the rules require it (--skip-existing, --incremental)."""
        return required(self.id_col, "--id-col")

    @property
    def input_path(self) -> str:
        """--input, where no --input-table is given (the rules require one of the two)."""
        return required(self.input, "--input")

    def classifier_params(self) -> dict[str, Any]:
        """The ZeroShotClassifier Params these options set (labels, template and columns are the job's)."""
        params = {
            option.param: getattr(self, option.job_name)
            for option in self._classifier_options()
            if option.param not in _SET_BY_THE_JOB
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
        return self.classifier.strategy_options.model_names(self.model, self.embedding_model)

    def check_source_rules(self) -> None:
        """The rules between the shared options."""
        if self.master and self.remote:
            raise ConfigError("give --master (classic Spark) or --remote (Spark Connect), not both")
        if bool(self.input) == bool(self.input_table):
            raise ConfigError("give exactly one of --input PATH or --input-table NAME")
        if not self._text_column():
            raise ConfigError("--text-col is required: name the column that holds the text")
        names = self.csv_column_names
        if self.csv_columns is not None and (
            self.input_format != "csv" or len(set(names)) != len(names) or not names
        ):
            raise ConfigError(
                "--csv-columns names the columns of a header-less --input-format csv file: "
                "distinct names, comma-separated"
            )


class StudentRun:
    """What classify and evaluate do with --student: a student answers with its own labels,
    template and teacher, so flags that would choose them are refused rather than ignored,
    and its models are resolved when it is loaded, not before Spark starts."""

    student: Optional[str]
    defer_below: Optional[float]

    def _check_student(self, chosen: dict[str, Any]) -> None:
        """`chosen`: flag -> whether it was given (a value, or a value other than its default)."""
        if not self.student:
            if self.defer_below is not None:
                raise ConfigError("--defer-below goes with --student: a student defers to its teacher")
            return
        given = [flag for flag, value in chosen.items() if value]
        if given:
            raise ConfigError(
                f"--student answers with its own labels, template and teacher (spark-zsc distill chose them): "
                f"drop {', '.join(given)}"
            )

    def _chosen_teacher(self: Any) -> dict[str, Any]:
        """The flags that choose what a model answers with, as given."""
        return {
            "--labels-col": self.labels_col,
            "--label": self.label_descriptions,
            "--multi-label": self.multi_label,
            "--min-score": self.min_score is not None,
            "--model": self.model != DEFAULT_MODEL,
            "--strategy": self.strategy != "nli",
            "--shortlist": self.shortlist,
        }

    @property
    def model_names(self) -> dict[str, str]:
        """kind -> model name of every model the run resolves before Spark starts: none for a
        student, whose models are resolved when it is loaded."""
        return {} if self.student else super().model_names  # type: ignore[misc]

    @property
    def models_description(self) -> str:
        if self.student:
            return f"student {self.student} (spark-zsc distill)"
        return super().models_description  # type: ignore[misc]


class ClassifyConfig(StudentRun, ClassifyFields, SourceConfig):
    """Every option of `classify`; the `stream` and `estimate` commands' too. Labels given only
    with descriptions are the label set, in their order: `labels` holds them."""

    def derive(self) -> None:
        if not self.labels and self.labels_col is None and self.label_descriptions:
            self._derived("labels", list(self.label_descriptions))

    @property
    def checkpoint_folder(self) -> str:
        """--checkpoint, which a stream requires."""
        return required(self.checkpoint, "--checkpoint")

    @property
    def output_path(self) -> str:
        """--output, where no --output-table is given (a run that writes requires one of them)."""
        return required(self.output, "--output")

    @property
    def partition_columns(self) -> list[str]:
        return self.partition_by or []

    @property
    def writer_options(self) -> dict[str, str]:
        return self.output_options or {}

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

    def written_columns(self) -> list[str]:
        """The columns the output adds to the input's (the result's `selected` where it has one)."""
        return written_columns(self, selected=bool(self.multi_label) and self.min_score is not None)

    def check_rules(self) -> None:
        self.check_source_rules()
        self._check_stream()
        targets = bool(self.output) + bool(self.output_table)
        if targets > 1 or (
            targets == 0 and not self.estimate
        ):  # an estimate writes nothing: a target is optional
            raise ConfigError("give exactly one of --output PATH or --output-table NAME")
        self._check_student(
            {
                **self._chosen_teacher(),
                "--labels": self.labels,
                "--template": self.template != DEFAULT_TEMPLATE,
                "--other-label": self.other_label,
                "--estimate": self.estimate,
            }
        )
        if not self.student:
            self._check_labels()
        if self.skip_existing and not self.id_col:
            raise ConfigError("--skip-existing needs --id-col: the column that tells rows already written")
        if self.skip_existing and self.mode not in (None, "append"):
            raise ConfigError(
                f"--skip-existing appends the missing rows; --mode {self.mode} contradicts it (drop --mode)"
            )
        self._check_incremental()

    def _check_labels(self) -> None:
        if self.labels is not None and self.labels_col:
            raise ConfigError("give --labels or --labels-col, not both")
        if self.labels_col is None and not self.labels:
            raise ConfigError(
                'no candidate labels: give --labels "a,b,c", --labels-col COLUMN or --label NAME=DESCRIPTION'
            )
        self.classifier.scoring(None if self.labels_col else self.labels)  # the classifier's own rules

    def _check_stream(self) -> None:
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

    def _check_incremental(self) -> None:
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
