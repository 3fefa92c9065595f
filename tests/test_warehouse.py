"""Enrichment a warehouse can trust: lineage on every row, incremental reruns that relabel
exactly what changed, the tables' own formats, reader and writer options."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from datetime import datetime, timezone

import pytest
from pyspark.sql import functions as F

import spark_zsc
from spark_zsc import ZeroShotClassifier, register_sql_function
from spark_zsc.jobs.cli import main
from spark_zsc.runtime.model_source import load_bundle
from spark_zsc.sinks.files import exchange

from helpers import LABELS, SPARK_4, TEXTS, needs_sql_functions
from processes import REPO, cli, job_env, kill_group, run, start
from warehouse import ROWS, classify_args, job, rows_by_id, write_csv

# -- lineage ----------------------------------------------------------------------------------


def test_lineage_fields_on_the_transformer(spark, tiny_model):
    before = datetime.now(timezone.utc)
    frame = spark.createDataFrame(
        [(1, TEXTS[0]), (2, None), (3, " \t "), (4, TEXTS[1])], "id int, text string"
    )
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        lineageCol="meta",
        hypothesisTemplate="About {}.",
    )
    rows = {r.id: r for r in clf.transform(frame).collect()}
    meta = rows[1].meta
    assert meta.model == tiny_model and meta.model_sha256 == load_bundle(tiny_model).fingerprint
    assert meta.model_revision is None  # a local folder, not a hub snapshot
    assert (meta.strategy, meta.embedding_model, meta.shortlist) == ("nli", None, None)
    assert (list(meta.labels), meta.template, meta.multi_label) == (LABELS, "About {}.", False)
    assert meta.text_sha256 == hashlib.sha256(TEXTS[0].encode()).hexdigest()
    assert meta.version == spark_zsc.__version__
    assert before <= meta.classified_at.astimezone(timezone.utc) <= datetime.now(timezone.utc)
    assert [rows[i].meta.status for i in (1, 2, 3, 4)] == [
        "classified",
        "null_text",
        "blank_text",
        "classified",
    ]
    assert rows[2].meta.text_sha256 is None and len({rows[i].meta.config_sha256 for i in rows}) == 1
    assert meta.config_sha256 == clf.lineage(frame).config_sha256


def test_config_hash_changes_with_what_changes_a_label_and_only_that(spark, tiny_model, tiny_encoder):
    frame = spark.createDataFrame([("x",)], "text string")
    base = dict(model=tiny_model, inputCol="text", candidateLabels=LABELS)

    def config(**changes):
        return ZeroShotClassifier(**{**base, **changes}).lineage(frame).config_sha256

    same = [
        dict(tokenBudget=123),
        dict(batchRows=7),
        dict(pairBudget=7),
        dict(threads=1),
        dict(device="cpu"),
        dict(distribution="broadcast"),
        dict(outputCol="other"),
        dict(temperature=0.5),
    ]
    assert {config(**c) for c in same} == {config()}
    changed = [
        dict(candidateLabels=LABELS[:3]),
        dict(hypothesisTemplate="About {}."),
        dict(multiLabel=True),
        dict(maxLength=32),
        dict(precision="int8"),
        dict(backend="torch"),  # auto runs onnx here
        dict(strategy="embedding", embeddingModel=tiny_encoder),
        dict(shortlist=2, embeddingModel=tiny_encoder),
    ]
    hashes = [config(**c) for c in changed]
    assert len(set(hashes)) == len(changed) and config() not in hashes
    # under the embedding strategy its temperature does change labels
    embedding = dict(strategy="embedding", embeddingModel=tiny_encoder)
    assert config(**embedding) != config(**embedding, temperature=0.5)


def test_a_hub_snapshot_folder_gives_its_revision(spark, tiny_model, tmp_path):
    import shutil

    snapshot = tmp_path / "models--org--nli" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model, snapshot)
    frame = spark.createDataFrame([("x",)], "text string")
    clf = ZeroShotClassifier(model=str(snapshot), inputCol="text", candidateLabels=LABELS, lineageCol="meta")
    assert clf.lineage(frame).fields["model_revision"] == "0123abcd"


@needs_sql_functions
def test_sql_lineage_function_classifies_each_row_once(spark, tiny_model):
    function = register_sql_function(spark, "zs_lin", model=tiny_model, lineage=True)
    spark.createDataFrame(
        [(i, t) for i, t in enumerate(TEXTS[:4] + [None])], "id int, text string"
    ).createOrReplaceTempView("lineage_texts")
    labels = ", ".join(f"'{l}'" for l in LABELS)
    rows = spark.sql(
        f"SELECT id, zs_lin(text, array({labels})) AS z, zs_lin_meta(text, array({labels})) AS m "
        "FROM lineage_texts"
    ).collect()
    by_id = {r.id: r for r in rows}
    assert by_id[0].m.status == "classified" and by_id[4].m.status == "null_text" and by_id[4].z is None
    assert (
        list(by_id[0].m.labels) == LABELS and by_id[0].m.model_sha256 == load_bundle(tiny_model).fingerprint
    )
    reference = ZeroShotClassifier(model=tiny_model, inputCol="text", labelsCol="l", lineageCol="meta")
    assert (
        by_id[0].m.config_sha256
        == reference.lineage(
            spark.createDataFrame([("x", ["a"])], "text string, l array<string>")
        ).config_sha256
    )
    assert function.metrics()["rows"] == len(rows)  # the result and its lineage share one UDF call


# -- the job: lineage, incremental runs, formats ----------------------------------------------


def test_incremental_relabels_exactly_what_changed(spark, tiny_model, tmp_path):
    write_csv(tmp_path / "in.csv", ROWS)
    first = job(tmp_path, tiny_model, "--incremental")
    assert first["rows_written"] == len(ROWS)
    before = rows_by_id(spark, tmp_path / "out")
    assert all(
        r.zsc_meta.text_sha256 == (hashlib.sha256(t.encode()).hexdigest() if t is not None else None)
        for (i, t), r in zip(ROWS, (before[str(i)] for i, _ in ROWS))
        if t
    )
    assert (tmp_path / "out" / "_spark_zsc_run.json").is_file()
    record = json.loads((tmp_path / "out" / "_spark_zsc_run.json").read_text())
    assert record["config_sha256"] == before["0"].zsc_meta.config_sha256 and record["summary"][
        "rows_read"
    ] == len(ROWS)
    assert record["engine"] == {"backend": "onnx", "precision": "fp32"}  # what auto ran: named

    # edit two texts, add two rows, delete two rows
    edited = {1: "The stock market fell sharply today.", 4: "Our invoice was charged twice."}
    current = [(i, edited.get(i, t)) for i, t in ROWS if i not in (2, 3)] + [
        (100, "A storm cut the power."),
        (101, "Add a dark mode, please."),
    ]
    write_csv(tmp_path / "in.csv", current)
    second = job(tmp_path, tiny_model, "--incremental")
    after = rows_by_id(spark, tmp_path / "out")
    assert second["rows_written"] == 4 and second["rows_already_written"] == len(current) - 4
    assert sorted(after) == sorted(
        {str(i) for i, _ in current} | {"2", "3"}
    )  # one row per id, deleted ids kept
    untouched = [str(i) for i, _ in current if i not in edited and i < 100]
    assert all(after[k] == before[k] for k in untouched)  # byte for byte, classified_at too
    # the relabelled rows equal a full run on the current input
    job(tmp_path, tiny_model, "--mode", "overwrite", output="full")
    full = rows_by_id(spark, tmp_path / "full")
    for key in ("1", "4", "100", "101"):
        assert after[key].zsc.label == full[key].zsc.label
        assert max(abs(a - b) for a, b in zip(after[key].zsc.scores, full[key].zsc.scores)) < 1e-6
        assert after[key].zsc_meta.config_sha256 == full[key].zsc_meta.config_sha256
    assert after["1"].zsc_meta.text_sha256 == hashlib.sha256(edited[1].encode()).hexdigest()

    third = job(tmp_path, tiny_model, "--incremental", "--drop-missing")
    assert third["rows_written"] == 0 and sorted(rows_by_id(spark, tmp_path / "out")) == sorted(
        str(i) for i, _ in current
    )
    relabelled = job(tmp_path, tiny_model, "--incremental", labels=LABELS[:3])
    assert relabelled["rows_written"] == len(current)  # new labels: every row again
    assert {list(r.zsc_meta.labels) == LABELS[:3] for r in rows_by_id(spark, tmp_path / "out").values()} == {
        True
    }


def test_incremental_on_a_partitioned_output(spark, tiny_model, tmp_path):
    write_csv(tmp_path / "in.csv", ROWS)
    job(tmp_path, tiny_model, "--incremental", "--partition-by", "lang")
    write_csv(tmp_path / "in.csv", ROWS + [(50, "A new ticket about billing.")])
    summary = job(tmp_path, tiny_model, "--incremental", "--partition-by", "lang")
    assert summary["rows_written"] == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["lang=en", "lang=fr"]
    assert sorted(rows_by_id(spark, tmp_path / "out")) == sorted(str(i) for i, _ in ROWS + [(50, "")])


def test_incremental_refusals_before_any_work(tiny_model, tmp_path, capsys):
    write_csv(tmp_path / "in.csv", ROWS[:2])
    base = classify_args(tmp_path, tiny_model, labels=["a", "b"])
    cases = [
        (["--incremental"], "--incremental needs --id-col"),
        (["--incremental", "--id-col", "id", "--skip-existing"], "no --skip-existing"),
        (["--incremental", "--id-col", "id", "--no-lineage"], "drop --no-lineage"),
        (["--incremental", "--id-col", "id", "--output-format", "csv"], "not csv"),
        (["--drop-missing", "--id-col", "id"], "--drop-missing goes with --incremental"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err


def test_repeated_ids_are_refused_by_an_incremental_run(spark, tiny_model, tmp_path, capsys):
    write_csv(tmp_path / "in.csv", ROWS[:2] + [(0, "a repeated id")])
    assert (
        main(classify_args(tmp_path, tiny_model, "--id-col", "id", "--incremental", labels=["a", "b"])) == 2
    )
    assert "repeated or null value(s)" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_reader_options_corrupt_records_and_unknown_formats(spark, tiny_model, tmp_path, capsys):
    accented = [(0, "Café crème à Zürich; très bien"), (1, "Naïve façade, déjà vu"), (2, "plain text")]
    write_csv(tmp_path / "in.csv", accented, sep=";", encoding="latin-1")
    summary = job(tmp_path, tiny_model, "--input-option", "sep=;", "--input-option", "encoding=iso-8859-1")
    assert summary["rows_read"] == 3 and summary["classified"] == 3
    texts = {str(r.id): r.text for r in spark.read.parquet(str(tmp_path / "out")).collect()}
    assert texts == {str(i): t for i, t in accented}  # split on ';' (quoted ones kept), accents decoded
    # JSON with one line the reader cannot parse: counted apart, status corrupt_record, the raw line kept
    lines = [json.dumps({"id": i, "text": t}) for i, t in ROWS[:3]] + ['{"id": 9, "text": broken']
    (tmp_path / "in.json").write_text("\n".join(lines) + "\n")
    summary_file = tmp_path / "json_summary.json"
    json_args = classify_args(tmp_path, tiny_model, source="in.json", input_format="json", output="from_json")
    assert main([*json_args, "--summary-json", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["corrupt_records"] == 1 and summary["skipped_by_reason"] == {"corrupt_record": 1}
    out = spark.read.parquet(str(tmp_path / "from_json"))
    [bad] = out.where(F.col("_corrupt_record").isNotNull()).collect()
    assert bad.zsc is None and bad.zsc_meta.status == "corrupt_record"
    # an option the reader refuses, and a data source Spark does not have: Spark's own words, before any work
    bad_charset = ["--input-option", "encoding=no-such-charset"]
    assert main(classify_args(tmp_path, tiny_model, *bad_charset, labels=["a", "b"], output="nowhere")) == 2
    refusal = "INVALID_PARAMETER_VALUE.CHARSET" if SPARK_4 else "UnsupportedCharsetException: no-such-charset"
    assert refusal in capsys.readouterr().err
    unknown_sink = ["--output-format", "no-such-format"]
    assert main([*json_args[:-2], "--output", str(tmp_path / "nowhere"), *unknown_sink]) == 2
    assert "[DATA_SOURCE_NOT_FOUND]" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def test_no_lineage_and_the_run_record_is_ignored_by_readers(spark, tiny_model, tmp_path):
    write_csv(tmp_path / "in.csv", ROWS[:3])
    secret = ["--conf", "spark.hadoop.fs.s3a.secret.key=hunter2", "--conf", "spark.sql.shuffle.partitions=3"]
    job(tmp_path, tiny_model, "--no-lineage", "--output-format", "json", *secret)
    out = spark.read.json(str(tmp_path / "out"))
    assert "zsc_meta" not in out.columns and out.count() == 3
    record = (tmp_path / "out" / "_spark_zsc_run.json").read_text()
    assert json.loads(record)["options"]["no_lineage"] is True
    assert (
        "hunter2" not in record
        and json.loads(record)["options"]["conf"]["spark.sql.shuffle.partitions"] == "3"
    )


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "1").write_text("a")
    (tmp_path / "b" / "2").write_text("b")
    assert exchange(str(tmp_path / "a"), str(tmp_path / "b"))
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["2"] and [
        p.name for p in (tmp_path / "b").iterdir()
    ] == ["1"]


# -- real subprocesses: metastore tables and a killed run --------------------------------------


@pytest.mark.cluster
def test_tables_keep_their_format_through_appends_and_incremental_runs(tiny_model, tmp_path):
    env = job_env(tmp_path / "cache")
    result = run(
        [
            env["PYSPARK_PYTHON"],
            str(REPO / "tests" / "apps" / "warehouse_app.py"),
            tiny_model,
            str(tmp_path / "report.json"),
        ],
        tmp_path,
        env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    report = json.loads((tmp_path / "report.json").read_text())
    for table in ("orc_table", "json_table", "parquet_table"):
        runs = report[table]
        assert runs["providers"] == [runs["format"]] * len(
            runs["providers"]
        )  # created, appended, incremental
        assert runs["ids_once"] and runs["rows"] == runs["expected_rows"]
        assert runs["relabelled"] == runs["expected_relabelled"] and runs["run_property"]
    assert report["partitioned_table"] == {
        "partitions": ["bucket"],
        "ids_once": True,
        "incremental_refused": True,
    }


@pytest.mark.cluster
def test_a_killed_incremental_run_leaves_the_old_output_whole(spark, tiny_model, tmp_path):
    """The killed run is a process of its own (its JVM and workers SIGKILLed); the runs before and
    after it run here."""
    write_csv(tmp_path / "in.csv", ROWS)
    job(tmp_path, tiny_model, "--incremental")
    before = rows_by_id(spark, tmp_path / "out")
    write_csv(tmp_path / "in.csv", ROWS + [(200 + i, f"Ticket {i}: my invoice is wrong.") for i in range(40)])
    relabelled = ("--labels", ",".join(reversed(LABELS)))
    killed = classify_args(tmp_path, tiny_model, "--id-col", "id", "--incremental", "--master", "local[2]")
    process = start(
        cli(*killed[1:], *relabelled), tmp_path, job_env(tmp_path / "cache"), tmp_path / "killed.log"
    )
    try:
        deadline = time.monotonic() + 240
        hidden = []
        while not hidden and process.poll() is None and time.monotonic() < deadline:
            hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".out.spark_zsc-")]
            time.sleep(0.02)
        killed_mid_write = process.poll() is None and bool(hidden)
    finally:
        kill_group(process)
    assert killed_mid_write, (tmp_path / "killed.log").read_text()
    assert rows_by_id(spark, tmp_path / "out") == before  # the old version, whole and readable
    job(tmp_path, tiny_model, "--incremental", *relabelled)
    after = rows_by_id(spark, tmp_path / "out")
    assert len(after) == len(ROWS) + 40 and not [p for p in tmp_path.iterdir() if ".spark_zsc-" in p.name]


def test_incremental_with_labels_per_row_relabels_rows_whose_labels_changed(spark, tiny_model, tmp_path):
    def write(labels_of):
        with open(tmp_path / "in.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text", "labels"])
            writer.writerows((i, text, labels_of(i)) for i, text in enumerate(TEXTS[:4]))

    write(lambda i: "finance,sports")
    per_row = ["--labels-col", "labels", "--incremental"]
    args = classify_args(tmp_path, tiny_model, "--id-col", "id", *per_row)
    args.remove("--labels")
    args.remove(",".join(LABELS))
    assert main(args) == 0
    before = rows_by_id(spark, tmp_path / "out")
    write(lambda i: "billing,outage" if i == 2 else "finance,sports")
    summary = tmp_path / "summary.json"
    assert main([*args, "--summary-json", str(summary)]) == 0
    after = rows_by_id(spark, tmp_path / "out")
    assert json.loads(summary.read_text())["rows_written"] == 1
    assert sorted(after["2"].zsc.labels) == ["billing", "outage"] and after["2"].zsc_meta.labels is None
    assert all(after[k] == before[k] for k in ("0", "1", "3"))
