"""Python workers under a real memory cap, as Databricks serverless caps a UDF at 1 GB: Spark's
Python workers run inside a Linux memory cgroup (the JVM and the driver outside it)."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import pytest

from spark_zsc.testing import (
    DISTILBART_MNLI_12_1_SHAPE,
    DISTILBART_VOCABULARY,
    MemoryCgroup,
    NoMemoryCgroup,
    build_random_nli_model,
)

from processes import REPO, input_flags, job_env, run

pytestmark = [pytest.mark.cluster, pytest.mark.any_line]  # Spark apps of their own, whatever the line

APP = REPO / "tests" / "apps" / "capped_workers_app.py"
SAMPLE = REPO / "tests" / "data" / "ag_news_sample.csv"


def _ag_news_texts(count: int) -> list[str]:
    with open(SAMPLE, newline="", encoding="utf-8") as handle:
        return [f"{title}. {body}" for _, title, body in list(csv.reader(handle))[:count]]


@pytest.fixture
def memory_cap(request, tmp_path):
    """A memory cgroup of `request.param` MB and a Python that runs inside it: (cgroup, path)."""
    try:
        cgroup = MemoryCgroup(f"spark_zsc_test_{os.getpid()}_{time.monotonic_ns()}", request.param)
    except NoMemoryCgroup as error:
        message = f"the memory cap tests need a memory cgroup: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI's machine can make one: without it these tests prove nothing
        pytest.skip(message)
    python = tmp_path / "python-in-cgroup"
    python.write_text(f'#!/bin/sh\necho $$ > {cgroup.procs}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    try:
        yield cgroup, python
    finally:
        for _ in range(50):  # the daemon and its workers exit with the app's JVM
            try:
                cgroup.remove()
                break
            except OSError:
                time.sleep(0.2)


def _app(tmp_path: Path, python: Path, *args: str, timeout: float = 500):
    env = job_env(tmp_path / "cache")
    env.update(PYTHON_IN_CGROUP=str(python), TEXTS=str(tmp_path / "texts.txt"))
    (tmp_path / "texts.txt").write_text("\n".join(_ag_news_texts(200)) + "\n", encoding="utf-8")
    return run([sys.executable, str(APP), *args], tmp_path, env, timeout=timeout)


@pytest.mark.parametrize("memory_cap", [1024], indirect=True)
def test_distilbart_in_int8_classifies_every_row_with_each_python_worker_under_1_gb(memory_cap, tmp_path):
    """The default model's shape and weight size (random weights, its 50,265-token embedding
    matrix: 890 MB in fp32), converted on the driver, received by broadcast, classified by a
    worker that never holds more than 1 GB (torch's int8 worker is killed under the same cap:
    `python benchmarks/worker_memory.py --cap-mb 1024`)."""
    cgroup, python = memory_cap
    model = build_random_nli_model(
        tmp_path / "distilbart-shape",
        _ag_news_texts(400),
        vocab_size=5000,
        shape=DISTILBART_MNLI_12_1_SHAPE,
        model_max_length=1024,
        init_std=0.02,
        embedding_rows=DISTILBART_VOCABULARY,
    )
    rows = 96
    result = _app(tmp_path, python, "transform", str(model), str(rows), str(tmp_path / "result.json"),
                  "backend=onnx", "precision=int8")  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    assert json.loads((tmp_path / "result.json").read_text()) == {
        "rows": rows,
        "classified": rows,
        "ids": rows,
    }
    # the worker ran inside the cgroup: it was charged for the model it loaded
    assert 200 < cgroup.peak_mb() <= 1024


@pytest.mark.parametrize("memory_cap", [400], indirect=True)
def test_a_job_whose_python_worker_is_killed_for_memory_ends_naming_the_setting_that_fits(
    memory_cap, tmp_path, tiny_model
):
    """torch alone takes more than the 400 MB the workers are given here: the kernel kills the
    worker, and the job ends by naming the backend that fits."""
    _, python = memory_cap
    source = tmp_path / "input.csv"
    source.write_text("id,text\n1,The site is down\n2,The invoice was wrong\n")
    result = _app(
        tmp_path, python, "job", "classify", *input_flags(source, "billing,outage"), "--model", tiny_model,
        "--input-format", "csv", "--output", str(tmp_path / "out"), "--backend", "torch",
    )  # fmt: skip
    assert result.returncode == 4, result.stdout[-4000:]
    last_line = result.stdout.strip().splitlines()[-1]
    assert (
        last_line.startswith("spark-zsc: out of memory:") and "--backend onnx --precision int8" in last_line
    )
    assert not [path for path in (tmp_path / "out").rglob("*") if path.is_file()]  # nothing written
