"""The benchmark harness runs end to end on a tiny model (timings are never asserted)."""

from __future__ import annotations

import json
import sys

import pytest

from processes import REPO, job_env, run

pytestmark = pytest.mark.any_line  # the benchmark harnesses, measured on one line


def smoke_run(tmp_path, script: str, *args: str):
    """benchmarks/`script` run with `args`, writing under `tmp_path`; it must succeed."""
    command = [sys.executable, str(REPO / "benchmarks" / script), *args, "--out", str(tmp_path)]
    result = run(command, tmp_path, job_env(tmp_path / "cache"), timeout=600)
    assert result.returncode == 0, result.stdout[-5000:]
    return result


@pytest.mark.cluster
def test_benchmark_harness_smoke(tmp_path):
    smoke_run(tmp_path, "run.py", "--smoke", "--work-dir", str(tmp_path / "work"))
    results = json.loads((tmp_path / "smoke.json").read_text())
    spark_zsc = results["spark"]["spark_zsc"]
    assert 1 <= spark_zsc["model_loads"] <= 2  # two Python workers, four partitions, two actions
    assert spark_zsc["broadcast_bytes"] >= spark_zsc["weight_bytes"]
    for contender in ("hf_pipeline_bs1", "hf_pipeline_bs8", "ideal_loop", "engine"):
        assert results["in_process"][contender]["pairs_per_second"] > 0
    table = (tmp_path / "smoke.md").read_text()
    assert "| spark_zsc on Spark (torch), second action |" in table and "vs Databricks recipe" in table
    backends = results["spark"]["backends"]
    assert list(backends) == ["torch fp32", "onnx fp32", "torch int8", "onnx int8"]
    for measured in backends.values():
        assert (
            measured["first_action"]["pairs_per_second"] > 0 < measured["second_action"]["pairs_per_second"]
        )
    assert "| onnx int8 |" in table and "onnx vs torch: cold / converted before / warm" in table
    for precision in ("bf16", "int8"):  # warm on Spark against fp32, or refused on this CPU
        warm = results["spark"]["spark_zsc_precisions"][precision]
        assert warm.get("speedup_vs_fp32", 0) > 0 or "computes bf16 natively" in warm["refused"]
        assert f"| spark_zsc on Spark, second action, {precision} vs fp32 |" in table


@pytest.mark.cluster  # its `evaluate` part runs Spark in a process of its own
def test_precision_benchmark_smoke(tmp_path):
    smoke_run(tmp_path, "precision.py", "--smoke", "--work-dir", str(tmp_path / "work"))
    results = json.loads((tmp_path / "precision-smoke.json").read_text())
    nli = results["nli"]
    assert nli["fp32"]["max_score_difference"] == 0 and nli["fp32"]["top_label_agreement"] == 1
    for precision in ("bf16", "int8"):
        assert 0 < nli[precision]["max_score_difference"] < 0.05 and nli[precision]["rows"] == 12
    assert nli["fp32 (onnx)"]["max_score_difference"] < 1e-5 and nli["fp32 (onnx)"]["rows"] == 12  # HF-exact
    assert 0 < nli["int8 (onnx)"]["max_score_difference"] < 0.05 and nli["int8 (onnx)"]["rows"] == 12
    job, in_process = results["evaluate_job"], results["embedding_in_process"]
    assert job["fp32"]["accuracy"] == in_process["fp32"]["accuracy"]  # the job and the engine agree
    assert "accuracy" in job["bf16"] or "computes bf16 natively" in job["bf16"]["refused"]
    assert all(0 < in_process[p]["accuracy"] <= 1 for p in ("fp32", "bf16", "int8"))


@pytest.mark.slow
def test_shortlist_benchmark_smoke(tmp_path):
    smoke_run(tmp_path, "shortlist.py", "--smoke", "--work-dir", str(tmp_path / "work"))
    runs = json.loads((tmp_path / "shortlist-smoke.json").read_text())["runs"]
    assert [(r["labels"], r["nli_pairs_full"], r["nli_pairs_cascade"]) for r in runs] == [
        (4, 12, 6),
        (20, 60, 15),
    ]
    assert "| labels | shortlist k |" in (tmp_path / "shortlist-smoke.md").read_text()


@pytest.mark.slow
def test_many_labels_benchmark_dry_run(tmp_path):
    result = smoke_run(tmp_path, "many_labels.py", "--dry-run")
    assert "| 20 | 400 | pairBudget 200,000 (default) | 1 | 400 |" in result.stdout
    assert not list(tmp_path.glob("many_labels.*"))  # a dry run writes no results


@pytest.mark.slow
def test_worker_memory_benchmark_smoke_under_a_memory_cgroup(tmp_path):
    """Each measured worker in a real memory cgroup (CI runs as root on Linux: one can be made)."""
    smoke_run(
        tmp_path, "worker_memory.py", "--smoke", "--work-dir", str(tmp_path / "work"), "--cap-mb", "1024"
    )
    results = json.loads((tmp_path / "worker_memory-smoke-cap1024.json").read_text())
    baselines = results["import_baselines"]
    assert set(baselines) == {"torch", "onnx"} and results["cap_mb"] == 1024
    assert baselines["onnx"]["import_peak_mb"] < baselines["torch"]["import_peak_mb"]  # no torch imported
    assert [(r["engine"], r["precision"], r["labels"]) for r in results["runs"]] == [
        (engine, precision, labels)
        for engine in ("torch", "onnx")
        for precision in ("fp32", "int8")
        for labels in (4, 20)
    ]
    for measured in results["runs"]:  # each classified every row, its peak above the imports' own
        assert measured["classified"] == results["rows"], measured
        assert measured["peak_mb"] > baselines[measured["engine"]]["import_peak_mb"]
        assert 0 < measured["cgroup_peak_mb"] <= 1024
