"""The package as users install it: a wheel built from the repo holds every subpackage."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from processes import REPO

pytestmark = pytest.mark.any_line  # the wheel holds no Spark-line-specific file


@pytest.mark.slow
def test_the_wheel_holds_every_module_of_the_source_tree(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the repo
    shutil.copytree(REPO / "spark_zsc", source / "spark_zsc", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = tmp_path.glob("spark_zsc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {name for name in names if name.endswith(".py")}
    sources = {str(p.relative_to(REPO)) for p in (REPO / "spark_zsc").rglob("*.py")}
    assert sources == packaged
    assert "spark_zsc/jobs/log4j2-cli.properties" in names  # the CLI's quiet Spark logging, as data
    assert {
        "spark_zsc/engines/nli.py",
        "spark_zsc/runtime/worker.py",
        "spark_zsc/spark/classifier.py",
        "spark_zsc/jobs/cli.py",
    } <= packaged
