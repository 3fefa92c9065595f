"""What the tests share besides fixtures: the sentences the tiny models are trained on, the
texts and labels most tests classify, and the comparison with the HF pipeline."""

from __future__ import annotations

import json

import pyspark
import pytest

# register_sql_function is built on SQL functions (CREATE FUNCTION ... RETURN), which open source
# Spark has from Spark 4: on Spark 3.5 it registers the pandas UDF itself, with the same results
# but for what its docstring lists (lineage, and a null struct for a row it does not classify).
SPARK_4 = int(pyspark.__version__.split(".")[0]) >= 4
SQL_FUNCTIONS = SPARK_4
needs_sql_functions = pytest.mark.skipif(
    not SQL_FUNCTIONS,
    reason="needs SQL functions (CREATE FUNCTION ... RETURN): Spark 4 has them, 3.5 does not",
)


def unclassified_in_sql(value) -> bool:
    """Whether the SQL function's value is that of a row it did not classify: NULL, or where
    Spark has no SQL functions a struct of nulls."""
    return value is None if SQL_FUNCTIONS else value is not None and value.labels is None


SENTENCES = [
    "The central bank cut interest rates and the markets rallied.",
    "The home team won the final in overtime after a late goal.",
    "A new phone was launched with a faster chip and a better camera.",
    "Storms caused power outages across the city on Monday.",
    "Customers were charged twice on their latest invoice.",
    "Please add a dark mode to the mobile app.",
    "The election results were announced late at night.",
    "Scientists discovered a new species of frog in the rainforest.",
    "Oil prices rose sharply after the pipeline was closed.",
    "This example is billing. This example is about sports.",
    "Café, naïve, Zürich, 東京, Москва, مرحبا, 😀 and other scripts.",
]

TEXTS = [
    "The central bank cut interest rates again.",
    "Our team won the final!",
    "My invoice shows a double charge, please refund it.",
    "The app crashes when I open the settings page. " * 30,  # past the 128-token limit
    "Café in Zürich: naïve prices, 東京 and Москва too 😀",
    "Our team won the final!",  # a duplicate
    "power outage",
    "Scientists found a frog.",
]
LABELS = ["finance", "sports", "billing", "outage", "feature request"]


def assert_same_result(reference: dict, result, tolerance: float = 1e-5) -> None:
    """One row's result equals the HF pipeline's: same label order, scores within `tolerance`."""
    labels, scores = (
        (result[2], result[3]) if isinstance(result, tuple) else (result["labels"], result["scores"])
    )
    assert list(labels) == reference["labels"]
    assert max(abs(a - b) for a, b in zip(scores, reference["scores"])) < tolerance


def run_here(args: list[str], folder) -> dict:
    """A job's CLI `args` run in this process (it shares the test session, and never stops it),
    its summary written to a new file in `folder`: the summary."""
    from spark_zsc.jobs.cli import main

    summary = folder / f"summary-{len(list(folder.glob('summary-*')))}.json"
    assert main([*args, "--summary-json", str(summary)]) == 0, args
    return json.loads(summary.read_text())
