"""Which device a task runs on, and in what precision: Spark's GPU scheduling honoured.

A task that Spark gave a GPU (spark.task.resource.gpu.amount) finds its address in
TaskContext.resources()["gpu"]. Where Spark (or the cluster manager) also set
CUDA_VISIBLE_DEVICES, that address is a physical id and torch numbers the visible
devices from 0, so the address is mapped through the list.
"""

from __future__ import annotations

import os
from typing import Optional

from ..errors import ConfigError
from ..options import ClassifierConfig, EngineOptions
from ..options.table import ONNX_PRECISIONS
from .cpu_precisions import cpu_bf16_refusal


def task_gpu_address() -> Optional[str]:
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        gpu = context.resources().get("gpu") if context is not None else None
    except Exception:  # outside a Spark task
        return None
    return gpu.addresses[0] if gpu is not None and gpu.addresses else None


def cuda_index(address: str, visible: Optional[str] = None) -> int:
    """torch's index of the GPU Spark calls `address`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    ids = [v.strip() for v in visible.split(",")] if visible else []
    return ids.index(address) if address in ids else int(address)


def resolve_device(options: EngineOptions) -> str:
    """'cpu' or 'cuda:N' for this task."""
    import torch

    if options.device == "cpu":
        return "cpu"
    address = task_gpu_address()
    if address is not None and torch.cuda.is_available():
        return f"cuda:{cuda_index(address)}"
    if options.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "device='cuda' but this executor has no usable GPU (torch.cuda.is_available() is False)"
            )
        return "cuda:0"
    return "cpu"


def resolve_precision(options: EngineOptions, device: str) -> str:
    if options.precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    if options.precision == "fp16" and device == "cpu":
        raise RuntimeError("precision=fp16 was asked for, but this task runs on the CPU")
    return options.precision


def task_device_and_precision(options: EngineOptions) -> tuple[str, str]:
    """This task's device and precision. A task that cannot run them fails before it loads a
    model: on a cluster, only the task sees whether its executor's CPU computes bf16."""
    device = resolve_device(options)
    precision = resolve_precision(options, device)
    refusal = cpu_bf16_refusal() if (device, precision) == ("cpu", "bf16") else None
    if refusal:
        raise RuntimeError(refusal)
    return device, precision


def spark_gives_tasks_gpus(spark) -> bool:
    """Whether Spark gives every task of this session a GPU (spark.task.resource.gpu.amount)."""
    return float(spark.conf.get("spark.task.resource.gpu.amount", "0") or 0) > 0


def gpus_available(spark) -> bool:
    """Whether tasks of this session can get a GPU: Spark schedules GPUs for tasks, or a
    local session's machine has one."""
    if spark_gives_tasks_gpus(spark):
        return True
    master = spark.conf.get("spark.master", "")
    if master.startswith("local"):
        import torch

        return torch.cuda.is_available()
    return False


def tasks_run_on_gpus(spark, options: EngineOptions) -> bool:
    """Whether this session's tasks run on a GPU, as `resolve_device` decides in a task: under
    device auto only when Spark gives each task one (a local master's machine may have a GPU
    its tasks are not given)."""
    return options.device == "cuda" or (options.device == "auto" and spark_gives_tasks_gpus(spark))


def check_devices(spark, options: EngineOptions) -> None:
    """Driver-side: refuse a setting the tasks' devices cannot run. Whether a CPU computes
    bf16 natively is known here only for a local master (its tasks run on this machine); on a
    cluster each task checks its own before loading a model."""
    if options.device == "cuda" and not gpus_available(spark):
        raise ConfigError(
            "device='cuda' but no GPU is available to tasks: set spark.task.resource.gpu.amount "
            "(and the executor GPU resources) or use device='auto' or 'cpu'"
        )
    on_gpu = tasks_run_on_gpus(spark, options)
    if options.precision == "fp16" and not on_gpu:
        raise ConfigError("precision=fp16 needs a GPU and none is available to tasks: use fp32, bf16 or int8")
    if options.precision == "bf16" and not on_gpu and spark.conf.get("spark.master", "").startswith("local"):
        refusal = cpu_bf16_refusal()
        if refusal:
            raise ConfigError(refusal)
    if options.precision == "int8" and options.device == "auto" and on_gpu:
        raise ConfigError("precision=int8 is for CPUs but tasks get GPUs here: use device='cpu' or fp16/bf16")
    if options.backend == "onnx" and on_gpu:
        raise ConfigError(
            "backend=onnx runs on CPUs but tasks get GPUs here: use device='cpu' or backend=torch"
        )


def task_precision(spark, options: EngineOptions) -> str:
    """The precision this session's tasks run in, decided as `resolve_device` and
    `resolve_precision` decide it in a task: under device auto a task runs on a GPU only when
    Spark gave it one."""
    return resolve_precision(options, "cuda" if tasks_run_on_gpus(spark, options) else "cpu")


def resolve_backend(options: ClassifierConfig, precision: str, on_gpu: bool) -> str:
    """The backend `auto` stands for: onnx wherever it runs (the NLI model alone, on CPU tasks,
    in fp32 or int8, shipped by the driver), torch otherwise."""
    if options.backend != "auto":
        return options.backend
    runs_onnx = (
        options.strategy == "nli"
        and not options.shortlist
        and precision in ONNX_PRECISIONS
        and options.distribution != "path"
        and not on_gpu
    )
    return "onnx" if runs_onnx else "torch"


def resolve_devices(spark, options: ClassifierConfig) -> ClassifierConfig:
    """`options` checked against the devices this session's tasks get, with precision and
    backend auto replaced by what they run: scores differ by both, so lineage must hash what
    ran, and tasks given it cannot run another."""
    check_devices(spark, options.engine)
    precision = task_precision(spark, options.engine)
    backend = resolve_backend(options, precision, tasks_run_on_gpus(spark, options.engine))
    return options.replace(precision=precision, backend=backend)
