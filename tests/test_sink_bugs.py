"""Warehouse bugs found on 0.2.0, each reproduced here: a second writer, two streams into one
table, partition values re-typed, appends into a partitioned folder, null and CSV ids, and
result columns that match input columns by case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pandas as pd
import pytest

from spark_zsc.jobs.cli import main
from spark_zsc.paths import LocalFiles
from spark_zsc.sinks.locks import WriterLock, lock_path

from helpers import SPARK_4, TEXTS
from processes import job_env, run

LABELS = "finance,sports,billing"


def flags(tmp_path, tiny_model, *more, source="in.parquet"):
    base = ["classify", "--input", str(tmp_path / source), "--text-col", "text", "--id-col", "id"]
    return [*base, "--labels", LABELS, "--model", tiny_model, "--no-progress", *more]


def write(tmp_path, frame: dict, name="in.parquet"):
    pd.DataFrame(frame).to_parquet(tmp_path / name)


@pytest.mark.cluster
def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tiny_model, tmp_path, capsys):
    write(tmp_path, {"id": [0, 1], "text": TEXTS[:2]})
    out = tmp_path / "out"
    with WriterLock(LocalFiles(), str(out), "--output"):  # a live run holds the output
        assert main(flags(tmp_path, tiny_model, "--output", str(out), "--incremental")) == 3
        assert "being written by another spark_zsc run" in capsys.readouterr().err
        assert not out.exists()
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {"run": "x", "host": os.uname().nodename, "pid": dead.pid, "since": "then"}
    (tmp_path / ".out.spark_zsc_lock").write_text(json.dumps(owner))  # left by a killed run
    assert main(flags(tmp_path, tiny_model, "--output", str(out), "--incremental")) == 0
    assert not os.path.exists(lock_path(str(out)))  # released at the end


def test_two_streams_into_one_table_keep_each_others_files(spark, tiny_model, tmp_path):
    for n in (1, 2):
        folder = tmp_path / f"in{n}"
        folder.mkdir()
        ids = range(10 * n, 10 * n + 3)
        (folder / "a.csv").write_text("id,text\n" + "".join(f"{i},{TEXTS[i % 4]}\n" for i in ids))
    spark.sql("DROP TABLE IF EXISTS two_streams")
    for n in (1, 2):  # each with its own checkpoint: both write batch 0
        args = [
            "classify",
            "--stream",
            "--checkpoint",
            str(tmp_path / f"ck{n}"),
            "--input",
            str(tmp_path / f"in{n}"),
        ]
        args += ["--input-format", "csv", "--text-col", "text", "--labels", LABELS, "--model", tiny_model]
        args += ["--output-table", "two_streams", "--output-format", "parquet", "--no-progress"]
        assert main(args) == 0
    ids = sorted(int(r.id) for r in spark.table("two_streams").collect())
    assert ids == [10, 11, 12, 20, 21, 22]
    spark.sql("DROP TABLE IF EXISTS two_streams")


def test_partition_values_come_back_as_written(spark, tiny_model, tmp_path):
    write(tmp_path, {"id": [0, 1, 2], "text": TEXTS[:3], "shop": ["007", "010", "007"]})
    out = str(tmp_path / "out")
    assert main(flags(tmp_path, tiny_model, "--output", out, "--incremental", "--partition-by", "shop")) == 0
    write(tmp_path, {"id": [0, 1, 2, 3], "text": TEXTS[:4], "shop": ["007", "010", "007", "011"]})
    assert main(flags(tmp_path, tiny_model, "--output", out, "--incremental", "--partition-by", "shop")) == 0
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    try:
        shops = {r.id: r.shop for r in spark.read.parquet(out).collect()}
    finally:
        spark.conf.unset("spark.sql.sources.partitionColumnTypeInference.enabled")
    assert shops == {0: "007", 1: "010", 2: "007", 3: "011"}


def test_incremental_partitioned_into_a_new_table_of_files_is_refused_before_work(
    spark, tiny_model, tmp_path, capsys
):
    write(tmp_path, {"id": [0], "text": TEXTS[:1], "lang": ["en"]})
    args = flags(tmp_path, tiny_model, "--output-table", "zsc_new_partitioned", "--output-format", "parquet")
    assert main([*args, "--incremental", "--partition-by", "lang"]) == 2
    assert "cannot be replaced in one step" in capsys.readouterr().err
    assert not spark.catalog.tableExists("zsc_new_partitioned")


def test_appends_into_a_partitioned_folder_keep_its_partitioning(spark, tiny_model, tmp_path):
    write(tmp_path, {"id": [0, 1], "text": TEXTS[:2], "lang": ["en", "fr"]})
    out = str(tmp_path / "out")
    assert main(flags(tmp_path, tiny_model, "--output", out, "--partition-by", "lang")) == 0
    write(tmp_path, {"id": [0, 1, 2], "text": TEXTS[:3], "lang": ["en", "fr", "en"]})
    for _ in range(2):  # the second run finds id 2 written
        assert main(flags(tmp_path, tiny_model, "--output", out, "--skip-existing")) == 0
        assert sorted(r.id for r in spark.read.parquet(out).collect()) == [0, 1, 2]


def test_skip_existing_refuses_null_ids_and_matches_csv_ids(spark, tiny_model, tmp_path, capsys):
    write(tmp_path, {"id": ["a", None], "text": TEXTS[:2]})
    assert main(flags(tmp_path, tiny_model, "--output", str(tmp_path / "o1"), "--skip-existing")) == 2
    assert "have a null id" in capsys.readouterr().err
    ids = [" spaced ", "plain"]
    write(tmp_path, {"id": ids, "text": ["  padded text  ", TEXTS[1]]})
    out = str(tmp_path / "csv_out")
    for _ in range(3):
        assert (
            main(flags(tmp_path, tiny_model, "--output", out, "--output-format", "csv", "--skip-existing"))
            == 0
        )
    written = spark.read.option("header", True).csv(out).collect()
    assert sorted(r.id for r in written) == sorted(ids)  # once each, spaces kept
    assert {r.text for r in written} == {"  padded text  ", TEXTS[1]}
    stamps = [datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 2, 11, 30)]
    spark.createDataFrame(list(zip(stamps, TEXTS[:2])), "id timestamp, text string").write.parquet(
        str(tmp_path / "stamped.parquet")
    )
    out = str(tmp_path / "csv_stamped")
    for _ in range(2):
        stamped = flags(
            tmp_path, tiny_model, "--output", out, "--output-format", "csv", source="stamped.parquet"
        )
        assert main([*stamped, "--skip-existing"]) == 0
    assert spark.read.option("header", True).csv(out).count() == 2


@pytest.mark.spark
def test_result_columns_matching_input_columns_by_case_are_refused(tiny_model, tmp_path, capsys):
    write(tmp_path, {"id": [0], "text": TEXTS[:1], "ZSC": ["kept"]})
    assert main(flags(tmp_path, tiny_model, "--output", str(tmp_path / "o1"))) == 2
    assert "would replace the input's column 'ZSC'" in capsys.readouterr().err
    write(tmp_path, {"id": [0], "text": TEXTS[:1], "zsc_label": ["kept"]})
    assert main(flags(tmp_path, tiny_model, "--output", str(tmp_path / "o2"), "--output-format", "csv")) == 2
    assert "'zsc_label'" in capsys.readouterr().err


@pytest.mark.cluster
def test_incremental_into_a_table_of_files_on_spark_connect_is_refused_before_work(tiny_model, tmp_path):
    """Spark Connect has no JVM on the client to move a table to a new location: refused
    before any work, the table and its location left as they were."""
    write(tmp_path, {"id": [0, 1], "text": TEXTS[:2]})
    app = tmp_path / "connect_app.py"
    app.write_text(
        "import json, sys\n"
        "from pyspark.sql import SparkSession\n"
        "from spark_zsc.jobs.cli import main\n"
        "spark = SparkSession.builder.remote('local[2]').getOrCreate()\n"
        "spark.sql('CREATE TABLE tickets (id BIGINT, text STRING) USING parquet')\n"
        "spark.sql(\"INSERT INTO tickets VALUES (0, 'old')\")\n"
        "location = spark.sql('DESCRIBE TABLE EXTENDED tickets').where(\"col_name = 'Location'\").head().data_type\n"
        f"args = {flags(tmp_path, tiny_model, '--output-table', 'tickets', '--incremental', '--remote', 'local[2]')!r}\n"
        "status = main(args)\n"
        "after = spark.sql('DESCRIBE TABLE EXTENDED tickets').where(\"col_name = 'Location'\").head().data_type\n"
        "print(json.dumps({'status': status, 'same_location': after == location, 'rows': int(spark.table('tickets').count())}))\n"
    )
    result = run([sys.executable, str(app)], tmp_path, job_env(tmp_path / "cache", connect=True), timeout=400)
    assert result.returncode == 0, result.stdout[-3000:]
    # (Spark Connect 3.5 refuses every classify job, before this check)
    assert (
        "needs classic Spark" if SPARK_4 else "the classify job on Spark Connect needs Spark 4"
    ) in result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"status": 2, "same_location": True, "rows": 1}
