"""The classify job as warehouse tests drive it: a CSV input of (id, text, lang) rows, the CLI
run in this process (it shares the test session), its output read back by id."""

from __future__ import annotations

import csv

from helpers import LABELS, TEXTS, run_here

ROWS = [(i, text) for i, text in enumerate(TEXTS * 2 + [None, "  "])]


def write_csv(path, rows, *, sep=",", encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(["id", "text", "lang"])
        for i, text in rows:
            writer.writerow([i, "" if text is None else text, "en" if i % 2 else "fr"])
    return path


def classify_args(
    tmp_path, tiny_model, *extra, source="in.csv", input_format="csv", labels=LABELS, output="out"
):
    """The classify CLI's arguments for `source` in `tmp_path`, plus `extra`."""
    return [
        "classify",
        "--input",
        str(tmp_path / source),
        "--input-format",
        input_format,
        "--text-col",
        "text",
        "--labels",
        ",".join(labels),
        "--model",
        tiny_model,
        "--output",
        str(tmp_path / output),
        *extra,
    ]


def job(tmp_path, tiny_model, *extra, **where):
    """The classify CLI with ids, in this process (it shares the test session; it never stops it)."""
    return run_here(classify_args(tmp_path, tiny_model, "--id-col", "id", *extra, **where), tmp_path)


def rows_by_id(spark, path) -> dict:
    return {str(r.id): r for r in spark.read.parquet(str(path)).collect()}
