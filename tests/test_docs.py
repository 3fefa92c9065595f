"""The docs say what the code does: the examples in the public docstrings run as written, the
reference pages made from the code are current, every lineage status the code writes is
documented, and every Python example in the README and the docs runs (with the tests' tiny
model in place of the hub's)."""

from __future__ import annotations

import doctest
import importlib.util
import re

import pytest

import spark_zsc.spark.classifier
import spark_zsc.spark.sql
from spark_zsc.options import DEFAULT_MODEL

from helpers import TEXTS
from processes import REPO

NOT_RUN = "<!-- not run:"


@pytest.mark.parametrize(
    "module",
    [spark_zsc.spark.classifier, spark_zsc.spark.sql],
    ids=["classifier", "sql"],
)
def test_docstring_examples(spark, tiny_model, module):
    result = doctest.testmod(
        module, extraglobs={"spark": spark, "tiny_model": tiny_model}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0


def load_generator():
    spec = importlib.util.spec_from_file_location("docs_generate", REPO / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_reference_pages_are_current():
    generator = load_generator()
    for name, page in generator.PAGES.items():
        committed = (generator.REFERENCE / name).read_text(encoding="utf-8")
        assert committed == page(), f"docs/reference/{name} is out of date: run `make docs`"


def test_every_option_and_metric_is_in_the_reference():
    from spark_zsc.jobs.evaluate.option_table import EVALUATE_OPTIONS
    from spark_zsc.jobs.option_table import CLASSIFY_OPTIONS
    from spark_zsc.options import OPTIONS
    from spark_zsc.spark.metrics import METRIC_NAMES

    generator = load_generator()
    options, metrics = generator.options_page(), generator.metrics_page()
    for option in OPTIONS:
        assert f"`{option.param or option.name('sql')}`" in options
    for option in CLASSIFY_OPTIONS + EVALUATE_OPTIONS:
        assert f"`{option.flag}`" in options
    for name in METRIC_NAMES:
        assert f"| `{name}` |" in metrics


def test_every_lineage_status_the_code_writes_is_documented():
    from spark_zsc.spark.lineage import FIELD_ORDER, STATUSES, Lineage

    lineage = Lineage(dict.fromkeys(FIELD_ORDER), {"min_score": 0.5})
    written = set(re.findall(r"'(\w+)' ", lineage.sql("`text`", None, "`zsc`", "now()")))
    written -= {"UTF-8"}
    source = (REPO / "spark_zsc" / "sources.py").read_text()
    written |= set(re.findall(r'F\.lit\("(\w+)"\)\)\.otherwise\(meta\["status"\]\)', source))
    assert written == set(STATUSES)


def python_examples():
    """(file, line, code) of every ```python block of the README and the docs, but those marked
    `<!-- not run: why -->` on the line above."""
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        lines = path.read_text(encoding="utf-8").split("\n")
        for n, line in enumerate(lines):
            if line.strip() == "```python" and not (n and lines[n - 1].startswith(NOT_RUN)):
                end = lines.index("```", n + 1)
                yield pytest.param("\n".join(lines[n + 1 : end]), id=f"{path.relative_to(REPO)}:{n + 1}")


@pytest.mark.parametrize("code", list(python_examples()))
def test_the_python_examples_run(spark, tiny_model, code, capsys):
    df = spark.createDataFrame([(str(i), text) for i, text in enumerate(TEXTS)], "id string, text string")
    df.createOrReplaceTempView("tickets")
    assert DEFAULT_MODEL in code, "an example names its model, so that it runs with the tests' own"
    exec(code.replace(DEFAULT_MODEL, tiny_model), {"spark": spark, "df": df})
    shown = capsys.readouterr().out
    assert "label" in shown  # every example shows its labels
