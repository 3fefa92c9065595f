"""What the Transformer and the SQL function do on the driver before any row is scored: every
model the strategy runs resolved and checked, shipped to the executors, and the pandas UDF
that scores with them."""

from __future__ import annotations

from ..options import ClassifierOptions, ScoringOptions
from ..runtime.distribution import load_models, ship_models
from .udf import build_classify_udf


def models_for(options: ClassifierOptions) -> dict:
    """Every model the options' strategy runs, resolved and checked here: kind -> bundle."""
    return load_models(options.strategy, model=options["model"], embedding_model=options["embedding_model"])


def prepare_udf(spark, options: ClassifierOptions, scoring: ScoringOptions, accumulator):
    """The pandas UDF scoring with `options` and `scoring` (its counters into `accumulator`),
    and the model bundles it runs (kind -> bundle)."""
    options.strategy.check_label_count(scoring.candidate_labels)
    bundles = models_for(options)
    models = ship_models(spark, bundles, options["distribution"])
    return build_classify_udf(models, scoring, options.engine, options.strategy, accumulator), bundles
