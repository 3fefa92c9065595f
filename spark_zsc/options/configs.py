"""What the options become once checked: the rules that tie options together, and the plain
dataclasses that travel to executors (`EngineOptions`, `ScoringOptions`, `StrategyOptions`),
built from checked values; they check again when built directly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Optional, Sequence

from ..engines.hypotheses import Hypotheses
from ..engines.results import Abstention
from ..engines.windows import LongText
from ..errors import ConfigError
from .declaration import PARAM
from .table import BY_KEY, OPTIONS, check_values, on_face, spelled


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
