"""Shared fixtures: one tiny random NLI model and one local[2] SparkSession per test session, with
real Delta and Iceberg (the jars `make jars` fetched)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import SENTENCES

SPARK_FIXTURES = {"spark", "s3", "hdfs"}  # each starts the test session's Spark or a server

# Every JVM the tests start reads the tests' Spark defaults (tests/spark-conf/spark-defaults.conf):
# set before any starts, and inherited by the subprocesses.
os.environ["SPARK_CONF_DIR"] = str(Path(__file__).resolve().parent / "spark-conf")


def pytest_collection_modifyitems(items):
    """The `spark` tier: tests that use a Spark fixture, and every `cluster` test."""
    for item in items:
        if SPARK_FIXTURES & set(item.fixturenames) or item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from spark_zsc.testing import build_random_nli_model

    return str(
        build_random_nli_model(tmp_path_factory.mktemp("tiny_nli"), SENTENCES * 3, vocab_size=500, seed=1)
    )


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """A tiny random mean-pooling sentence encoder in sentence-transformers' layout."""
    from spark_zsc.testing import build_random_sentence_encoder

    return str(build_random_sentence_encoder(tmp_path_factory.mktemp("tiny_encoder"), SENTENCES * 3, seed=2))


@pytest.fixture(scope="session")
def hf_pipeline(tiny_model):
    """The independent reference: transformers' own zero-shot pipeline on the same weights."""
    from transformers import pipeline

    return pipeline("zero-shot-classification", model=tiny_model, device="cpu")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """An S3-compatible server on 127.0.0.1, started before the test session: every Hadoop
    configuration the session makes, the metastore client's too, must reach it from the start."""
    from stores import S3Server

    server = S3Server(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def spark(tmp_path_factory, s3_server):
    # Workers must run this interpreter (the venv's), and keep their model cache here.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_ZSC_CACHE_DIR"] = str(tmp_path_factory.mktemp("node_cache"))
    from pyspark.sql import SparkSession

    from processes import table_formats_conf

    builder = SparkSession.builder
    conf = {**table_formats_conf(tmp_path_factory.mktemp("iceberg")), **s3_server.spark_conf()}
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = (
        builder.master("local[2]")
        .appName("spark_zsc-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "16")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tmp_path_factory.mktemp('derby')}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3(spark, s3_server):
    """The S3-compatible server the test session reaches through S3A (`s3a://` buckets)."""
    return s3_server


@pytest.fixture(scope="session")
def hdfs(tmp_path_factory):
    """A real HDFS (MiniDFSCluster) on 127.0.0.1: its hdfs:// URI."""
    from stores import Hdfs

    cluster = Hdfs(tmp_path_factory.mktemp("hdfs"))
    try:
        yield cluster.uri
    finally:
        cluster.stop()
