"""The classifier's configs as the option table makes them: fields only (their behaviour is
in `configs.py`). Type checkers read the fields from `fields.pyi`, written by `stubs.py`."""

from .declaration import PARAM
from .table import BY_KEY, OPTIONS
from .typed import config_class

ENGINE_KEYS = (
    "max_length",
    "token_budget",
    "batch_rows",
    "pair_budget",
    "threads",
    "device",
    "precision",
    "backend",
)
SCORING_KEYS = (
    "hypothesis_template",
    "multi_label",
    "candidate_labels",
    "label_descriptions",
    "min_score",
    "other_label",
    "long_text",
    "window_overlap",
    "max_windows",
)
STRATEGY_KEYS = ("strategy", "temperature", "threshold", "shortlist")


def _made(name: str, keys, doc: str) -> type:
    return config_class(name, [BY_KEY[key] for key in keys], PARAM, __name__, doc)


ClassifierFields = config_class("ClassifierFields", OPTIONS, PARAM, __name__, "Every classifier option.")
EngineFields = _made("EngineFields", ENGINE_KEYS, "How each Python worker runs the model.")
ScoringFields = _made("ScoringFields", SCORING_KEYS, "What a classification means.")
StrategyFields = _made("StrategyFields", STRATEGY_KEYS, "How labels are scored.")
