"""The stream command (`classify --stream`): Structured Streaming with Spark's checkpoint. Files added between runs
are each classified once; a run SIGKILLed mid-batch is completed by the next with nothing lost
or doubled; bad options fail before work; the Transformer works on streaming DataFrames."""

from __future__ import annotations

import json
import time

import pytest

from spark_zsc import ZeroShotClassifier
from spark_zsc.jobs.cli import main

from processes import REPO, cli, job_env, kill_group, run, start

LABELS = "finance,sports,billing"
TOPICS = ["The bank cut interest rates", "Our team won the final", "My invoice shows a double charge"]


def _add_file(folder, name: str, first_id: int, rows: int) -> list[str]:
    """A CSV file of `rows` tickets with ids from `first_id`; returns the ids."""
    folder.mkdir(exist_ok=True)
    ids = [str(first_id + i) for i in range(rows)]
    lines = ["id,text"] + [f"{i},{TOPICS[int(i) % 3]} ({i})" for i in ids]
    (folder / name).write_text("\n".join(lines) + "\n")
    return ids


def _stream_args(tmp_path, tiny_model, *more: str) -> list[str]:
    return [
        "classify",
        "--stream",
        "--checkpoint",
        str(tmp_path / "checkpoint"),
        "--input",
        str(tmp_path / "in"),
        "--input-format",
        "csv",
        "--input-option",
        "maxFilesPerTrigger=1",  # a micro-batch per file
        "--text-col",
        "text",
        "--labels",
        LABELS,
        "--model",
        tiny_model,
        "--no-progress",
        *more,
    ]


def test_files_added_between_runs_are_each_classified_once(spark, tiny_model, tmp_path):
    ids = [i for n in range(4) for i in _add_file(tmp_path / "in", f"{n}.csv", 100 * n, 2 + n % 2)]
    summary_path = tmp_path / "summary.json"
    args = _stream_args(
        tmp_path, tiny_model, "--output", str(tmp_path / "out"), "--summary-json", str(summary_path)
    )
    assert main(args) == 0
    first = json.loads(summary_path.read_text())
    assert (first["batches"], first["rows_written"], first["classified"]) == (4, 10, 10)
    # at most one load per Python worker (local[2]: two) over four batches; none where the
    # session's workers hold the model from earlier work
    assert first["model_loads"] <= 2

    ids += _add_file(tmp_path / "in", "later.csv", 900, 3)
    assert main(args) == 0
    second = json.loads(summary_path.read_text())
    assert (second["batches"], second["rows_written"]) == (1, 3)  # only what arrived

    written = spark.read.parquet(str(tmp_path / "out")).collect()
    assert sorted(r.id for r in written) == sorted(ids)  # every row exactly once
    assert all(r.zsc.label in LABELS.split(",") for r in written)
    assert {r.zsc_meta.status for r in written} == {"classified"}

    record = json.loads(
        (tmp_path / "out" / "_spark_zsc_run.json").read_text()
    )  # beside the data, as batch runs
    assert record["summary"]["rows_written"] == 3 and record["options"]["stream"] is True

    assert main(args) == 0  # nothing new: nothing written
    assert json.loads(summary_path.read_text())["rows_written"] == 0
    assert spark.read.parquet(str(tmp_path / "out")).count() == len(ids)


@pytest.mark.cluster
def test_a_stream_killed_mid_batch_is_completed_by_the_next_run(tiny_model, tmp_path_factory, tmp_path):
    """A real job with its own JVM, streaming into a metastore table, SIGKILLed once the second
    micro-batch has begun writing; the rerun finishes, and every id is in the table once."""
    ids = []
    for n in range(4):
        ids += _add_file(tmp_path / "in", f"{n}.csv", 1000 * n, 30)
    flags = _stream_args(tmp_path, tiny_model, "--output-table", "enriched", "--batch-rows", "4")[1:]
    flags += ["--conf", f"spark.sql.warehouse.dir={tmp_path / 'warehouse'}", "--master", "local[2]"]
    env = job_env(tmp_path_factory.getbasetemp() / "job_node_cache")
    staging = tmp_path / "warehouse" / "enriched" / "_spark_zsc_staging"  # <query id>-<batch id>

    def second_batch_staged() -> bool:
        return staging.exists() and any(p.name.endswith("-1") for p in staging.iterdir())

    process = start(cli(*flags), tmp_path, env, tmp_path / "killed.log")
    try:
        deadline = time.monotonic() + 240
        while not second_batch_staged() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second_batch_staged(), (tmp_path / "killed.log").read_text()[-3000:]
    finally:
        kill_group(process)
    assert process.returncode == -9  # killed, not finished

    app = [env["PYSPARK_PYTHON"], str(REPO / "tests" / "apps" / "run_then_list_app.py")]
    listed = tmp_path / "ids.json"
    rerun = [*app, str(tmp_path / "warehouse"), "enriched", str(listed), "classify", *flags]
    done = run([*rerun, "--summary-json", str(tmp_path / "summary.json")], tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert json.loads(listed.read_text()) == sorted(ids)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--checkpoint", None], "--stream needs --checkpoint DIR"),
        (["--incremental", "--id-col", "id"], "drop --incremental"),
        (["--mode", "overwrite"], "drop --mode overwrite"),
        (["--trigger-interval", "soon"], "must be a duration"),
        (["--output-format", "jdbc"], "this stream cannot start"),
    ],
)
def test_bad_stream_options_fail_before_work(spark, tiny_model, tmp_path, capsys, extra, message):
    _add_file(tmp_path / "in", "a.csv", 0, 3)
    args = _stream_args(tmp_path, tiny_model, "--output", str(tmp_path / "out"))
    if extra[-1] is None:  # drop an option
        at = args.index(extra[0])
        del args[at : at + 2]
    else:
        args += extra
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_stream_command_is_classify_stream_without_the_flags_a_stream_cannot_use(
    spark, tiny_model, tmp_path, capsys
):
    ids = _add_file(tmp_path / "in", "a.csv", 0, 3)
    args = ["stream", *_stream_args(tmp_path, tiny_model, "--output", str(tmp_path / "out"))[2:]]
    summary_path = tmp_path / "summary.json"
    assert main([*args, "--summary-json", str(summary_path)]) == 0
    assert json.loads(summary_path.read_text())["rows_written"] == len(ids)
    assert sorted(r.id for r in spark.read.parquet(str(tmp_path / "out")).collect()) == sorted(ids)
    record = json.loads((tmp_path / "out" / "_spark_zsc_run.json").read_text())
    assert record["options"]["stream"] is True  # recorded as classify --stream records it
    with pytest.raises(SystemExit) as refused:  # argparse: the stream command has no such flag
        main([*args, "--incremental"])
    assert refused.value.code == 2 and "unrecognized arguments: --incremental" in capsys.readouterr().err


def test_checkpoint_without_stream_is_refused(tiny_model, tmp_path, capsys):
    args = ["classify", "--input", str(tmp_path), "--text-col", "text", "--labels", LABELS]
    args += ["--output", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "ck"), "--model", tiny_model]
    assert main(args) == 2
    assert "--checkpoint goes with --stream" in capsys.readouterr().err


def test_the_transformer_classifies_a_streaming_dataframe_as_a_batch_one(spark, tiny_model, tmp_path):
    _add_file(tmp_path / "in", "a.csv", 0, 6)
    schema = "id string, text string"
    stream = spark.readStream.schema(schema).option("header", True).csv(str(tmp_path / "in"))
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS.split(","))
    # dedupe="input" on a stream: shuffled by text, not sorted (Spark sorts no stream)
    query = (
        clf.copy({clf.dedupe: "input"})
        .transform(stream)
        .writeStream.format("memory")
        .queryName("zsc_streamed")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    streamed = {r.id: r.zsc for r in spark.table("zsc_streamed").collect()}
    batch = spark.read.schema(schema).option("header", True).csv(str(tmp_path / "in"))
    expected = {r.id: r.zsc for r in clf.transform(batch).collect()}
    assert sorted(streamed) == sorted(expected) and len(streamed) == 6
    for key, result in streamed.items():  # other batch-mates, other float rounding: equal to 1e-6
        assert result.labels == expected[key].labels
        assert result.scores == pytest.approx(expected[key].scores, abs=1e-6)
    spark.catalog.dropTempView("zsc_streamed")


def test_a_table_a_stream_cannot_write_exactly_once_is_refused_before_work(
    spark, tiny_model, tmp_path, capsys
):
    _add_file(tmp_path / "in", "a.csv", 0, 3)
    spark.sql("CREATE TABLE stream_refused_csv (id string) USING csv")
    try:
        args = _stream_args(tmp_path, tiny_model, "--output-table", "stream_refused_csv")
        assert main(args) == 2
        assert "is written as csv, which a stream cannot write exactly once" in capsys.readouterr().err
        assert spark.table("stream_refused_csv").count() == 0
        assert not (tmp_path / "checkpoint" / "commits").exists()  # no batch ran
    finally:
        spark.sql("DROP TABLE IF EXISTS stream_refused_csv")
