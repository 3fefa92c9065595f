"""The GPU check (benchmarks/gpu_check.py) measures what it claims: its dry run on CPU, and its
timing on a simulated device whose launches queue work and block while it is busy, as a GPU's do."""

from __future__ import annotations

import json
import multiprocessing
import queue
import sys
import threading
import time

import pytest
import torch

from spark_zsc.engines.batching import StagedEngine
from spark_zsc.engines.results import BatchStats

from processes import REPO, job_env, run

sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402 (the benchmark script, from its folder)

pytestmark = pytest.mark.any_line  # the GPU check's harness (its Spark part: a plain local job)


class QueuedDevice:
    """Runs the work queued on it in order, on a thread of its own. Its queue holds two items:
    a launch blocks while it is full, as a launch on a busy GPU does."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            self.queue.get()()

    def submit(self, work) -> None:
        self.queue.put(work)


class QueuedDeviceClock:
    """Marks queued on the device, stamped when it reaches them (what a CUDA event is)."""

    def __init__(self, device: QueuedDevice):
        self.device = device

    def mark(self):
        stamp: dict = {}
        reached = threading.Event()

        def record():
            stamp["at"] = time.perf_counter()
            reached.set()

        self.device.submit(record)
        return stamp, reached

    def seconds(self, start, end) -> float:
        start[1].wait(10), end[1].wait(10)
        return end[0]["at"] - start[0]["at"]


class QueuedEngine(StagedEngine):
    """An engine whose slices cost the given seconds of device work, queued in ten kernels;
    its results are waited for only when asked, one slice later (the GPU path's overlap)."""

    device = torch.device("cuda")  # the batch loop overlaps slices for a CUDA engine

    def __init__(self, queued: QueuedDevice, slice_seconds: list[float]):
        self.queued, self.costs = queued, iter(slice_seconds)

    def prepare(self, texts, labels, hypothesis_template, long_text=None):
        stats = BatchStats(rows=len(texts), classified=len(texts), pairs=sum(len(l) for l in labels))
        return labels, stats

    def launch(self, prepared):
        cost, done = next(self.costs), threading.Event()
        for _ in range(10):
            self.queued.submit(lambda: time.sleep(cost / 10))
        self.queued.submit(done.set)
        return prepared, done

    def finish(self, launched, multi_label):
        (labels, stats), done = launched
        done.wait(10)
        return [(row[0], 1.0, list(row), [1.0] + [0.0] * (len(row) - 1)) for row in labels], stats


def test_each_slice_is_timed_by_its_own_device_work():
    """The first slice costs 0.3 s of device work, each later one 0.2 s, all with the same
    pairs: its rate is 0.67x theirs. Timed until its results came back (after the next slice's
    launch had blocked on the busy device), it read about 0.4x."""
    queued = QueuedDevice()
    engine = QueuedEngine(queued, [0.3, 0.2, 0.2, 0.2])
    loop = gpu_check.udf_loop(
        engine, [f"text {i}" for i in range(32)], 8, "cpu", clock=QueuedDeviceClock(queued)
    )
    assert loop["slices"] == 4 and loop["rows"] == 32
    assert loop["slice_seconds"] == pytest.approx([0.3, 0.2, 0.2, 0.2], abs=0.03)
    assert loop["first_slice_vs_later"] == pytest.approx(0.2 / 0.3, abs=0.08)


def test_top_label_agreement_leaves_out_near_ties():
    fp32 = [{"a": 0.6, "b": 0.4}, {"a": 0.501, "b": 0.499}, {"a": 0.2, "b": 0.8}]
    half = [{"a": 0.59, "b": 0.41}, {"a": 0.498, "b": 0.502}, {"a": 0.21, "b": 0.79}]
    compared = gpu_check.compare(half, fp32)
    assert compared["max_score_difference"] == pytest.approx(0.01)
    # the second row's top two are 0.002 apart, under twice the largest difference: not counted
    assert compared["decided_rows"] == 2 and compared["top_label_agreement"] == 1.0


def test_a_failed_part_is_recorded_and_the_summary_still_prints(tmp_path):
    report = {"device": "cpu", "half": "fp32", "texts_per_contender": 4, "token_budget": 1024}
    saved = tmp_path / "report.json"

    def save():
        saved.write_text(json.dumps(report, default=str))

    def out_of_memory():
        raise RuntimeError("CUDA out of memory")

    gpu_check.run_part(report, "ceiling", out_of_memory, save)
    gpu_check.run_part(
        report, "correctness", lambda: {"fp32_vs_hf_pipeline": {"max_score_difference": 0.0}}, save
    )
    assert json.loads(saved.read_text())["ceiling"]["error"] == "RuntimeError: CUDA out of memory"
    assert "correctness" in json.loads(saved.read_text())
    lines = gpu_check.summary(report)
    assert "fp32 vs HF pipeline: largest difference 0.00e+00" in lines
    assert "(udf_loop, ceiling, throughput_pairs_per_second: failed or not run)" in lines


def _never_ready(*args):
    time.sleep(120)


def test_task_processes_are_daemons_with_bounded_waits():
    started = time.monotonic()
    texts = gpu_check.Texts([f"text {i}" for i in range(2 * (4 + gpu_check.SHARING_WARM_UP))])
    with pytest.raises(RuntimeError, match="ran out of time"):
        gpu_check.run_tasks(2, 4, texts, _never_ready, (), timeout=3)
    assert time.monotonic() - started < 30
    assert multiprocessing.active_children() == []


def test_data_is_required_and_counted_before_any_model_is_built(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_args([])
    assert "--data PATH/test.csv is required" in capsys.readouterr().err
    small = tmp_path / "small.csv"
    small.write_text("".join(f'1,"title {i}","body {i}"\n' for i in range(20)))
    work = tmp_path / "work"
    with pytest.raises(SystemExit, match="gives 240 distinct texts"):
        gpu_check.main(["--dry-run", "--data", str(small), "--work-dir", str(work), "--out", str(tmp_path)])
    assert not work.exists()  # no model built, none left for a rerun to pick up
    monkeypatch.setenv("OUT", str(tmp_path / "device_out"))
    assert gpu_check.parse_args(["--data", str(small)]).out == str(tmp_path / "device_out")


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path):
    result = run(
        [
            "bash",
            str(REPO / "benchmarks" / "gpu_check.sh"),
            "--dry-run",
            "--work-dir",
            str(tmp_path / "work"),
        ],
        tmp_path,
        {**job_env(tmp_path / "cache"), "PYTHON": sys.executable, "OUT": str(tmp_path / "out")},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    report = json.loads((tmp_path / "out" / "gpu_check_dry_run.json").read_text())  # $OUT, no --out
    assert not [name for name, part in report.items() if isinstance(part, dict) and "error" in part]
    correctness = report["correctness"]
    assert (
        correctness["fp32_vs_hf_pipeline"]["within_1e-5"]
        and correctness["fp32_vs_hf_pipeline"]["top_label_agreement"] == 1.0
    )
    assert (
        correctness["fp32_gpu_vs_cpu"]["within_1e-4"]
        and correctness["fp32_gpu_vs_cpu"]["top_label_agreement"] == 1.0
    )
    assert report["spark_job"]["rows"] == report["texts_per_contender"] == report["spark_job"]["classified"]
    assert set(report["throughput_pairs_per_second"]) >= {
        "hf_pipeline_bs8",
        "hf_pipeline_bs32",
        "spark_zsc_engine",
    }
    loop = report["udf_loop"]
    assert (
        loop["arrow_batches"]["rows"] == 48 and loop["small_batch_rows"]["slices"] == 3
    )  # 24 rows in slices of 8
    assert len(loop["small_batch_rows"]["slice_seconds"]) == 3
    assert (
        0 < loop["arrow_batches"]["tokens_per_second"] <= loop["arrow_batches"]["computed_tokens_per_second"]
    )
    assert report["ceiling"]["plain_model_tokens_per_second"] == pytest.approx(
        report["ceiling"]["plain_model_pairs_per_second"] * report["ceiling"]["shape"][1]
    )
    # every budget warmed at its own setting before it is timed
    assert all(budget["shapes_met_warming_up"] > 0 for budget in report["token_budget_sweep"].values())
    sharing = report["gpu_sharing"]  # one task alone and two together, each in processes of their own
    assert sharing["one_task_pairs_per_second"] > 0 and sharing["two_tasks_pairs_per_second"] > 0
    assert "tokens/s" in result.stdout and "x the best pipeline" in result.stdout
