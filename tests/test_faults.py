"""Faults: a Python worker SIGKILLed mid-task is retried by Spark and nothing is lost or doubled."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from processes import REPO, job_env, run

pytestmark = pytest.mark.cluster  # starts Spark or a server in processes of its own


def test_a_python_worker_killed_mid_task_changes_nothing(tiny_model, tmp_path):
    result = run(
        [sys.executable, str(REPO / "tests" / "apps" / "kill_worker_app.py"), tiny_model, str(tmp_path)],
        tmp_path,
        job_env(tmp_path / "cache"),
        timeout=500,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    report = json.loads((tmp_path / "kill.json").read_text())
    assert len(report["killed"]) == 1  # a real worker of the app was killed during the first run
    faulty = pd.read_parquet(tmp_path / "faulty").sort_values("id").reset_index(drop=True)
    clean = pd.read_parquet(tmp_path / "clean").sort_values("id").reset_index(drop=True)
    assert len(faulty) == len(clean) == report["rows"]
    assert faulty["id"].tolist() == list(range(report["rows"]))  # no row lost, none doubled
    for a, b in zip(faulty["zsc"], clean["zsc"]):
        assert (
            list(a["labels"]) == list(b["labels"])
            or max(abs(x - y) for x, y in zip(a["scores"], b["scores"])) < 1e-6
        )
        assert dict(zip(a["labels"], a["scores"])) == __import__("pytest").approx(
            dict(zip(b["labels"], b["scores"])), abs=1e-6
        )
