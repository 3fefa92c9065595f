"""A real standalone cluster (Master + two Workers, one core each): the Transformer, the SQL
function and the CLI job run on it with the scores of local mode, the job even with a Worker JVM
killed mid-job."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from spark_zsc import ZeroShotClassifier

from cluster import Cluster
from helpers import LABELS, TEXTS
from processes import cli, input_flags, job_env, kill_group, start

pytestmark = pytest.mark.cluster  # starts Spark or a server in processes of its own


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield running.start(workers=2)
    finally:
        running.stop()


def _local_reference(spark, tiny_model, texts):
    frame = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string")
    out = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS).transform(frame)
    return {r.id: r.zsc for r in out.collect()}


def _assert_equal_to_reference(path, reference):
    frame = pd.read_parquet(path)
    assert sorted(frame["id"]) == sorted(reference)  # every row once
    for row in frame.itertuples():
        expected = reference[row.id]
        if expected is None:
            assert row.zsc is None
        else:
            assert list(row.zsc["labels"]) == expected.labels
            assert max(abs(a - b) for a, b in zip(row.zsc["scores"], expected.scores)) < 1e-6


def _job(tmp_path, tiny_model, master, texts, name):
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_parquet(tmp_path / f"{name}.parquet")
    return cli(
        *input_flags(tmp_path / f"{name}.parquet", ",".join(LABELS)),
        "--model",
        tiny_model,
        "--output",
        str(tmp_path / name),
        "--master",
        master,
        "--conf",
        "spark.sql.shuffle.partitions=4",
        "--conf",
        "spark.default.parallelism=4",
        "--conf",
        "spark.ui.enabled=false",
    )


def test_classifier_and_sql_function_on_a_standalone_cluster(spark, tiny_model, cluster, tmp_path):
    from test_connect import APP_TEXTS, run_classify_app

    remote = run_classify_app(spark, tiny_model, tmp_path, f"master:{cluster.master_url}")
    assert remote["metrics"]["rows"] == len(APP_TEXTS) and 1 <= remote["metrics"]["model_loads"] <= 2


def test_a_worker_killed_mid_job_the_job_completes_with_identical_output(
    spark, tiny_model, cluster, tmp_path
):
    """The CLI on the cluster gives local mode's results, null and empty texts too, even with a
    Worker killed mid-job."""
    texts = [f"{t} (row {i})" for i in range(150) for t in TEXTS]  # long enough to be killed in the middle
    texts += [None, ""]
    process = start(
        _job(tmp_path, tiny_model, cluster.master_url, texts, "out"),
        tmp_path,
        job_env(tmp_path / "cache"),
        tmp_path / "job.log",
    )
    try:
        attempts = tmp_path / "out" / "_temporary" / "0" / "_temporary"
        deadline = time.monotonic() + 300
        while not (attempts.exists() and any(attempts.iterdir())) and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "job.log").read_text()[-5000:]
            time.sleep(0.1)
        assert process.poll() is None, "the job ended before a worker could be killed"
        cluster.kill_worker(0)
        process.wait(timeout=400)
    finally:
        if process.poll() is None:
            kill_group(process)
    log = (tmp_path / "job.log").read_text()
    assert process.returncode == 0, log[-5000:]
    _assert_equal_to_reference(tmp_path / "out", _local_reference(spark, tiny_model, texts))
    assert "model loads" in log
