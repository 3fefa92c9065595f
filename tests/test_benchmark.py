"""The benchmark harness runs end to end on a tiny model (timings are never asserted)."""

from __future__ import annotations

import json
import sys

import pytest

from processes import REPO, job_env, run


@pytest.mark.cluster
def test_benchmark_harness_smoke(tmp_path):
    result = run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--smoke",
            "--out",
            str(tmp_path),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        tmp_path,
        job_env(tmp_path / "cache"),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    spark_zsc = results["spark"]["spark_zsc"]
    assert 1 <= spark_zsc["model_loads"] <= 2  # two Python workers, four partitions, two actions
    assert spark_zsc["broadcast_bytes"] >= spark_zsc["weight_bytes"]
    for contender in ("hf_pipeline_bs1", "hf_pipeline_bs8", "ideal_loop", "engine"):
        assert results["in_process"][contender]["pairs_per_second"] > 0
    table = (tmp_path / "smoke.md").read_text()
    assert "| spark_zsc on Spark, second action |" in table and "vs Databricks recipe" in table


@pytest.mark.slow
def test_shortlist_benchmark_smoke(tmp_path):
    result = run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "shortlist.py"),
            "--smoke",
            "--out",
            str(tmp_path),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        tmp_path,
        job_env(tmp_path / "cache"),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    runs = json.loads((tmp_path / "shortlist-smoke.json").read_text())["runs"]
    assert [(r["labels"], r["nli_pairs_full"], r["nli_pairs_cascade"]) for r in runs] == [
        (4, 12, 6),
        (20, 60, 15),
    ]
    assert "| labels | shortlist k |" in (tmp_path / "shortlist-smoke.md").read_text()


@pytest.mark.slow
def test_many_labels_benchmark_dry_run(tmp_path):
    result = run(
        [sys.executable, str(REPO / "benchmarks" / "many_labels.py"), "--dry-run", "--out", str(tmp_path)],
        tmp_path,
        job_env(tmp_path / "cache"),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert "| 20 | 400 | pairBudget 200,000 (default) | 1 | 400 |" in result.stdout
    assert not list(tmp_path.glob("many_labels.*"))  # a dry run writes no results
