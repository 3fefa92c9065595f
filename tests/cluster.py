"""A real standalone Spark cluster on 127.0.0.1: a Master and Workers as separate JVMs,
started with pyspark's own bin/spark-class and stopped by pid, whatever happens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from processes import kill_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_class() -> str:
    from pyspark.find_spark_home import _find_spark_home

    return str(Path(_find_spark_home()) / "bin" / "spark-class")


@dataclass
class Cluster:
    folder: Path
    master_url: str = ""
    master: subprocess.Popen | None = None
    workers: list = field(default_factory=list)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        env = dict(
            os.environ,
            SPARK_LOCAL_IP="127.0.0.1",
            PYSPARK_PYTHON=sys.executable,
            SPARK_LOG_DIR=str(self.folder),
            SPARK_WORKER_DIR=str(self.folder / "work"),
        )
        log = open(self.folder / f"{name}.log", "wb")
        process = subprocess.Popen(
            [spark_class(), *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return process

    def _wait_for(self, name: str, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (self.folder / f"{name}.log").read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"{name} did not log {text!r}: {(self.folder / f'{name}.log').read_text()[-3000:]}"
        )

    def start(self, workers: int = 2) -> "Cluster":
        port = free_port()
        self.master_url = f"spark://127.0.0.1:{port}"
        self.master = self._start(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(free_port()),
            ],
        )
        self._wait_for("master", "I have been elected leader")
        for i in range(workers):
            self.workers.append(
                self._start(
                    f"worker{i}",
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        self.master_url,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "2g",
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(self.folder / f"work{i}"),
                    ],
                )
            )
        for i in range(workers):
            self._wait_for(f"worker{i}", "Successfully registered with master")
        return self

    def kill_worker(self, index: int) -> None:
        """SIGKILL a Worker JVM and the executor JVM it launched (its process group)."""
        kill_group(self.workers[index])

    def stop(self) -> None:
        for process in [*self.workers, self.master]:
            if process is not None:
                kill_group(process)
