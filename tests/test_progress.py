"""The classify job's progress line: its numbers, and the reporter against real jobs."""

from __future__ import annotations

import csv
import logging
import re

import pytest

from spark_zsc.jobs import progress
from spark_zsc.jobs.cli import main
from spark_zsc.jobs.progress import (
    ProgressReporter,
    eta_seconds,
    format_connect_progress,
    format_duration,
    format_progress,
)

from helpers import LABELS, TEXTS


def test_eta_is_the_rest_at_the_average_rate_so_far():
    assert eta_seconds(250, 1000, elapsed=10.0) == 30.0
    assert eta_seconds(1000, 1000, elapsed=10.0) == 0.0
    assert eta_seconds(1200, 1000, elapsed=10.0) == 0.0  # a retried task counts its rows again
    assert eta_seconds(0, 1000, elapsed=10.0) is None  # no rate before a task ends
    assert eta_seconds(250, None, elapsed=10.0) is None  # no total: --skip-existing, --incremental


@pytest.mark.parametrize("seconds,shown", [(0.4, "0s"), (45, "45s"), (192, "3m12s"), (3725, "1h02m")])
def test_durations(seconds, shown):
    assert format_duration(seconds) == shown


def test_the_progress_line():
    line = format_progress(
        1234, 10_000, rows_per_second=12.345, pairs_per_second=61.7, model_loads=2, eta=192, tasks=(3, 8, 2)
    )
    assert line == (
        "progress: 1,234 of 10,000 rows (12%), 12.3 rows/s, 61.7 pairs/s, 2 model loads, "
        "tasks 3/8 (2 running), ETA 3m12s"
    )
    no_total = format_progress(5, None, rows_per_second=0.5, pairs_per_second=1.0, model_loads=1, eta=None)
    assert no_total == "progress: 5 rows, 0.5 rows/s, 1.0 pairs/s, 1 model load, ETA unknown"
    assert "Spark Connect shows no task progress" in format_connect_progress(75)
    assert format_connect_progress(75).startswith("progress: 1m15s elapsed")


def test_the_reporter_follows_a_real_job(spark, tiny_model):
    from spark_zsc import ZeroShotClassifier

    # 12 partitions without a shuffle (adaptive execution would merge shuffled ones into one task)
    frame = spark.sparkContext.parallelize([(t,) for t in TEXTS * 6], 12).toDF("text string")
    classifier = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
    result = classifier.transform(frame)
    lines = []
    with ProgressReporter(spark, classifier, len(TEXTS) * 6, interval=0.02, emit=lines.append):
        result.write.format("noop").mode("overwrite").save()  # 12 tasks, two at a time
    done = [
        (int(match.group(1).replace(",", "")), line)
        for line in lines
        if (match := re.match(r"progress: ([\d,]+) of 48 rows", line))
    ]
    assert len(done) == len(lines) > 0  # every line counts rows of the known total
    assert any(rows > 0 and "ETA unknown" not in line for rows, line in done), lines
    assert any(0 < rows < 48 for rows, _ in done), lines  # rows move as tasks end, not only at the end
    assert any(" running)" in line for _, line in done), lines  # the status tracker saw the stage


def _write_csv(path):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(TEXTS))
    return path


def test_no_progress_silences_the_line(spark, tiny_model, tmp_path, caplog, capsys, monkeypatch):
    """Off a terminal (capsys makes stderr none) the line goes to the log: here every tick,
    so that even a short job logs one, unless --no-progress."""
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.02)
    source = _write_csv(tmp_path / "in.csv")
    base = ["classify", "--input", str(source), "--input-format", "csv", "--text-col", "text"]
    base += ["--labels", ",".join(LABELS), "--model", tiny_model]

    def progress_lines(*more) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="spark_zsc"):
            assert main([*base, *more]) == 0
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress: ")]

    assert progress_lines("--output", str(tmp_path / "with"))
    assert progress_lines("--output", str(tmp_path / "without"), "--no-progress") == []
