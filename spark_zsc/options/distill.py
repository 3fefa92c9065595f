"""The options of a distillation, declared once: `DistilledClassifier`'s Params (and
`deferBelow`, its model's too) and the `distill` job's flags and YAML keys are made from them,
with the same defaults and checks. The student's encoder is the classifier's `embeddingModel`."""

from __future__ import annotations

from ..errors import ConfigError
from .declaration import Option
from .table import BY_KEY


def _fraction(value: float, name: str) -> float:
    if not 0 < value < 1:
        raise ConfigError(f"{name} must be above 0 and under 1; got {value!r}")
    return value


def _kept_share(value: float, name: str) -> float:
    if not 0 < value <= 1:
        raise ConfigError(f"{name} must be above 0 and at most 1; got {value!r}")
    return value


def _at_least_zero(value: float, name: str) -> float:
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more; got {value!r}")
    return value


_score = BY_KEY["min_score"].check  # between 0 and 1


def _distill_option(param: str, kind, default, doc: str, **more) -> Option:
    return Option(param, kind, default, doc, sql=None, **more)


DEFER_BELOW = _distill_option(
    "deferBelow",
    float,
    0.0,
    "Rows whose student score is under it are scored by the teacher instead, with the teacher's own "
    "scores; 0: the student scores every row. The fit's report gives agreement against the share "
    "deferred for a few thresholds.",
    check=_score,
)

DISTILL_OPTIONS: tuple[Option, ...] = (
    _distill_option("sampleRows", int, 2000, "Rows of the input the teacher labels (at most).", least=1),
    _distill_option(
        "holdoutFraction", float, 0.2, "Share of the sample held out to measure the student.", check=_fraction
    ),
    _distill_option(
        "keepShare",
        float,
        0.25,
        "Per teacher label, the share of its training rows kept: those the teacher is surest of (by the "
        "margin between its two best scores).",
        check=_kept_share,
    ),
    _distill_option(
        "minAgreement",
        float,
        0.7,
        "Least top-label agreement with the teacher on held-out rows; under it no student is returned "
        "(AgreementTooLow, with the figures and what to try).",
        check=_score,
    ),
    _distill_option(
        "labelCol",
        str,
        None,
        "A column of gold labels on some rows (null elsewhere): those rows are labelled examples.",
        job="gold_col",
    ),
    _distill_option(
        "exampleWeight",
        float,
        0.0,
        "Training weight of each labelled example (a teacher's row weighs 1); 0: the examples together weigh "
        "as much as the teacher's rows.",
        check=_at_least_zero,
    ),
    _distill_option(
        "regParam", float, 0.01, "The logistic regression's L2 regularization.", check=_at_least_zero
    ),
    _distill_option("maxIter", int, 100, "The logistic regression's most iterations.", least=1),
    _distill_option("seed", int, 0, "Seed of the sample and the held-out split."),
    DEFER_BELOW,
)

# what the Estimator takes besides its teacher: the options above and the student's encoder
ESTIMATOR_OPTIONS: tuple[Option, ...] = (BY_KEY["embedding_model"], *DISTILL_OPTIONS)
