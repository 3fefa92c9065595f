"""Real storage services on 127.0.0.1 for the tests, each a process of its own stopped by pid
whatever happens: an S3-compatible server (moto's server mode, from PyPI), which Spark reaches
through S3A (.cache/jars/s3a), and HDFS (Hadoop's MiniDFSCluster, .cache/jars/hdfs)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from spark_zsc.sinks.locks import lock_path

from cluster import free_port
from processes import BIN, JARS, kill_group, start

S3A_JARS = JARS / "s3a"
HDFS_JARS = JARS / "hdfs"
REGION = "us-east-1"


def results(frame) -> dict:
    """id -> (label, scores) of a classified output."""
    return {str(r.id): (r.zsc.label, list(r.zsc.scores)) for r in frame.collect()}


def assert_same_results(result: dict, reference: dict) -> None:
    """Every id of a fresh full run's output once, none more, each with its label and scores."""
    assert sorted(result) == sorted(reference)
    for i, (label, scores) in reference.items():
        assert result[i][0] == label and result[i][1] == pytest.approx(scores, abs=1e-6)


def dead_writers_lock(files, output: str) -> None:
    """The lock a run SIGKILLed on this host leaves beside `output`: its process is gone."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {"run": "killed", "host": socket.gethostname(), "pid": dead.pid, "since": "then"}
    files.write_text(lock_path(output), json.dumps(owner))


def _wait(ready, process: subprocess.Popen, log: Path, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            return
        time.sleep(0.2)
    kill_group(process)
    raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')[-3000:]}")


class S3Server:
    """moto's S3 server on 127.0.0.1, with the S3A settings that reach it (and nothing else:
    fixed keys, no instance metadata, no default region lookup)."""

    def __init__(self, folder: Path):
        if not list(S3A_JARS.glob("hadoop-aws-*.jar")):
            raise RuntimeError(f"no S3A jars in {S3A_JARS}: run `make jars`")
        self.folder, self.port = folder, free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        log = folder / "s3.log"
        server = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = start(server, folder, dict(os.environ), log)
        _wait(self._answers, self.process, log, "the S3 server")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        kill_group(self.process)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="spark-zsc",
            aws_secret_access_key="spark-zsc-secret",
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        """A bucket of its own for a test; its s3a:// URL."""
        name = f"zsc-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return f"s3a://{name}"

    def keys(self, url: str) -> list[str]:
        """Every object under an s3a:// URL."""
        bucket, _, prefix = url[len("s3a://") :].partition("/")
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, url: str) -> bytes:
        bucket, _, key = url[len("s3a://") :].partition("/")
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def write(self, url: str, data: bytes) -> None:
        bucket, _, key = url[len("s3a://") :].partition("/")
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def hadoop_conf(self) -> dict:
        return {
            "fs.s3a.endpoint": self.endpoint,
            "fs.s3a.endpoint.region": REGION,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": "false",
            "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "fs.s3a.access.key": "spark-zsc",
            "fs.s3a.secret.key": "spark-zsc-secret",
        }

    def spark_conf(self) -> dict:
        """For a session: S3A on its class path, these settings in every Hadoop configuration it makes."""
        return {
            "spark.driver.extraClassPath": f"{S3A_JARS}/*",
            "spark.executor.extraClassPath": f"{S3A_JARS}/*",
            **{f"spark.hadoop.{key}": value for key, value in self.hadoop_conf().items()},
        }


class Hdfs:
    """A MiniDFSCluster (one NameNode, one DataNode) on 127.0.0.1, in its own JVM."""

    def __init__(self, folder: Path):
        if not list(HDFS_JARS.glob("hadoop-client-minicluster-*.jar")):
            raise RuntimeError(f"no MiniDFSCluster jars in {HDFS_JARS}: run `make jars`")
        self.folder, port = folder, free_port()
        details, log = folder / "details.json", folder / "hdfs.log"
        here = "127.0.0.1:0"
        settings = {
            "hdfs.minidfs.basedir": str(folder / "data"),
            "dfs.namenode.rpc-bind-host": "127.0.0.1",
            "dfs.namenode.http-address": here,
            "dfs.datanode.address": here,
            "dfs.datanode.http.address": here,
            "dfs.datanode.ipc.address": here,
        }
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
        args = [java, "-cp", f"{HDFS_JARS}/*", "org.apache.hadoop.test.MiniDFSClusterManager", "-format"]
        args += ["-nnport", str(port), "-writeDetails", str(details)]
        args += [flag for key, value in settings.items() for flag in ("-D", f"{key}={value}")]
        self.process = start(args, folder, dict(os.environ), log)

        def port_written() -> bool:  # written once the cluster is up
            try:
                return "namenode_port" in json.loads(details.read_text())
            except (OSError, ValueError):
                return False

        _wait(port_written, self.process, log, "HDFS")
        self.uri = f"hdfs://127.0.0.1:{json.loads(details.read_text())['namenode_port']}"

    def stop(self) -> None:
        kill_group(self.process)
