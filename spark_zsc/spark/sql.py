"""`zero_shot(text, array(labels...))` as a SQL function."""

from __future__ import annotations

import re
from typing import Optional

from . import metrics as metrics_
from ..runtime.devices import check_devices
from ..runtime.distribution import ship_models
from ..options import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    DEFAULT_TEMPERATURE,
    DEFAULT_TEMPLATE,
    DEFAULT_THRESHOLD,
    ConfigError,
    EngineOptions,
    ScoringOptions,
    StrategyOptions,
)
from .udf import RESULT_SQL_TYPE, build_classify_udf

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlFunction:
    """What `register_sql_function` registered: its name, and metrics over every query using it."""

    def __init__(self, name: str, accumulator):
        self.name = name
        self._accumulator = accumulator

    def metrics(self) -> dict:
        return metrics_.snapshot(self._accumulator, used=True)


def register_sql_function(
    spark,
    name: str = "zero_shot",
    *,
    model: str = DEFAULT_MODEL,
    hypothesis_template: str = DEFAULT_TEMPLATE,
    multi_label: bool = False,
    max_length: Optional[int] = None,
    token_budget: int = 0,
    batch_rows: int = 0,
    threads: int = 0,
    device: str = "auto",
    precision: str = "auto",
    distribution: str = "auto",
    strategy: str = "nli",
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
    temperature: float = DEFAULT_TEMPERATURE,
    threshold: float = DEFAULT_THRESHOLD,
    shortlist: Optional[int] = None,
) -> SqlFunction:
    """Register `name(text, labels)` in `spark`: the ZeroShotClassifier's struct for each row,
    null for null or blank text or no usable labels. The options are the classifier's
    params in snake case (`strategy="embedding"`, `shortlist=5`, ...); a row with no more
    labels than `shortlist` runs NLI on all of them.

    >>> register_sql_function(spark, "zero_shot", model=tiny_model)  # doctest: +ELLIPSIS
    <spark_zsc.spark.sql.SqlFunction object at ...>
    >>> spark.sql("SELECT zero_shot('The team won', array('sports', 'finance')).label").head()[0] in ('sports', 'finance')
    True
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(f"SQL function name {name!r} must be a plain identifier (letters, digits, _)")
    scoring = ScoringOptions(hypothesis_template=hypothesis_template, multi_label=multi_label)
    engine_options = EngineOptions(max_length=max_length, token_budget=token_budget, batch_rows=batch_rows, threads=threads,
                                   device=device, precision=precision)
    strategy_options = StrategyOptions(strategy=strategy, temperature=temperature, threshold=threshold, shortlist=shortlist)
    check_devices(spark, engine_options)
    models = ship_models(spark, strategy_options, model=model, embedding_model=embedding_model, distribution=distribution)
    accumulator = metrics_.new_accumulator(spark)
    classify = build_classify_udf(models, scoring, engine_options, strategy_options, accumulator)
    raw_name = f"{name}__spark_zsc_raw"
    spark.udf.register(raw_name, classify)
    # A SQL function around the pandas UDF turns its struct of nulls into a null; Spark
    # evaluates the two identical UDF calls once.
    spark.sql(
        f"CREATE OR REPLACE TEMPORARY FUNCTION {name}(text STRING, labels ARRAY<STRING>) "
        f"RETURNS {RESULT_SQL_TYPE} "
        f"RETURN CASE WHEN {raw_name}(text, labels).label IS NULL THEN NULL ELSE {raw_name}(text, labels) END"
    )
    return SqlFunction(name, accumulator)
