"""The Databricks notebook runs: its cells in order, against the tests' local SparkSession, with
a `support` database of tickets and a label catalog, and the tiny models in place of the real ones."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest

from helpers import needs_sql_functions
from processes import REPO

NOTEBOOK = REPO / "notebooks" / "databricks_enrichment.py"
HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
TOPICS = ["billing", "outage", "feature request"]
CATALOG = TOPICS + ["account access", "security", "performance", "data export", "documentation"]


@dataclass
class Cell:
    kind: str  # "python", or a magic without its %: "md", "pip", "sql", ...
    source: str
    line: int  # where the cell's first line is in the notebook file


def parse_notebook(text: str) -> list[Cell]:
    """A Databricks notebook source file: cells separated by `# COMMAND ----------`; a cell whose
    every line starts with `# MAGIC` is a magic cell (`%md`, `%pip`, `%sql`, ...), its kind the
    magic and its source what follows the magic; `# DBTITLE` lines are cell titles."""
    lines = text.splitlines()
    assert lines and lines[0].strip() == HEADER, f"{NOTEBOOK} is not a Databricks notebook source file"
    cells, start = [], 1
    for index in [*(i for i, line in enumerate(lines) if line.strip() == SEPARATOR), len(lines)]:
        body = [
            (n, line) for n, line in enumerate(lines[start:index], start) if not line.startswith("# DBTITLE")
        ]
        while body and not body[0][1].strip():
            body.pop(0)
        while body and not body[-1][1].strip():
            body.pop()
        if body:
            first = body[0][0]
            if all(line.startswith("# MAGIC") for _, line in body if line.strip()):
                magic = [line[len("# MAGIC ") :] if line.startswith("# MAGIC ") else "" for _, line in body]
                kind, _, rest = magic[0].strip().partition(" ")
                assert kind.startswith("%"), f"line {first + 1}: a MAGIC cell that names no magic"
                cells.append(Cell(kind[1:], "\n".join([rest, *magic[1:]]), first))
            else:
                cells.append(Cell("python", "\n".join(line for _, line in body), first))
        start = index + 1
    return cells


class Widgets:
    """dbutils.widgets, for a notebook that reads parameters: each widget holds its default."""

    def __init__(self, values: dict):
        self._values = dict(values)  # what the job's parameters set; a widget not given keeps its default

    def text(self, name, defaultValue="", label=None):
        self._values.setdefault(name, defaultValue)

    def dropdown(self, name, defaultValue, choices, label=None):
        self._values.setdefault(name, defaultValue)

    def get(self, name):
        return self._values[name]


class Library:
    def restartPython(self):
        """After `%pip install`, Databricks restarts Python to import the new package; spark_zsc
        is already installed here, and the namespace must survive."""


class DBUtils:
    """What the notebook uses of Databricks' dbutils, and nothing more: any other use fails its cell."""

    def __init__(self, widgets: dict):
        self.library = Library()
        self.widgets = Widgets(widgets)


@pytest.fixture
def support_database(spark):
    """The tables the notebook reads, in a `support` database dropped afterwards (even on failure:
    the session is shared with the other tests), with the functions the notebook registers."""
    with open(REPO / "examples" / "tickets.csv", newline="") as handle:
        tickets = [(int(row["id"]), row["text"] or None) for row in csv.DictReader(handle)]
    spark.sql("CREATE DATABASE support")
    try:
        spark.createDataFrame(tickets, "ticket_id long, body string").write.saveAsTable("support.raw_tickets")
        spark.createDataFrame([(label,) for label in CATALOG], "label string").write.saveAsTable(
            "support.label_catalog"
        )
        yield tickets
    finally:
        spark.sql("DROP DATABASE IF EXISTS support CASCADE")
        for stream in spark.streams.active:  # a stream the notebook left running, should one fail
            stream.stop()
        for function in ("zero_shot", "zero_shot__spark_zsc_raw", "zero_shot_meta"):
            spark.sql(f"DROP TEMPORARY FUNCTION IF EXISTS {function}")


@pytest.fixture
def tiny_models_for_hub_ids(monkeypatch, tiny_model, tiny_encoder):
    """The notebook names its models by hub id: the NLI model in several cells, literally, and the
    embedding model that `shortlist` runs through the classifier's default, not at all. So rather
    than rewrite the notebook's text (which misses the default) or preset variables (which the
    notebook does not read), the hub ids are mapped to the tiny models where every model name is
    resolved, once, on the driver: that covers literals, defaults and cells yet to be written alike,
    the notebook runs as it is, and a hub id not mapped here fails its cell instead of reaching for
    the hub."""
    from spark_zsc.options import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL
    from spark_zsc.runtime import model_source

    resolve = model_source.resolve_model_folder
    tiny = {DEFAULT_MODEL: tiny_model, DEFAULT_EMBEDDING_MODEL: tiny_encoder}
    assert DEFAULT_MODEL in NOTEBOOK.read_text(), "the notebook no longer names the default NLI model"

    def resolve_to_tiny(model):
        if model in tiny:
            return resolve(tiny[model])
        if not model_source._looks_like_path(model):
            raise AssertionError(f"the notebook uses the hub model {model!r}: map it to a tiny test model")
        return resolve(model)

    monkeypatch.setattr(model_source, "resolve_model_folder", resolve_to_tiny)


def run_notebook(spark, cells: list[Cell], widgets: dict = None) -> list:
    """Run the Python and %sql cells in order in one namespace, as Databricks does; %md and %pip
    cells are skipped. `display` shows a DataFrame and keeps its rows. Returns the rows of every
    display, in order. A cell that fails fails the test, naming the cell."""
    shown = []

    def display(frame):
        rows = frame.collect()
        frame.show(truncate=False)
        shown.append((frame.columns, rows))

    namespace = {
        "__name__": "__main__",
        "spark": spark,
        "display": display,
        "dbutils": DBUtils(widgets or {}),
    }
    for number, cell in enumerate(cells, 1):
        where = f"notebook cell {number} ({cell.kind}, {NOTEBOOK.name} line {cell.line + 1})"
        try:
            if cell.kind == "python":
                # padded so that a traceback's line numbers are the notebook file's
                exec(compile("\n" * cell.line + cell.source, str(NOTEBOOK), "exec"), namespace)
            elif cell.kind == "sql":
                display(spark.sql(cell.source))
            elif cell.kind not in ("md", "pip"):
                raise NotImplementedError(f"a %{cell.kind} cell: teach tests/test_notebook.py to run it")
        except Exception as error:
            raise AssertionError(f"{where} failed: {error!r}\n{cell.source}") from error
    return shown


def test_the_parser_splits_cells_and_magics():
    text = "\n".join(
        [HEADER, "# MAGIC %md", "# MAGIC # Title", "", SEPARATOR, "", "# DBTITLE 1,Go", "x = 1", "y = x"]
        + ["", SEPARATOR, "", "# MAGIC %sql", "# MAGIC SELECT 1", "# MAGIC", "# MAGIC FROM t", ""]
        + [SEPARATOR, "", "# MAGIC %pip install spark-zsc"]
    )
    cells = parse_notebook(text)
    assert [(c.kind, c.source, c.line) for c in cells] == [
        ("md", "\n# Title", 1),
        ("python", "x = 1\ny = x", 7),
        ("sql", "\nSELECT 1\n\nFROM t", 12),
        ("pip", "install spark-zsc", 19),
    ]


def test_a_cell_that_fails_fails_the_run_naming_its_notebook_line():
    cells = [Cell("md", "# Title", 1), Cell("python", "x = 1\ny = x / 0", 5), Cell("python", "z = 1", 9)]
    with pytest.raises(AssertionError, match=r"cell 2 \(python, databricks_enrichment.py line 6\)") as failed:
        run_notebook(None, cells)
    assert isinstance(failed.value.__cause__, ZeroDivisionError)
    assert failed.value.__cause__.__traceback__.tb_next.tb_lineno == 7  # y = x / 0, as the file counts
    with pytest.raises(AssertionError, match="a %scala cell"):
        run_notebook(None, [Cell("scala", "val x = 1", 3)])


# The notebook's SQL function returns NULL for a ticket it does not classify, as on Databricks
# runtimes, which have SQL functions; on the open source Spark 3.5 these tests run on, a struct of nulls.
@needs_sql_functions
def test_the_databricks_notebook_runs(spark, support_database, tiny_models_for_hub_ids, tmp_path):
    cells = parse_notebook(NOTEBOOK.read_text())
    assert {"python", "sql"} <= {cell.kind for cell in cells}
    shown = run_notebook(spark, cells, widgets={"checkpoint": str(tmp_path / "checkpoint")})

    tickets = dict(support_database)
    classified = {ticket_id for ticket_id, body in tickets.items() if body and body.strip()}
    assert len(classified) < len(tickets)  # the sample holds a ticket with no text

    # the enriched table: every ticket once, each with text labelled, the one without text not
    enriched = {r.ticket_id: r for r in spark.table("support.tickets_enriched").collect()}
    assert enriched.keys() == tickets.keys()
    for ticket_id, row in enriched.items():
        assert row.body == tickets[ticket_id]
        if ticket_id in classified:
            assert row.topic_label in TOPICS and row.topic.label == row.topic_label
            assert sorted(row.topic.labels) == sorted(TOPICS) and 0 < row.topic.score <= 1
        else:
            assert row.topic is None and row.topic_label is None

    by_columns = {tuple(columns): rows for columns, rows in shown}
    counts = by_columns[("topic_label", "count")]
    assert sum(r["count"] for r in counts) == len(tickets)

    # the streaming cell: the same labels, each ticket once, the table kept by the stream's checkpoint
    streamed = {r.ticket_id: r for r in spark.table("support.tickets_enriched_stream").collect()}
    assert streamed.keys() == tickets.keys()
    assert all(streamed[t].topic_label == enriched[t].topic_label for t in tickets)

    # the %sql cell: the SQL function's label and score for each ticket (LIMIT 20 > 15 tickets)
    from_sql = {r.ticket_id: r for r in by_columns[("ticket_id", "topic", "confidence")]}
    assert from_sql.keys() == tickets.keys()
    for ticket_id, row in from_sql.items():
        if ticket_id in classified:
            assert row.topic in TOPICS and 0 < row.confidence <= 1
        else:
            assert row.topic is None and row.confidence is None

    # many labels from the catalog, NLI on each ticket's shortlist of 5
    many = {r.ticket_id: r for r in by_columns[("ticket_id", "label", "score")]}
    assert many.keys() == tickets.keys()
    assert all(many[t].label in CATALOG for t in classified)
    assert all(many[t].label is None for t in tickets.keys() - classified)
