"""Real Delta Lake and Iceberg (their jars from `make jars`, in the test session): new tables,
appends, incremental runs against a fresh full run, schema evolution, the run record, a Delta
path, two runs at once on one Delta table, and a stream SIGKILLed mid-batch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from spark_zsc.jobs.cli import main

from helpers import LABELS, TEXTS, run_here
from processes import cli, conf_flags, job_env, kill_group, start, table_formats_conf

FORMATS = {"delta": "zsc_delta_tickets", "iceberg": "ice.db.zsc_tickets"}


def write_input(path, rows: dict, **extra_columns) -> None:
    """(id -> text) rows as parquet, with more columns of (id -> value) where given."""
    ids = sorted(rows)
    frame = {"id": ids, "text": [rows[i] for i in ids], "lang": ["en" if i % 2 else "fr" for i in ids]}
    frame.update({name: [values.get(i) for i in ids] for name, values in extra_columns.items()})
    pd.DataFrame(frame).to_parquet(path)


def run_job(tmp_path, tiny_model, *flags, labels=LABELS) -> dict:
    args = ["classify", "--input", str(tmp_path / "in.parquet"), "--text-col", "text", "--id-col", "id"]
    args += ["--labels", ",".join(labels), "--model", tiny_model, "--no-progress", *flags]
    return run_here(args, tmp_path)


def by_id(frame) -> dict:
    return {r.id: r for r in frame.collect()}


def provider(spark, table: str) -> str:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    return next(r.data_type for r in rows if r.col_name == "Provider").lower()


def properties(spark, table: str) -> dict:
    return {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}


def commits(spark, table: str, table_format: str) -> list[str]:
    """The table's commits, oldest first, each as its operation: Delta's history, Iceberg's snapshots."""
    if table_format == "delta":
        history = spark.sql(f"DESCRIBE HISTORY {table}").orderBy("version").collect()
    else:
        history = spark.table(f"{table}.snapshots").orderBy("committed_at").collect()
    return [r.operation for r in history]


@pytest.mark.parametrize("table_format", sorted(FORMATS))
def test_incremental_runs_on_a_real_table_equal_a_full_run(spark, tiny_model, tmp_path, table_format):
    table = FORMATS[table_format]
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    rows = {i: text for i, text in enumerate(TEXTS)}
    write_input(tmp_path / "in.parquet", rows)
    target = ["--output-table", table]
    first = run_job(tmp_path, tiny_model, *target, "--output-format", table_format, "--incremental")
    assert first["rows_written"] == len(rows) and provider(spark, table) == table_format
    # the table and its rows in one commit (Delta: then the run record's properties)
    first_commits = ["CREATE TABLE AS SELECT", "SET TBLPROPERTIES"] if table_format == "delta" else ["append"]
    assert commits(spark, table, table_format) == first_commits
    before = by_id(spark.table(table))
    record = properties(spark, table)
    assert json.loads(record["spark_zsc.run.summary"])["rows_written"] == len(rows)
    assert record["spark_zsc.run.config_sha256"] == before[0].zsc_meta.config_sha256
    assert json.loads(record["spark_zsc.run.engine"]) == {"backend": "onnx", "precision": "fp32"}

    # edit two texts, add two rows, delete two, and give the input a column it did not have
    current = {i: t for i, t in rows.items() if i not in (2, 3)}
    current.update({1: "The stock market fell sharply today.", 4: "Our invoice was charged twice."})
    current.update({100: "A storm cut the power.", 101: "Add a dark mode, please."})
    priority = {i: f"p{i % 3}" for i in current}
    write_input(tmp_path / "in.parquet", current, priority=priority)
    second = run_job(tmp_path, tiny_model, *target, "--incremental")
    assert second["rows_written"] == 4 and second["rows_already_written"] == len(current) - 4
    after = by_id(spark.table(table))
    assert sorted(after) == sorted(set(current) | {2, 3})  # one row per id; deleted ids stay
    run_job(tmp_path, tiny_model, "--output", str(tmp_path / "full"), "--mode", "overwrite")
    full = by_id(spark.read.parquet(str(tmp_path / "full")))
    for i in current:
        assert after[i].priority == full[i].priority == priority[i]  # the new column reaches kept rows
        assert after[i].zsc.labels == full[i].zsc.labels
        assert after[i].zsc.scores == pytest.approx(full[i].zsc.scores, abs=1e-6)
    for i in set(current) - {1, 4, 100, 101}:  # untouched: result and lineage byte for byte
        assert (after[i].zsc, after[i].zsc_meta) == (before[i].zsc, before[i].zsc_meta)

    # one text edited and two ids gone: the update and the deletions are one commit
    current[1] = "The team won the final in overtime."
    write_input(tmp_path / "in.parquet", current, priority=priority)
    history = commits(spark, table, table_format)
    dropped = run_job(tmp_path, tiny_model, *target, "--incremental", "--drop-missing")
    assert dropped["rows_written"] == 1 and sorted(by_id(spark.table(table))) == sorted(current)
    added = commits(spark, table, table_format)[len(history) :]
    # Iceberg keeps the run record in table metadata, no snapshot; Delta commits it after the data
    assert added == (["MERGE", "SET TBLPROPERTIES"] if table_format == "delta" else ["overwrite"])
    if table_format == "delta":  # the commit that changed the rows names what produced them
        merge = spark.sql(f"DESCRIBE HISTORY {table}").orderBy("version").collect()[len(history)]
        produced_by = json.loads(merge.userMetadata)
        assert produced_by["config_sha256"] == properties(spark, table)["spark_zsc.run.config_sha256"]
        assert (
            produced_by["engine"] == {"backend": "onnx", "precision": "fp32"} and "summary" not in produced_by
        )
    relabelled = run_job(tmp_path, tiny_model, *target, "--incremental", labels=LABELS[:3])
    assert relabelled["rows_written"] == len(current)
    assert {tuple(r.zsc_meta.labels) for r in spark.table(table).collect()} == {tuple(LABELS[:3])}
    assert provider(spark, table) == table_format


@pytest.mark.parametrize("table_format", sorted(FORMATS))
def test_appends_and_skip_existing_on_a_real_table(spark, tiny_model, tmp_path, table_format):
    table = FORMATS[table_format] + "_appended"
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    write_input(tmp_path / "in.parquet", {0: TEXTS[0], 1: TEXTS[1]})
    run_job(tmp_path, tiny_model, "--output-table", table, "--output-format", table_format)
    write_input(tmp_path / "in.parquet", {2: TEXTS[2]}, channel={2: "email"})  # a column more
    run_job(tmp_path, tiny_model, "--output-table", table, "--mode", "append")
    write_input(tmp_path / "in.parquet", {i: TEXTS[i] for i in range(5)})
    for _ in range(2):  # a retried --skip-existing adds each missing id once
        run_job(tmp_path, tiny_model, "--output-table", table, "--skip-existing")
    rows = by_id(spark.table(table))
    assert sorted(rows) == [0, 1, 2, 3, 4] and spark.table(table).count() == 5
    assert rows[2].channel == "email" and rows[0].channel is None
    assert provider(spark, table) == table_format


def test_a_delta_path_output(spark, tiny_model, tmp_path):
    path = str(tmp_path / "delta_out")
    write_input(tmp_path / "in.parquet", {i: t for i, t in enumerate(TEXTS[:4])})
    run_job(tmp_path, tiny_model, "--output", path, "--output-format", "delta", "--incremental")
    write_input(tmp_path / "in.parquet", {i: t for i, t in enumerate(TEXTS[:6])})
    summary = run_job(tmp_path, tiny_model, "--output", path, "--incremental")  # a Delta path stays Delta
    assert summary["rows_written"] == 2 and "(delta, merged)" in summary["output"]
    written = spark.read.format("delta").load(path)
    assert sorted(r.id for r in written.collect()) == list(range(6))
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").head()
    assert json.loads(detail.properties["spark_zsc.run.summary"])["rows_written"] == 2


@pytest.mark.cluster
def test_two_runs_at_once_on_one_delta_table_never_half_apply(spark, tiny_model, tmp_path_factory, tmp_path):
    """Two scheduler runs (each its own JVM) merge into one Delta path at once: Delta's own
    conflict detection lets each commit whole or fail whole."""
    path = str(tmp_path / "contended")
    write_input(tmp_path / "in.parquet", {i: t for i, t in enumerate(TEXTS)})
    run_job(tmp_path, tiny_model, "--output", path, "--output-format", "delta", "--incremental")
    write_input(tmp_path / "in.parquet", {i: f"{t} (edited)" for i, t in enumerate(TEXTS)})
    env = job_env(tmp_path_factory.getbasetemp() / "job_node_cache")
    conf = conf_flags(table_formats_conf(tmp_path / "iceberg"))

    def flags(labels):
        base = ["--input", str(tmp_path / "in.parquet"), "--text-col", "text", "--id-col", "id"]
        return [*base, "--labels", ",".join(labels), "--model", tiny_model, "--output", path, "--incremental"]

    processes = []
    for n, labels in enumerate((LABELS, list(reversed(LABELS)))):
        folder = tmp_path / f"run{n}"  # each job its own working folder (its own Derby metastore)
        folder.mkdir()
        job = cli(*flags(labels), "--master", "local[1]", "--no-progress", *conf)
        processes.append(start(job, folder, env, tmp_path / f"run{n}.log"))
    try:
        for process in processes:
            process.wait(timeout=400)
    finally:
        for process in processes:
            if process.poll() is None:
                kill_group(process)
    logs = [(tmp_path / f"run{n}.log").read_text(errors="replace") for n in range(2)]
    codes = [process.returncode for process in processes]
    assert 0 in codes, logs
    for code, log in zip(codes, logs):  # the other committed too, or Delta refused it whole
        assert code == 0 or "Concurrent" in log or "conflict" in log.lower(), log[-3000:]
    rows = spark.read.format("delta").load(path).collect()
    assert sorted(r.id for r in rows) == list(range(len(TEXTS)))  # every id once
    # every row from one whole run: one configuration throughout, every edited text classified
    assert len({r.zsc_meta.config_sha256 for r in rows}) == 1
    assert all(r.text.endswith("(edited)") for r in rows)


@pytest.mark.cluster
@pytest.mark.parametrize("table_format", sorted(FORMATS))
def test_a_stream_killed_mid_batch_is_completed_once(
    spark, tiny_model, tmp_path_factory, tmp_path, table_format
):
    """A real job with its own JVM streams into Delta (a path) or Iceberg (a table), is SIGKILLed
    while a micro-batch writes, and the next run, here, completes it: every id exactly once."""
    ids = []
    (tmp_path / "in").mkdir()
    for n in range(4):
        rows = [(1000 * n + i, f"{TEXTS[i % len(TEXTS)]} ({i})") for i in range(30)]
        pd.DataFrame(rows, columns=["id", "text"]).astype({"id": str}).to_csv(
            tmp_path / "in" / f"{n}.csv", index=False
        )
        ids += [str(i) for i, _ in rows]
    # the test session's Iceberg catalog, so that the rerun here finds the killed run's table
    warehouse = Path(spark.conf.get("spark.sql.catalog.ice.warehouse"))
    spark.sql("DROP TABLE IF EXISTS ice.db.streamed")
    target = (
        ["--output", str(tmp_path / "out"), "--output-format", "delta"]
        if table_format == "delta"
        else ["--output-table", "ice.db.streamed", "--output-format", "iceberg"]
    )
    flags = ["--stream", "--checkpoint", str(tmp_path / "checkpoint"), "--input", str(tmp_path / "in")]
    flags += ["--input-format", "csv", "--input-option", "maxFilesPerTrigger=1", "--text-col", "text"]
    flags += ["--labels", ",".join(LABELS), "--model", tiny_model, "--no-progress", "--batch-rows", "4"]
    flags += target
    own_jvm = ["--master", "local[2]", *conf_flags(table_formats_conf(warehouse))]
    env = job_env(tmp_path_factory.getbasetemp() / "job_node_cache")
    offsets, commits = tmp_path / "checkpoint" / "offsets", tmp_path / "checkpoint" / "commits"
    process = start(cli(*flags, *own_jvm), tmp_path, env, tmp_path / "killed.log")
    try:
        deadline = time.monotonic() + 300
        while not (offsets / "1").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (offsets / "1").exists() and not (commits / "1").exists(), (
            tmp_path / "killed.log"
        ).read_text()[-3000:]
    finally:
        kill_group(process)
    assert process.returncode == -9  # killed while batch 1 was being written
    assert main(["classify", *flags]) == 0
    location = str(tmp_path / "out") if table_format == "delta" else str(warehouse / "db" / "streamed")
    written = [r.id for r in spark.read.format(table_format).load(location).collect()]
    assert sorted(written) == sorted(ids)  # every id exactly once
