"""Shared fixtures: one tiny random NLI model and one local[2] SparkSession per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SENTENCES = [
    "The central bank cut interest rates and the markets rallied.",
    "The home team won the final in overtime after a late goal.",
    "A new phone was launched with a faster chip and a better camera.",
    "Storms caused power outages across the city on Monday.",
    "Customers were charged twice on their latest invoice.",
    "Please add a dark mode to the mobile app.",
    "The election results were announced late at night.",
    "Scientists discovered a new species of frog in the rainforest.",
    "Oil prices rose sharply after the pipeline was closed.",
    "This example is billing. This example is about sports.",
    "Café, naïve, Zürich, 東京, Москва, مرحبا, 😀 and other scripts.",
]

TEXTS = [
    "The central bank cut interest rates again.",
    "Our team won the final!",
    "My invoice shows a double charge, please refund it.",
    "The app crashes when I open the settings page. " * 30,  # past the 128-token limit
    "Café in Zürich: naïve prices, 東京 and Москва too 😀",
    "Our team won the final!",  # a duplicate
    "power outage",
    "Scientists found a frog.",
]
LABELS = ["finance", "sports", "billing", "outage", "feature request"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from spark_zsc.testing import build_random_nli_model

    return str(build_random_nli_model(tmp_path_factory.mktemp("tiny_nli"), SENTENCES * 3, vocab_size=500, seed=1))


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
def spark(tmp_path_factory):
    # Workers must run this interpreter (the venv's), and keep their model cache here.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_ZSC_CACHE_DIR"] = str(tmp_path_factory.mktemp("node_cache"))
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
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


def assert_same_result(reference: dict, result, tolerance: float = 1e-5) -> None:
    """One row's result equals the HF pipeline's: same label order, scores within `tolerance`."""
    labels, scores = (result[2], result[3]) if isinstance(result, tuple) else (result["labels"], result["scores"])
    assert list(labels) == reference["labels"]
    assert max(abs(a - b) for a, b in zip(scores, reference["scores"])) < tolerance
