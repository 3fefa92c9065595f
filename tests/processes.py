"""Run the project's real entry points as subprocesses and always stop what was started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyspark

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPARK_LINE = ".".join(pyspark.__version__.split(".")[:2])
JARS = REPO / ".cache" / "jars" / f"spark-{SPARK_LINE}"  # `make jars`: for the installed pyspark's line


def table_formats_conf(iceberg_warehouse: Path) -> dict:
    """Spark settings for real Delta and Iceberg: their jars, Delta's SQL extension and catalog as
    the session catalog, and an Iceberg Hadoop catalog `ice` in `iceberg_warehouse`. (Spark runs
    MERGE, DELETE and ALTER on Iceberg tables itself; Iceberg's own SQL extension, needed only for
    its procedures, makes CREATE TEMPORARY FUNCTION fail on Spark 4.1.)"""
    jars = sorted(JARS.glob("*.jar"))
    if not jars:
        raise RuntimeError(
            f"no jars in {JARS}: run `make jars SPARK={SPARK_LINE}` (the tests need real Delta and Iceberg)"
        )
    return {
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalog.ice": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.ice.type": "hadoop",
        "spark.sql.catalog.ice.warehouse": str(iceberg_warehouse),
        "spark.databricks.delta.snapshotPartitions": "2",  # tiny tables: not 50 tasks per log replay
    }


def conf_flags(conf: dict) -> list[str]:
    """`--conf KEY=VALUE` flags for the classify job."""
    return [flag for key, value in conf.items() for flag in ("--conf", f"{key}={value}")]


def job_env(cache_dir: Path, connect: bool = False) -> dict:
    """The environment of a job run here; `connect`: one that starts a local Spark Connect server
    (`remote("local[2]")`), whose server pyspark 3.5 does not ship: it is given as users give it."""
    env = dict(os.environ)
    env.update(
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARK_ZSC_CACHE_DIR=str(cache_dir),
        PYTHONUNBUFFERED="1",
    )
    if connect:  # the local server listens on 127.0.0.1 only (by default it takes every address)
        submit = ["--conf", "spark.connect.grpc.binding.address=127.0.0.1"]
        if SPARK_LINE == "3.5":
            server = sorted((JARS / "connect").glob("spark-connect_*.jar"))
            if not server:
                raise RuntimeError(f"no Spark Connect jar in {JARS / 'connect'}: run `make jars SPARK=3.5`")
            submit += ["--jars", str(server[0])]
        env["PYSPARK_SUBMIT_ARGS"] = " ".join([*submit, "pyspark-shell"])
    return env


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its JVM, its Python workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def start(args: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return process


def run(args: list[str], cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run to completion; on timeout or test failure the whole process group is killed."""
    log = cwd / f"run-{time.monotonic_ns()}.log"
    process = start(args, cwd, env, log)
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            kill_group(process)
    output = log.read_text(errors="replace")
    return subprocess.CompletedProcess(args, process.returncode, output, "")


def input_flags(source, labels: str) -> list[str]:
    """A classify job's input: (id, text) rows in `source`, scored against fixed `labels`."""
    return ["--input", str(source), "--text-col", "text", "--id-col", "id", "--labels", labels]


def cli(*flags: str) -> list[str]:
    return [sys.executable, "-m", "spark_zsc", "classify", *flags]


def spark_submit(*flags: str, job: str = "classify") -> list[str]:
    return [
        str(BIN / "spark-submit"),
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
        str(REPO / "jobs" / f"{job}.py"),
        *flags,
    ]
