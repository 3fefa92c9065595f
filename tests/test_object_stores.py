"""Object stores for real: S3A (hadoop-aws from `make jars`) against an S3-compatible server on
127.0.0.1 (the `s3` fixture). Inputs, outputs, checkpoints, run records and locks live in its
buckets; results are checked by id against a run on the local disk."""

from __future__ import annotations

import json
import logging
import threading

import pandas as pd
import pytest
from stores import assert_same_results, dead_writers_lock, results

from spark_zsc.errors import OutputBusy
from spark_zsc.jobs import progress
from spark_zsc.jobs.cli import main
from spark_zsc.paths import files_for
from spark_zsc.sinks.locks import WriterLock, lock_path

from helpers import LABELS, TEXTS, run_here


def upload_csv(s3, url: str, rows: dict) -> None:
    """(id -> text) rows as one CSV object."""
    frame = pd.DataFrame({"id": sorted(rows), "text": [rows[i] for i in sorted(rows)]})
    s3.write(url, frame.to_csv(index=False).encode())


def classify(tmp_path, tiny_model, source: str, *flags) -> dict:
    """The classify CLI in this process (it shares the test session), its summary."""
    args = ["classify", "--input", source, "--input-format", "csv", "--text-col", "text", "--id-col", "id"]
    args += ["--labels", ",".join(LABELS), "--model", tiny_model, "--no-progress", *flags]
    return run_here(args, tmp_path)


def test_a_job_reads_and_writes_s3a_and_appends_only_what_is_missing(spark, s3, tiny_model, tmp_path):
    bucket = s3.new_bucket()
    rows = {i: text for i, text in enumerate(TEXTS)}
    upload_csv(s3, f"{bucket}/in/a.csv", rows)
    out = f"{bucket}/out"
    first = classify(tmp_path, tiny_model, f"{bucket}/in", "--output", out, "--skip-existing")
    assert first["rows_written"] == len(rows) and first["output"] == f"parquet {out}"
    record = json.loads(s3.read(f"{out}/_spark_zsc_run.json"))  # the run record, in the bucket
    assert record["summary"]["rows_written"] == len(rows) and record["options"]["output"] == out
    assert not [k for k in s3.keys(bucket) if k.endswith(".spark_zsc_lock")]  # released

    upload_csv(s3, f"{bucket}/in/b.csv", {100: "A storm cut the power.", 101: "Add a dark mode."})
    second = classify(tmp_path, tiny_model, f"{bucket}/in", "--output", out, "--skip-existing")
    assert (second["rows_already_written"], second["rows_written"]) == (len(rows), 2)

    local = tmp_path / "in"
    local.mkdir()
    for name in ("a.csv", "b.csv"):
        (local / name).write_bytes(s3.read(f"{bucket}/in/{name}"))
    classify(tmp_path, tiny_model, str(local), "--output", str(tmp_path / "full"))
    assert_same_results(results(spark.read.parquet(out)), results(spark.read.parquet(str(tmp_path / "full"))))


def test_a_missing_s3a_input_and_an_incremental_folder_swap_are_refused_before_work(
    s3, tiny_model, tmp_path, capsys
):
    bucket = s3.new_bucket()
    base = ["classify", "--input-format", "csv", "--text-col", "text", "--id-col", "id", "--labels", "a,b"]
    base += ["--model", tiny_model, "--output", f"{bucket}/out"]
    assert main([*base, "--input", f"{bucket}/missing"]) == 2
    assert f"--input '{bucket}/missing' does not exist" in capsys.readouterr().err
    upload_csv(s3, f"{bucket}/in.csv", {0: TEXTS[0]})
    assert main([*base, "--input", f"{bucket}/in.csv", "--incremental"]) == 2
    error = capsys.readouterr().err
    assert "s3a renames a folder object by object" in error and "--output-format delta" in error
    assert s3.keys(f"{bucket}/out") == []  # nothing written, no hidden copy left behind


def test_an_incremental_table_on_s3a_survives_a_kill_at_each_step_of_its_switch(
    spark, s3, tiny_model, tmp_path
):
    """A table of files whose location is on S3A: each run writes a whole new location and
    switches the table to it. What a run killed at each step leaves (a half-written next
    location and its lock; a switched table whose old location was not yet removed) is finished
    by the next run, whose table equals a fresh full run's, with no stale or doubled row."""
    bucket = s3.new_bucket()
    spark.sql(f"CREATE DATABASE IF NOT EXISTS s3_warehouse LOCATION '{bucket}/warehouse'")
    table, base = "s3_warehouse.tickets", f"{bucket}/warehouse/tickets"
    spark.sql(f"DROP TABLE IF EXISTS {table}")
    rows = {i: text for i, text in enumerate(TEXTS)}
    upload_csv(s3, f"{bucket}/in.csv", rows)
    target = ["--output-table", table, "--output-format", "parquet", "--incremental"]
    classify(tmp_path, tiny_model, f"{bucket}/in.csv", *target)

    # killed while writing the next location: part of it written, the lock left behind
    half = f"{base}__spark_zsc_0badc0ffee00"
    spark.createDataFrame([(999, "stale")], "id int, text string").write.parquet(half)
    dead_writers_lock(files_for(spark, base), base)
    rows.update({1: "The stock market fell sharply today.", 100: "A storm cut the power."})
    upload_csv(s3, f"{bucket}/in.csv", rows)
    second = classify(tmp_path, tiny_model, f"{bucket}/in.csv", *target)
    assert second["rows_written"] == 2 and second["rows_already_written"] == len(rows) - 2
    assert s3.keys(half) == [] and s3.keys(lock_path(base)) == []

    # killed after switching the table, before removing the location it left
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where("col_name = 'Location'").head().data_type
    switched = f"{base}__spark_zsc_5e17c4ed0000"
    spark.table(table).write.parquet(switched)
    spark.sql(f"ALTER TABLE {table} SET LOCATION '{switched}'")
    rows.update({4: "Our invoice was charged twice.", 101: "Add a dark mode, please."})
    upload_csv(s3, f"{bucket}/in.csv", rows)
    third = classify(tmp_path, tiny_model, f"{bucket}/in.csv", *target)
    assert third["rows_written"] == 2
    assert s3.keys(location) == [] and s3.keys(switched) == []  # only the new location is left

    (tmp_path / "in.csv").write_bytes(s3.read(f"{bucket}/in.csv"))
    classify(tmp_path, tiny_model, str(tmp_path / "in.csv"), "--output", str(tmp_path / "full"))
    spark.sql(f"REFRESH TABLE {table}")
    assert_same_results(results(spark.table(table)), results(spark.read.parquet(str(tmp_path / "full"))))
    spark.sql(f"DROP TABLE {table}")


@pytest.mark.cluster
def test_one_writer_at_a_time_on_s3a(spark, s3):
    """The lock beside an S3A output: created by a conditional write, so of runs that start at
    the same moment exactly one holds it; its heartbeat moves the object's time forward."""
    bucket = s3.new_bucket()
    files = files_for(spark, f"{bucket}/out")
    with WriterLock(files, f"{bucket}/out", "--output"):
        with pytest.raises(OutputBusy, match="being written by another spark_zsc run"):
            WriterLock(files, f"{bucket}/out", "--output").__enter__()
    assert s3.keys(lock_path(f"{bucket}/out")) == []  # released

    for attempt in range(6):
        path, won = f"{bucket}/race-{attempt}", []
        start = threading.Barrier(4)

        def create(n: int, path=path, start=start, won=won) -> None:
            start.wait()
            if files.create_new(path, f"runner {n}"):
                won.append(n)

        threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, won
        assert s3.read(path).decode() == f"runner {won[0]}"

    for attempt in range(3):  # runs that find one dead run's lock at once: one takes it over
        output, start, outcomes = f"{bucket}/dead-{attempt}", threading.Barrier(4), []
        dead_writers_lock(files, output)

        def take(output=output, start=start, outcomes=outcomes) -> None:
            lock = WriterLock(files, output, "--output")
            start.wait()
            try:
                lock.__enter__()
                outcomes.append(lock)
            except OutputBusy:
                outcomes.append("refused")

        threads = [threading.Thread(target=take) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        holders = [o for o in outcomes if o != "refused"]
        assert len(holders) == 1 and len(outcomes) == 4, outcomes
        assert json.loads(s3.read(lock_path(output))) == holders[0].owner
        holders[0].__exit__(None, None, None)
        assert s3.keys(lock_path(output)) == []  # released, no takeover mark left

    before = files.modified_seconds(f"{bucket}/race-0")
    threading.Event().wait(1.5)  # object times have one-second steps
    files.touch(f"{bucket}/race-0")
    assert files.modified_seconds(f"{bucket}/race-0") > before
    assert s3.read(f"{bucket}/race-0").decode().startswith("runner ")  # the holder's record kept


def test_a_file_removed_between_a_look_and_a_read_reads_as_absent(spark, s3, monkeypatch):
    """A run reading a lock its holder releases at that moment: the file was there when looked
    at and is gone when read. It reads as released, not as a crash of the run that read it, and
    a heartbeat of a lock removed meanwhile does not create an empty one nobody releases."""
    output = f"{s3.new_bucket()}/out"
    files, removed = files_for(spark, output), lock_path(output)
    monkeypatch.setattr(files, "exists", lambda path: True)  # the look that still saw it
    assert files.read_text(removed) is None
    assert files.modified_seconds(removed) is None
    with pytest.raises(FileNotFoundError):  # a heartbeat then: it must not write the lock back
        files.touch(removed)
    assert s3.keys(removed) == []


def test_streams_with_their_checkpoint_in_another_bucket(spark, s3, tiny_model, tmp_path):
    """A stream into a table of files on S3A and one into an S3A folder, each checkpointed in
    another bucket: every id once, and a rerun with nothing new writes nothing."""
    data, checkpoints = s3.new_bucket(), s3.new_bucket()
    rows = {i: text for i, text in enumerate(TEXTS)}
    upload_csv(s3, f"{data}/in/a.csv", rows)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS s3_streams LOCATION '{data}/warehouse'")
    spark.sql("DROP TABLE IF EXISTS s3_streams.enriched")
    targets = {
        "table": ["--output-table", "s3_streams.enriched", "--output-format", "parquet"],
        "folder": ["--output", f"{data}/files"],
    }
    for name, target in targets.items():
        flags = ["--stream", "--checkpoint", f"{checkpoints}/{name}", "--schema", "id int, text string"]
        for _ in range(2):
            classify(tmp_path, tiny_model, f"{data}/in", *flags, *target)
    written = {
        "table": spark.table("s3_streams.enriched"),
        "folder": spark.read.parquet(f"{data}/files"),
    }
    for name, frame in written.items():
        assert sorted(r.id for r in frame.collect()) == sorted(rows), name  # every id exactly once
    assert s3.keys(f"{checkpoints}/table/metadata") and s3.keys(f"{checkpoints}/folder/metadata")
    spark.sql("DROP TABLE s3_streams.enriched")


def test_an_estimate_and_the_progress_line_read_an_s3a_input(s3, tiny_model, tmp_path, caplog, monkeypatch):
    bucket = s3.new_bucket()
    rows = {i: text for i, text in enumerate(TEXTS * 3)}
    upload_csv(s3, f"{bucket}/in.csv", rows)
    base = ["classify", "--input", f"{bucket}/in.csv", "--input-format", "csv", "--text-col", "text"]
    base += ["--labels", ",".join(LABELS), "--model", tiny_model]
    assert main([*base, "--estimate", "--summary-json", str(tmp_path / "estimate.json")]) == 0
    estimate = json.loads((tmp_path / "estimate.json").read_text())
    assert estimate["rows"] == len(rows) and estimate["input"] == f"--input {bucket}/in.csv"
    assert s3.keys(bucket) == ["in.csv"]  # an estimate writes nothing

    monkeypatch.setattr(progress, "LOG_SECONDS", 0.02)  # off a terminal: a line every tick
    with caplog.at_level(logging.INFO, logger="spark_zsc"):
        assert main([*base, "--output", f"{bucket}/out"]) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress: ")]
    assert lines and all(f"of {len(rows)} rows" in line for line in lines), lines
