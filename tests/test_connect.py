"""Spark Connect: no SparkContext, so the weights travel as artifacts. A real local Connect
server runs in a subprocess; its scores must equal classic Spark's."""

from __future__ import annotations

import json
import sys

import pytest

from spark_zsc import ZeroShotClassifier

from helpers import LABELS, SPARK_4, TEXTS
from processes import REPO, input_flags, job_env, run

pytestmark = pytest.mark.cluster  # starts Spark or a server in processes of its own

APP_TEXTS = TEXTS + [None, "  ", "<s>old</s> new"]


def run_classify_app(spark, tiny_model, tmp_path, where: str) -> dict:
    """Run tests/apps/classify_app.py on the session `where` names; check its classifier and
    SQL results against this (classic, local) session's, and return its report."""
    (tmp_path / "texts.json").write_text(json.dumps(APP_TEXTS))
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    result = run(
        [
            sys.executable,
            str(REPO / "tests" / "apps" / "classify_app.py"),
            tiny_model,
            str(tmp_path / "out.json"),
            str(tmp_path / "texts.json"),
            str(tmp_path / "labels.json"),
            where,
        ],
        tmp_path,
        job_env(tmp_path / "cache", connect=where.startswith("remote:")),
        timeout=400,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    remote = json.loads((tmp_path / "out.json").read_text())
    local = {
        str(r.id): r.zsc
        for r in ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
        .transform(spark.createDataFrame(list(enumerate(APP_TEXTS)), "id long, text string"))
        .collect()
    }
    for source in ("classifier", "classifier_dedupe_input", "sql"):
        assert remote[source].keys() == local.keys()
        for key, expected in local.items():
            got = remote[source][key]
            if expected is None:
                assert got is None
            else:
                assert got["labels"] == expected.labels
                assert max(abs(a - b) for a, b in zip(got["scores"], expected.scores)) < 1e-6
    return remote


def test_classifier_and_sql_function_on_spark_connect(spark, tiny_model, tmp_path):
    remote = run_classify_app(spark, tiny_model, tmp_path, "remote:local[2]")
    assert "Spark Connect does not have" in remote["metrics_message"]
    assert "DistilledClassifier needs classic Spark" in remote["distill_refusal"]


def test_cli_on_spark_connect(spark, tiny_model, tmp_path):
    import pandas as pd

    texts = TEXTS + [None]
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(tmp_path / "in.parquet")
    flags = [
        "classify",
        *input_flags(tmp_path / "in.parquet", ",".join(LABELS)),
        "--model",
        tiny_model,
        "--output",
        str(tmp_path / "out"),
        "--remote",
        "local[2]",
        "--skip-existing",
    ]
    app = [sys.executable, str(REPO / "tests" / "apps" / "connect_cli_app.py"), *flags]
    result = run(app, tmp_path, job_env(tmp_path / "cache", connect=True), timeout=400)
    assert result.returncode == 0, result.stdout[-5000:]
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    if not SPARK_4:  # Spark Connect 3.5 has no Observation: refused before any work
        assert statuses == [2], result.stdout[-5000:]
        assert "the classify job on Spark Connect needs Spark 4" in result.stdout
        assert not (tmp_path / "out").exists()
        return
    # the same job again adds nothing: ids already written are skipped on Connect too
    assert statuses == [0, 0], result.stdout[-5000:]
    assert "n/a (Spark Connect has no accumulators)" in result.stdout
    frame = pd.read_parquet(tmp_path / "out")
    classic = {
        r.id: r.zsc
        for r in ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
        .transform(spark.createDataFrame(list(enumerate(texts)), "id long, text string"))
        .collect()
    }
    assert sorted(frame["id"]) == sorted(classic) and len(frame) == len(texts)
    for row in frame.itertuples():
        if classic[row.id] is None:
            assert row.zsc is None
        else:
            assert list(row.zsc["labels"]) == classic[row.id].labels
