"""What the options become once checked: `ClassifierConfig`, every classifier option of one
face (the Transformer's Params, the SQL function's arguments, a job's keys), and the groups of
it that travel to executors (`EngineOptions`, `ScoringOptions`, `StrategyOptions`). All are
frozen and typed, made from the option table (`fields.py`); each checks its values and its
rules (`rules.py`) when built."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ..engines.hypotheses import Hypotheses
from ..engines.results import Abstention
from ..engines.windows import LongText
from . import rules
from .fields import ClassifierFields, EngineFields, ScoringFields, StrategyFields
from .table import check_values, on_face


class EngineOptions(EngineFields):
    """How each Python worker runs the model. Plain data: it travels to executors."""

    def check_rules(self) -> None:
        rules.check_engine(self)


class ScoringOptions(ScoringFields):
    """What a classification means: labels and how they are worded, single- or multi-label,
    when to abstain, how long texts are read. `candidate_labels` None: labels come per row."""

    def derive(self) -> None:
        if self.candidate_labels is not None:  # a tuple: the labels are part of what is hashed
            self._derived("candidate_labels", tuple(self.candidate_labels))

    def check_rules(self) -> None:
        rules.check_scoring(self, self.candidate_labels)

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


class StrategyOptions(StrategyFields):
    """How labels are scored: NLI (the default), sentence embeddings, or NLI on an
    embedding shortlist. Plain data: it travels to executors."""

    def check_rules(self) -> None:
        rules.check_strategy(self)

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
        rules.check_label_count(self, labels)


def _group(group: Any, config: Any, **more: Any) -> Any:
    return group(**{name: getattr(config, name) for name in group.field_names() if name not in more}, **more)


class ClassifierConfig(ClassifierFields):
    """Every classifier option, checked as one face named it, with the rules between them."""

    @classmethod
    def of(cls, values: Mapping[str, Any], face: str) -> "ClassifierConfig":
        """Checked `values`, named as `face` names them (unset ones take their defaults)."""
        return cls(**check_values(dict(values), face, on_face(face)), face=face)

    def check_rules(self) -> None:
        rules.check_engine(self)
        rules.check_strategy(self)
        rules.check_backend(self)
        rules.check_scoring(self, None, self.face)  # the rules that need labels: `scoring`

    @property
    def engine(self) -> EngineOptions:
        return _group(EngineOptions, self)

    @property
    def strategy_options(self) -> StrategyOptions:
        return _group(StrategyOptions, self)

    def scoring(self, candidate_labels: Optional[Sequence[str]]) -> ScoringOptions:
        """What the labels mean, given the label set (None: labels come per row)."""
        rules.check_labels(self, candidate_labels, self.face)
        return _group(ScoringOptions, self, candidate_labels=candidate_labels)
