"""The estimate command (`classify --estimate`): what the full run would cost, measured on a sample on the test
session's cluster (local[2]), with nothing written."""

from __future__ import annotations

import argparse
import csv
import json

import pytest

from spark_zsc.errors import ConfigError
from spark_zsc.jobs.cli import main
from spark_zsc.jobs.commands import add_job_arguments, build_job_options
from spark_zsc.jobs.option_table import ESTIMATE_SAMPLE_ROWS

from helpers import LABELS, TEXTS


def write_texts(path, rows):
    """A header CSV of (id, text, labels)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "labels"])
        writer.writerows(rows)
    return path


def classify_args(tmp_path, tiny_model, source, *more) -> list[str]:
    return [
        "classify",
        "--input",
        str(source),
        "--input-format",
        "csv",
        "--text-col",
        "text",
        "--model",
        tiny_model,
        "--output",
        str(tmp_path / "out"),
        *more,
    ]


def test_estimate_measures_the_whole_input_and_writes_nothing(spark, tiny_model, tmp_path, capsys):
    rows = [(i, text, "") for i, text in enumerate(TEXTS * 5)]
    source = write_texts(tmp_path / "in.csv", rows)
    summary = tmp_path / "estimate.json"
    labels = ["--labels", ",".join(LABELS)]
    assert (
        main(
            [
                *classify_args(tmp_path, tiny_model, source, *labels),
                "--estimate",
                "--summary-json",
                str(summary),
            ]
        )
        == 0
    )
    estimate = json.loads(summary.read_text())
    assert estimate["rows"] == estimate["sample_rows"] == len(rows)  # fewer rows than the sample: all of them
    assert estimate["pairs"] == len(rows) * len(LABELS) and estimate["pairs_per_row"] == len(LABELS)
    # one text in eight is past the tiny model's 128 tokens
    assert estimate["model_limit"] == 128 and estimate["over_limit_share"] == pytest.approx(1 / 8, abs=1e-4)
    assert 0 < estimate["tokens_per_pair"] <= 128 and estimate["tokens_per_text"] > 0
    # local[2]: two task slots, but a multiLine CSV file is one partition, so one task at a time
    assert (estimate["task_slots"], estimate["input_partitions"], estimate["parallel_tasks"]) == (2, 1, 1)
    # the summary rounds rates and seconds to 2 decimals: compare within that rounding
    assert estimate["pairs_per_second_per_task"] == pytest.approx(
        estimate["rows_per_second_per_task"] * len(LABELS), rel=0.01, abs=0.005 * (len(LABELS) + 1)
    )
    assert estimate["steady_seconds"] == pytest.approx(
        len(rows) / estimate["rows_per_second_per_task"], rel=0.01, abs=0.01
    )
    assert estimate["projected_seconds"] > 0
    assert estimate["projected_seconds"] == pytest.approx(
        estimate["warm_up_seconds"] + estimate["steady_seconds"], abs=0.02
    )
    assert not (tmp_path / "out").exists()
    printed = capsys.readouterr().out
    assert "--estimate: nothing written" in printed and "projected" in printed


def test_estimate_samples_over_every_file_and_ignores_an_existing_output(spark, tiny_model, tmp_path):
    """Four files whose rows ask 1, 2, 3 and 4 labels: a sample of 10 of the 40 rows has a mean
    between 1 and 4 only if it drew from several files. An existing output stays as it was."""
    folder = tmp_path / "in"
    folder.mkdir()
    for part in range(4):
        labels = ",".join(LABELS[: part + 1])
        write_texts(folder / f"part-{part}.csv", [(10 * part + i, TEXTS[i % 8], labels) for i in range(10)])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "kept.txt").write_text("an earlier run")
    summary = tmp_path / "estimate.json"
    args = classify_args(tmp_path, tiny_model, folder, "--labels-col", "labels", "--estimate", "10")
    assert main([*args, "--summary-json", str(summary)]) == 0  # no --mode needed: nothing is written
    estimate = json.loads(summary.read_text())
    assert estimate["rows"] == 40 and estimate["sample_rows"] == 10
    assert 1 < estimate["pairs_per_row"] < 4
    assert estimate["pairs"] == round(40 * estimate["pairs_per_row"])
    assert estimate["input_partitions"] >= 2 and estimate["parallel_tasks"] == 2  # Spark packs small files
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["kept.txt"]


def test_with_dedupe_input_the_projection_runs_over_the_shuffles_partitions(
    spark, tiny_model, tmp_path, capsys
):
    """The multiLine CSV is one partition; --dedupe input classifies in the session's
    spark.sql.shuffle.partitions (4 in the tests), so both task slots work."""
    source = write_texts(tmp_path / "in.csv", [(i, text, "") for i, text in enumerate(TEXTS * 2)])
    summary = tmp_path / "estimate.json"
    args = classify_args(tmp_path, tiny_model, source, "--labels", ",".join(LABELS), "--dedupe", "input")
    assert main([*args, "--estimate", "--summary-json", str(summary)]) == 0
    estimate = json.loads(summary.read_text())
    assert (estimate["task_slots"], estimate["input_partitions"], estimate["parallel_tasks"]) == (2, 4, 2)
    assert estimate["partitions_from"] == "spark.sql.shuffle.partitions"
    assert estimate["rows"] == estimate["sample_rows"] == 2 * len(TEXTS) and estimate["projected_seconds"] > 0
    assert "4 partitions from spark.sql.shuffle.partitions, --dedupe input)" in capsys.readouterr().out


def test_an_analyzed_table_is_counted_by_its_statistics(spark, tiny_model, tmp_path):
    spark.createDataFrame([(t,) for t in TEXTS * 3], "text string").write.saveAsTable("estimate_input")
    try:
        spark.sql("ANALYZE TABLE estimate_input COMPUTE STATISTICS")
        summary = tmp_path / "estimate.json"
        args = ["classify", "--input-table", "estimate_input", "--text-col", "text", "--labels", "a,b"]
        assert main([*args, "--model", tiny_model, "--estimate", "--summary-json", str(summary)]) == 0
        estimate = json.loads(summary.read_text())
        assert (estimate["rows"], estimate["rows_counted_by"]) == (24, "table statistics")
        assert estimate["pairs"] == 48
    finally:
        spark.sql("DROP TABLE estimate_input")


def test_a_bad_sample_size_fails_before_any_work(spark, tiny_model, tmp_path, capsys):
    source = write_texts(tmp_path / "in.csv", [(0, "a text", "")])
    jobs_before = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
    assert main([*classify_args(tmp_path, tiny_model, source, "--labels", "a,b"), "--estimate", "0"]) == 2
    assert "estimate must be an integer, 1 or more; got 0" in capsys.readouterr().err
    assert set(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs_before


@pytest.mark.parametrize(
    "flags,yaml,expected",
    [
        (["--estimate"], "", ESTIMATE_SAMPLE_ROWS),
        (["--estimate", "40"], "", 40),
        ([], "estimate: true\n", ESTIMATE_SAMPLE_ROWS),
        ([], "estimate: 300\n", 300),
        (["--estimate", "5"], "estimate: 300\n", 5),
    ],
)
def test_the_sample_size_from_a_bare_flag_a_value_or_yaml(tmp_path, flags, yaml, expected):
    """No --output: an estimate writes nothing, so it needs no target."""
    parser = argparse.ArgumentParser()
    add_job_arguments(parser)
    config = tmp_path / "job.yaml"
    config.write_text(f"input: {tmp_path}\ntext_col: text\nlabels: a,b\n{yaml}")
    options = build_job_options(vars(parser.parse_args(["--config", str(config), *flags])))
    assert options.estimate == expected


@pytest.mark.parametrize("flags,expected", [([], ESTIMATE_SAMPLE_ROWS), (["--sample-rows", "40"], 40)])
def test_the_estimate_command_is_classify_estimate(tmp_path, flags, expected):
    parser = argparse.ArgumentParser()
    add_job_arguments(parser, "estimate")
    given = ["--input", str(tmp_path), "--text-col", "text", "--labels", "a,b", *flags]
    options = build_job_options(vars(parser.parse_args(given)), "estimate")
    assert options.estimate == expected and not options.stream
    with pytest.raises(SystemExit):  # the estimate command has no --stream, no --estimate
        parser.parse_args([*given, "--estimate", "5"])


def test_estimate_false_in_yaml_is_a_run_that_needs_an_output(tmp_path):
    config = tmp_path / "job.yaml"
    config.write_text(f"input: {tmp_path}\ntext_col: text\nlabels: a,b\nestimate: false\n")
    with pytest.raises(ConfigError, match="give exactly one of --output"):
        build_job_options({"config": str(config)})
