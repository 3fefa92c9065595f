"""Precision and devices: int8 and bf16 on CPU, driver-side refusals, Spark's GPU addresses."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from spark_zsc import ConfigError, ZeroShotClassifier
from spark_zsc.options import EngineOptions
from spark_zsc.runtime import cpu_precisions
from spark_zsc.runtime.cpu_precisions import bf16_instructions, this_cpu_bf16_instructions
from spark_zsc.runtime.devices import cuda_index, resolve_device, task_device_and_precision

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


# the first lines of /proc/cpuinfo's flags of CPUs clusters run (the rest of each line cut)
ZEN3_FLAGS = "flags\t\t: fpu vme de pse tsc msr pae mce avx2 sha_ni vaes vpclmulqdq rdpid"
ZEN4_FLAGS = "flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni vaes"
SAPPHIRE_RAPIDS_FLAGS = "flags\t\t: fpu avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8"
GRAVITON3_FEATURES = "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics i8mm bf16 dgh rng"
GRAVITON2_FEATURES = "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid"


def test_bf16_instructions_are_read_from_cpuinfo():
    assert bf16_instructions(f"processor\t: 0\n{ZEN3_FLAGS}\n") == []
    assert bf16_instructions(ZEN4_FLAGS) == ["AVX512-BF16"]
    assert bf16_instructions(SAPPHIRE_RAPIDS_FLAGS) == ["AMX-BF16", "AVX512-BF16"]
    assert bf16_instructions(f"processor\t: 0\nBogoMIPS\t: 2100.00\n{GRAVITON3_FEATURES}") == ["Arm BF16"]
    assert bf16_instructions(GRAVITON2_FEATURES) == []
    assert bf16_instructions("model name\t: Some bf16 CPU\n") == []  # only the flags count


@pytest.fixture
def cpu_flags(tmp_path, monkeypatch):
    """Makes this process read its CPU's flags from the text given, as another CPU's."""

    def use(text: str) -> None:
        (tmp_path / "cpuinfo").write_text(f"processor\t: 0\n{text}\n")
        monkeypatch.setattr(cpu_precisions, "CPUINFO", tmp_path / "cpuinfo")

    return use


def test_a_task_runs_bf16_on_cpu_only_where_the_cpu_computes_it(cpu_flags):
    bf16_on_cpu = EngineOptions(device="cpu", precision="bf16")
    for flags in (ZEN4_FLAGS, SAPPHIRE_RAPIDS_FLAGS, GRAVITON3_FEATURES):
        cpu_flags(flags)
        assert task_device_and_precision(bf16_on_cpu) == ("cpu", "bf16")
    for flags in (ZEN3_FLAGS, GRAVITON2_FEATURES):
        cpu_flags(flags)
        with pytest.raises(RuntimeError, match="needs a CPU that computes bf16 natively"):
            task_device_and_precision(bf16_on_cpu)
    assert task_device_and_precision(EngineOptions(device="cpu", precision="int8")) == ("cpu", "int8")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_bf16_on_a_cpu_without_it_fails_on_the_driver(spark, tiny_model, cpu_flags, device):
    """A local master's tasks run on this machine: the driver refuses emulated bf16 before
    any job."""
    if torch.cuda.is_available() and device == "auto":
        pytest.skip("this machine has a GPU")
    cpu_flags(ZEN3_FLAGS)
    jobs = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
    clf = ZeroShotClassifier(
        model=tiny_model, inputCol="text", candidateLabels=LABELS, device=device, precision="bf16"
    )
    with pytest.raises(ConfigError, match="computes bf16 natively .* use fp32, or int8"):
        clf.transform(_frame(spark))
    assert set(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs
    cpu_flags(ZEN4_FLAGS)
    clf.transform(_frame(spark))  # the plan is built; this machine's tasks are not run here


def test_auto_where_the_driver_sees_a_gpu_its_tasks_are_not_given(spark, tiny_model, cpu_flags, monkeypatch):
    """A local master on a machine with a GPU but no spark.task.resource.gpu.amount: tasks
    under device auto run on the CPU, and the driver judges the precision for the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a GPU machine
    cpu_flags(ZEN3_FLAGS)

    def transform(precision):
        return ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, precision=precision
        ).transform(_frame(spark))

    with pytest.raises(ConfigError, match="computes bf16 natively"):
        transform("bf16")
    with pytest.raises(ConfigError, match="fp16 needs a GPU and none is available"):
        transform("fp16")
    transform("int8")  # the CPU's precision: not refused as if tasks had GPUs


def test_bf16_engine_on_cpu_scores_close_to_fp32(tiny_model):
    """The model loaded as a worker loads it in bf16 (on a CPU without bf16 instructions torch
    emulates them: slow, but the same numbers)."""
    from spark_zsc.engines.nli import ZeroShotEngine
    from spark_zsc.runtime.model_source import NLI
    from spark_zsc.runtime.worker import load_model

    def scores(precision):
        loaded = load_model(Path(tiny_model), NLI, "cpu", precision)
        rows = ZeroShotEngine(loaded.model, loaded.tokenizer).classify(TEXTS, [LABELS] * len(TEXTS))[0]
        return loaded.model.dtype, [dict(zip(r[2], r[3])) for r in rows]

    (fp32_dtype, fp32), (bf16_dtype, bf16) = scores("fp32"), scores("bf16")
    assert (fp32_dtype, bf16_dtype) == (torch.float32, torch.bfloat16)
    differences = [abs(a[label] - b[label]) for a, b in zip(fp32, bf16) for label in LABELS]
    assert 0 < max(differences) < 0.05


@pytest.mark.skipif(not this_cpu_bf16_instructions(), reason="this CPU has no bf16 instructions")
def test_bf16_on_cpu_classifies_close_to_fp32(spark, tiny_model):
    def classified(**params):
        clf = ZeroShotClassifier(
            model=tiny_model, inputCol="text", candidateLabels=LABELS, device="cpu", **params
        )
        return {r.id: dict(zip(r.zsc.labels, r.zsc.scores)) for r in clf.transform(_frame(spark)).collect()}

    fp32, bf16 = classified(), classified(precision="bf16")
    assert bf16.keys() == fp32.keys()
    assert 0 < max(abs(bf16[k][label] - fp32[k][label]) for k in fp32 for label in LABELS) < 0.05


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(precision="fp8"), "precision must be one of"),
        (dict(device="tpu"), "device must be one of"),
        (dict(device="cpu", precision="fp16"), "needs a GPU"),
        (dict(device="cuda", precision="int8"), "int8 is for CPUs"),
        (dict(device="cuda"), "no GPU is available to tasks"),
        (dict(precision="fp16"), "needs a GPU and none is available"),
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


def test_int8_quantizes_without_a_deprecation_in_the_workers_log():
    from spark_zsc.runtime.cpu_precisions import quantized_int8

    model = torch.nn.Sequential(torch.nn.Linear(8, 8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = quantized_int8(model)
    assert not [w for w in caught if issubclass(w.category, (DeprecationWarning, FutureWarning))]
    assert quantized[0].weight().dtype == torch.qint8
