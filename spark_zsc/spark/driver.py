"""What the Transformer and the SQL function do on the driver before any row is scored: every
model the strategy runs resolved and checked, shipped to the executors, and the pandas UDF
that scores with them."""

from __future__ import annotations

from ..options import ClassifierConfig, ScoringOptions
from ..runtime.distribution import load_models, ship_models
from ..runtime.onnx_export import worker_bundles
from .udf import build_classify_udf


def models_for(config: ClassifierConfig) -> dict:
    """Every model the config's strategy runs, resolved and checked here: kind -> bundle."""
    return load_models(config.strategy_options, model=config.model, embedding_model=config.embedding_model)


def prepare_udf(spark, config: ClassifierConfig, scoring: ScoringOptions, accumulator):
    """The pandas UDF scoring with `config` and `scoring` (its counters into `accumulator`),
    and the model bundles it runs (kind -> bundle); `scoring` came from `config.scoring`,
    which checked the labels against the config's rules."""
    bundles = models_for(config)
    models = ship_models(spark, worker_bundles(bundles, config.engine), config.distribution)
    return build_classify_udf(models, scoring, config.engine, config.strategy_options, accumulator), bundles
