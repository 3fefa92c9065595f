"""`zero_shot(text, array(labels...))` as a SQL function."""

from __future__ import annotations

import inspect
import re

from pyspark.errors import ParseException

from ..errors import ConfigError
from ..options import BY_KEY, SQL, ClassifierConfig, on_face
from ..runtime.devices import resolve_devices
from . import metrics as metrics_
from .driver import prepare_udf
from .lineage import LINEAGE_SQL_TYPE, Lineage, sql_literal
from .udf import result_sql_type

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlFunction:
    """What `register_sql_function` registered: its name, and metrics over every query using it."""

    def __init__(self, name: str, accumulator):
        self.name = name
        self._accumulator = accumulator

    def metrics(self) -> dict:
        return metrics_.snapshot(self._accumulator, used=True)


def register_sql_function(spark, name: str = "zero_shot", **options) -> SqlFunction:
    """Register `name(text, labels)` in `spark`: the ZeroShotClassifier's struct for each row,
    null for null or blank text, text that is not UTF-8, or no usable labels. The options
    are the classifier's params in snake case (`strategy="embedding"`, `shortlist=5`, ...;
    None = the default); a row with no more labels than `shortlist` runs NLI on all of them.
    With `lineage=True` it also registers `name_meta(text, labels)`: each row's lineage
    struct (see `spark_zsc.spark.lineage`), its labels those of the call. With
    `label_descriptions`, `labels` may be left out: `name(text)` classifies into the described
    labels, in their order.

    Where Spark has no SQL functions (CREATE FUNCTION ... RETURN: open source Spark 3.5), `name`
    is the pandas UDF itself, with the same results but for three things: a row it does not
    classify is a struct of nulls (`name(...).labels IS NULL`) instead of NULL; a text that is
    not UTF-8 fails its batch unless the call casts it, `name(CAST(text AS BINARY), labels)`;
    and `lineage=True` is refused (the Transformer's lineageCol and the jobs record lineage).

    >>> register_sql_function(spark, "zero_shot", model=tiny_model)  # doctest: +ELLIPSIS
    <spark_zsc.spark.sql.SqlFunction object at ...>
    >>> spark.sql("SELECT zero_shot('The team won', array('sports', 'finance')).label").head()[0] in ('sports', 'finance')
    True
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(f"SQL function name {name!r} must be a plain identifier (letters, digits, _)")
    unknown = sorted(set(options) - {o.name(SQL) for o in SQL_OPTIONS})
    if unknown:
        elsewhere = [option for option in unknown if option in BY_KEY]  # e.g. dedupe: rows must move for it
        raise TypeError(
            f"register_sql_function() has no option {', '.join(unknown)}"
            + (f" ({', '.join(elsewhere)}: a ZeroShotClassifier and job option only)" if elsewhere else "")
            + f"; its options: {', '.join(o.named(SQL) for o in SQL_OPTIONS)}"
        )
    checked = resolve_devices(spark, ClassifierConfig.of(options, SQL))
    scoring = checked.scoring(None)
    sql_functions = _has_sql_functions(spark)  # after the options' own checks, before any model is looked for
    if checked.lineage and not sql_functions:
        raise ConfigError(
            f"lineage=True registers {name}_meta as a SQL function (CREATE FUNCTION ... RETURN), which "
            f"Spark {spark.version} does not have (Spark 4 has them): on this Spark, register without "
            "lineage, and record lineage with ZeroShotClassifier's lineageCol or the classify job"
        )
    accumulator = metrics_.new_accumulator(spark)
    classify, bundles = prepare_udf(spark, checked, scoring, accumulator)
    if not sql_functions:
        spark.udf.register(name, classify)  # the pandas UDF itself: see the docstring for what differs
        return SqlFunction(name, accumulator)
    raw_name = f"{name}__spark_zsc_raw"
    spark.udf.register(raw_name, classify)
    raw_call = f"{raw_name}(CAST(text AS BINARY), CAST(labels AS ARRAY<BINARY>))"  # as udf.as_bytes
    # described labels are the labels of a call that gives none: name(text)
    described = checked.label_descriptions
    labels = "labels ARRAY<STRING>" + (f" DEFAULT {sql_literal(list(described))}" if described else "")
    # A SQL function around the pandas UDF turns its struct of nulls into a null; Spark
    # evaluates the two identical UDF calls once.
    spark.sql(
        f"CREATE OR REPLACE TEMPORARY FUNCTION {name}(text STRING, {labels}) "
        f"RETURNS {result_sql_type(scoring)} "
        f"RETURN CASE WHEN {raw_call}.labels IS NULL THEN NULL ELSE {raw_call} END"
    )
    if checked.lineage:
        # the same UDF call as above, so a query using both functions classifies each row once
        lineage = Lineage.of(checked, bundles, labels=None)
        spark.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {name}_meta(text STRING, {labels}) "
            f"RETURNS {LINEAGE_SQL_TYPE} "
            f"RETURN {lineage.sql('text', 'labels', raw_call, 'current_timestamp()')}"
        )
    return SqlFunction(name, accumulator)


def _has_sql_functions(spark) -> bool:
    """Whether `spark` has SQL functions (CREATE FUNCTION ... RETURN), which turn the pandas UDF's
    struct of nulls into NULL and cast the text to bytes before Arrow sees it. Open source Spark
    has them from Spark 4 (Databricks runtimes before it): asked of Spark itself with a probe."""
    probe = "spark_zsc_sql_function_probe"
    try:
        spark.sql(f"CREATE OR REPLACE TEMPORARY FUNCTION {probe}() RETURNS INT RETURN 1")
    except ParseException:
        return False
    spark.sql(f"DROP TEMPORARY FUNCTION IF EXISTS {probe}")
    return True


SQL_OPTIONS = on_face(SQL)
register_sql_function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("spark", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="zero_shot"),
    ]
    + [
        inspect.Parameter(o.named(SQL), inspect.Parameter.KEYWORD_ONLY, default=o.default)
        for o in SQL_OPTIONS
    ]
)
