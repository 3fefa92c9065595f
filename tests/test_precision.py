"""Precision and devices: int8 on CPU, driver-side refusals, Spark's GPU addresses."""

from __future__ import annotations

import pytest
import torch

from spark_zsc import ConfigError, ZeroShotClassifier
from spark_zsc.options import EngineOptions
from spark_zsc.runtime.devices import cuda_index, resolve_device

from helpers import LABELS, TEXTS


def _frame(spark, texts=TEXTS):
    return spark.createDataFrame(list(enumerate(texts)), "id long, text string")


def test_int8_on_cpu_classifies_close_to_fp32(spark, tiny_model):
    texts = TEXTS * 2
    fp32 = {
        r.id: r.zsc
        for r in ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
        .transform(_frame(spark, texts))
        .collect()
    }
    int8 = {
        r.id: r.zsc
        for r in ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, precision="int8"
        )
        .transform(_frame(spark, texts))
        .collect()
    }
    assert int8.keys() == fp32.keys()
    differences = [
        abs(dict(zip(int8[k].labels, int8[k].scores))[l] - dict(zip(fp32[k].labels, fp32[k].scores))[l])
        for k in fp32
        for l in LABELS
    ]
    assert 0 < max(differences) < 0.05  # int8 changes scores, a little
    assert sum(int8[k].label == fp32[k].label for k in fp32) >= 0.75 * len(fp32)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(precision="fp8"), "precision must be one of"),
        (dict(device="tpu"), "device must be one of"),
        (dict(device="cpu", precision="fp16"), "needs a GPU"),
        (dict(device="cuda", precision="int8"), "int8 is for CPUs"),
        (dict(device="cuda"), "no GPU is available to tasks"),
        (dict(precision="bf16"), "needs a GPU and none is available"),
    ],
)
def test_bad_device_and_precision_fail_on_the_driver(spark, tiny_model, kwargs, message):
    if torch.cuda.is_available() and ("no GPU" in message or "none is available" in message):
        pytest.skip("this machine has a GPU")
    jobs = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
    with pytest.raises(ConfigError, match=message):
        ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, **kwargs).transform(
            _frame(spark)
        )
    assert set(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs


def test_config_hash_names_the_precision_tasks_run(spark, tiny_model):
    """precision auto runs fp32 where tasks run on the CPU and fp16 where Spark gives each task
    a GPU: scores differ, so rows of the two must not share a config hash."""
    gpu_session = spark.newSession()  # its own configuration, as a GPU cluster's
    gpu_session.conf.set("spark.task.resource.gpu.amount", "1")

    def config(session, **params):
        clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS, **params)
        return clf.lineage(session.createDataFrame([("x",)], "text string")).config_sha256

    try:
        on_cpu, on_gpu = config(spark), config(gpu_session)
        assert on_cpu == config(spark, precision="fp32") == config(gpu_session, device="cpu")
        assert on_gpu == config(gpu_session, precision="fp16") == config(gpu_session, device="cuda")
        assert on_cpu != on_gpu
    finally:  # the new session became the active one: later tests must not inherit its GPUs
        gpu_session.conf.unset("spark.task.resource.gpu.amount")


def test_a_task_that_cannot_run_the_hashed_precision_fails(spark, tiny_model):
    """Spark promised each task a GPU (so fp16 is hashed) but the task got none: it fails
    rather than write fp32 scores under the fp16 hash."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    session = spark.newSession()
    # the driver reads it; tasks of a local master still get no GPU
    session.conf.set("spark.task.resource.gpu.amount", "1")
    clf = ZeroShotClassifier(model=tiny_model, inputCol="text", candidateLabels=LABELS)
    try:
        with pytest.raises(Exception, match="precision=fp16"):
            clf.transform(session.createDataFrame([(0, "The team won")], "id long, text string")).collect()
    finally:  # the new session became the active one: later tests must not inherit its GPUs
        session.conf.unset("spark.task.resource.gpu.amount")


def test_spark_gpu_addresses_map_through_cuda_visible_devices():
    assert cuda_index("3", visible="") == 3
    assert cuda_index("3", visible="2,3") == 1
    assert cuda_index("GPU-abc", visible="GPU-xyz,GPU-abc") == 1


def test_outside_a_task_auto_is_the_cpu_unless_asked():
    assert (
        resolve_device(EngineOptions(device="auto")) in ("cpu", "cuda:0")
        and resolve_device(EngineOptions(device="cpu")) == "cpu"
    )
    if not torch.cuda.is_available():
        assert resolve_device(EngineOptions(device="auto")) == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_fp32_on_gpu_equals_cpu(tiny_model):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engines.nli import ZeroShotEngine

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cpu = ZeroShotEngine(AutoModelForSequenceClassification.from_pretrained(tiny_model), tokenizer)
    gpu = ZeroShotEngine(
        AutoModelForSequenceClassification.from_pretrained(tiny_model).cuda(), tokenizer, device="cuda"
    )
    for a, b in zip(
        cpu.classify(TEXTS, [LABELS] * len(TEXTS))[0], gpu.classify(TEXTS, [LABELS] * len(TEXTS))[0]
    ):
        assert a[2] == b[2] and max(abs(x - y) for x, y in zip(a[3], b[3])) < 1e-4
