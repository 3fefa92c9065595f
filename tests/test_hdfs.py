"""HDFS for real: a MiniDFSCluster (the `hdfs` fixture) and jobs of their own (as spark-submit
runs them) whose `fs.defaultFS` points at it, so that a path without a scheme means HDFS, as on
YARN. Results are checked by id against a fresh full run on the local disk."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from stores import assert_same_results, dead_writers_lock, results

from spark_zsc.errors import OutputBusy
from spark_zsc.jobs.cli import main
from spark_zsc.paths import HadoopFiles, files_for
from spark_zsc.sinks.files import VERSION_MARK
from spark_zsc.sinks.locks import WriterLock, lock_path

from helpers import LABELS, TEXTS
from processes import cli, input_flags, job_env, run

pytestmark = pytest.mark.cluster  # starts Spark or a server in processes of its own


def write_input(spark, folder: str, rows: dict) -> pd.DataFrame:
    """(id -> text) rows as one CSV file in `folder` (on HDFS, written by Spark)."""
    frame = pd.DataFrame({"id": sorted(rows), "text": [rows[i] for i in sorted(rows)]})
    spark.createDataFrame(frame).coalesce(1).write.mode("overwrite").option("header", True).csv(folder)
    return frame


def full_run(tmp_path, tiny_model, frame: pd.DataFrame, name: str) -> str:
    """A fresh full run on the local disk, over the same rows: the reference."""
    (tmp_path / name).mkdir()
    frame.to_csv(tmp_path / name / "in.csv", index=False)
    args = ["classify", *input_flags(tmp_path / name / "in.csv", ",".join(LABELS)), "--input-format", "csv"]
    assert (
        main([*args, "--model", tiny_model, "--no-progress", "--output", str(tmp_path / name / "out")]) == 0
    )
    return str(tmp_path / name / "out")


def test_paths_without_a_scheme_mean_hdfs_and_incremental_swaps_there(
    spark, hdfs, tiny_model, tmp_path, tmp_path_factory, capsys
):
    """`/data/in` and `/data/out` are on HDFS (neither exists on this disk): the job classifies
    into HDFS with `--incremental`; a later run finds the output killed between the two renames
    of its swap (the output missing, the old version beside it, a dead run's lock) and a half
    written next version, restores and cleans that up, and writes what a full run writes."""
    env = job_env(tmp_path_factory.getbasetemp() / "job_node_cache")
    job = ["--conf", f"spark.hadoop.fs.defaultFS={hdfs}", "--master", "local[2]", "--no-progress"]
    # Tasks that prefer the DataNode's host, which local mode's one executor is not named as, were
    # left unscheduled under delay scheduling on Spark 4.1 (the second run hung): schedule them now.
    job += ["--conf", "spark.locality.wait=0"]
    job += [*input_flags("/data/in", ",".join(LABELS)), "--input-format", "csv", "--model", tiny_model]
    job += ["--output", "/data/out", "--incremental", "--summary-json", str(tmp_path / "summary.json")]
    rows = {i: text for i, text in enumerate(TEXTS)}
    first_input = write_input(spark, f"{hdfs}/data/in", rows)
    first = run(cli(*job), tmp_path, env)
    assert first.returncode == 0, first.stdout[-3000:]
    out = f"{hdfs}/data/out"
    reference = full_run(tmp_path, tiny_model, first_input, "first")
    assert_same_results(results(spark.read.parquet(out)), results(spark.read.parquet(reference)))
    files = files_for(spark, out)
    assert isinstance(files, HadoopFiles) and not files.is_object_store
    record = json.loads(files.read_text(f"{out}/_spark_zsc_run.json"))
    assert record["options"]["output"] == "/data/out" and record["summary"]["rows_written"] == len(rows)

    # killed between the swap's two renames: the output renamed away, the new one not yet in
    files.rename(out, f"{hdfs}/data/.out{VERSION_MARK}0123456789ab-old")
    spark.createDataFrame([(999, "stale")], "id int, text string").write.parquet(
        f"{hdfs}/data/.out{VERSION_MARK}fedcba987654"  # a next version half written
    )
    dead_writers_lock(files, out)
    rows.update({1: "The stock market fell sharply today.", 100: "A storm cut the power."})
    second_input = write_input(spark, f"{hdfs}/data/in", rows)
    second = run(cli(*job), tmp_path, env)
    assert second.returncode == 0, second.stdout[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["rows_written"], summary["rows_already_written"]) == (2, len(rows) - 2)
    assert "restoring" in second.stdout and files.list_names(f"{hdfs}/data") == ["in", "out"]
    reference = full_run(tmp_path, tiny_model, second_input, "second")
    assert_same_results(results(spark.read.parquet(out)), results(spark.read.parquet(reference)))
    assert not files.exists(lock_path(out))
    with WriterLock(files, out, "--output"):  # a live run's lock, made by the NameNode, refuses a second
        with pytest.raises(OutputBusy, match="being written by another spark_zsc run"):
            WriterLock(files, out, "--output").__enter__()
    assert not files.exists(lock_path(out))

    missing = ["classify", *input_flags(f"{hdfs}/data/missing", "a,b"), "--output", f"{hdfs}/data/x"]
    assert main([*missing, "--model", tiny_model]) == 2
    assert f"--input '{hdfs}/data/missing' does not exist" in capsys.readouterr().err
