"""The examples in the public docstrings run as written."""

from __future__ import annotations

import doctest

import pytest

import spark_zsc.spark.classifier
import spark_zsc.spark.sql

from helpers import needs_sql_functions


@pytest.mark.parametrize(
    "module",
    [spark_zsc.spark.classifier, pytest.param(spark_zsc.spark.sql, marks=needs_sql_functions)],
    ids=["classifier", "sql"],
)
def test_docstring_examples(spark, tiny_model, module):
    result = doctest.testmod(
        module, extraglobs={"spark": spark, "tiny_model": tiny_model}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0
