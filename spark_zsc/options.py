"""Options, checked once on the driver before any Spark job starts.

Every check raises `ConfigError` with a message that names the option and says what
to change; executors receive only options that passed.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Union

from .errors import ConfigError

DEFAULT_MODEL = "valhalla/distilbart-mnli-12-1"
DEFAULT_TEMPLATE = "This example is {}."
DEFAULT_TOKEN_BUDGET = 4096  # CPU; a GPU gets GPU_TOKEN_BUDGET unless one is set
GPU_TOKEN_BUDGET = 16384
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")  # auto: fp16 on a GPU, fp32 on CPU


def parse_candidate_labels(labels: Union[str, Sequence[str], None], option: str = "candidateLabels") -> list[str]:
    """Fixed candidate labels: a list, or one string split on commas as the pipeline does.

    A blank entry in a list is a mistake here (unlike in a per-row labels column, where it is
    data and dropped); a repeated label is kept once, first occurrence first.
    """
    if labels is None:
        return []
    if isinstance(labels, str):
        return list(dict.fromkeys(l.strip() for l in labels.split(",") if l.strip()))
    cleaned = []
    for position, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(
                f"{option} holds a blank or non-string label at position {position} ({label!r}): "
                "remove it or give it a name"
            )
        cleaned.append(label)
    return list(dict.fromkeys(cleaned))


def validate_template(template: str, option: str = "hypothesisTemplate") -> str:
    """A hypothesis template must hold exactly one `{}` where the label goes."""
    if not isinstance(template, str):
        raise ConfigError(f"{option} must be a string with one {{}} for the label, got {template!r}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ConfigError(f"{option} {template!r} is not a valid template ({error}); write {{{{ and }}}} for literal braces") from None
    if fields != [""]:
        raise ConfigError(
            f"{option} {template!r} must contain exactly one {{}} where the label goes "
            f"(found {len(fields)} placeholder(s)); e.g. {DEFAULT_TEMPLATE!r}"
        )
    return template


def _positive_int(value, option: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        least = "0 or more" if allow_zero else "1 or more"
        raise ConfigError(f"{option} must be an integer, {least}; got {value!r}")
    return value


@dataclass(frozen=True)
class EngineOptions:
    """How each Python worker runs the model. Plain data: it travels to executors."""

    max_length: Optional[int] = None  # tokens per pair; None = the tokenizer's limit
    token_budget: int = 0  # padded tokens per forward batch; 0 = 4096 on CPU, 16384 on a GPU
    batch_rows: int = 0  # rows per engine call; 0 = the whole Arrow batch
    threads: int = 0  # torch threads per task; 0 = the task's CPUs (spark.task.cpus)
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self):
        if self.max_length is not None:
            _positive_int(self.max_length, "maxLength")
            if self.max_length < 8:
                raise ConfigError(f"maxLength {self.max_length} leaves no room for a text and a hypothesis: use 8 or more")
        _positive_int(self.token_budget, "tokenBudget", allow_zero=True)
        _positive_int(self.batch_rows, "batchRows", allow_zero=True)
        _positive_int(self.threads, "threads", allow_zero=True)
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.device == "cpu" and self.precision in ("fp16", "bf16"):
            raise ConfigError(f"precision={self.precision} needs a GPU; on CPU use fp32, or int8 for speed")
        if self.device == "cuda" and self.precision == "int8":
            raise ConfigError("precision=int8 is for CPUs; on a GPU use fp16 or bf16")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoringOptions:
    """What a classification means: labels, template, single- or multi-label."""

    hypothesis_template: str = DEFAULT_TEMPLATE
    multi_label: bool = False
    candidate_labels: Optional[tuple[str, ...]] = None  # None: labels come per row

    def __post_init__(self):
        validate_template(self.hypothesis_template)
        if not isinstance(self.multi_label, bool):
            raise ConfigError(f"multiLabel must be True or False; got {self.multi_label!r}")


STRATEGIES = ("nli", "embedding")
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_TEMPERATURE = 0.05  # all-MiniLM-L6-v2's training scale (cosine x 20)
DEFAULT_THRESHOLD = 0.3  # multi-label embedding: the cosine at which a label scores 0.5


@dataclass(frozen=True)
class StrategyOptions:
    """How labels are scored: NLI (the default), sentence embeddings, or NLI on an
    embedding shortlist. Plain data: it travels to executors."""

    strategy: str = "nli"
    temperature: float = DEFAULT_TEMPERATURE
    threshold: float = DEFAULT_THRESHOLD
    shortlist: Optional[int] = None  # NLI on each row's top-k embedding labels; None = every label

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) or not self.temperature > 0:
            raise ConfigError(f"temperature must be a number above 0 (default {DEFAULT_TEMPERATURE}); got {self.temperature!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not -1 <= self.threshold <= 1:
            raise ConfigError(f"threshold is a cosine similarity, between -1 and 1 (default {DEFAULT_THRESHOLD}); got {self.threshold!r}")
        if self.shortlist is not None:
            if isinstance(self.shortlist, bool) or not isinstance(self.shortlist, int) or self.shortlist < 1:
                raise ConfigError(f"shortlist must be an integer, 1 or more (the labels NLI runs on per row); got {self.shortlist!r}")
            if self.strategy != "nli":
                raise ConfigError("shortlist ranks labels by embeddings and runs NLI on the top k: use it with strategy='nli'")

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
