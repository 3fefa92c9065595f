"""What a Python worker does to get an engine for a task: take the task's device and
threads, find or load the models in the worker's cache, and assemble the strategy's engine.

Spark sets OMP_NUM_THREADS to spark.task.cpus in workers; torch threads are set for every
task, so a reused worker follows the current task's share (an ONNX Runtime session keeps the
threads of the task that loaded it). The cache and its rules are in `model_cache`.

Under backend onnx a worker imports neither torch nor transformers: everything torch is
imported where a torch model is loaded or run.
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass
from typing import Optional

from ..engines.onnx_nli import OnnxModel, OnnxZeroShotEngine
from ..log import log, log_to_stderr
from ..options import EngineOptions, StrategyOptions, default_token_budget
from .cpu_precisions import quantized_int8
from .devices import task_device_and_precision
from .model_cache import ModelCache, ModelKey
from .model_source import EMBEDDING, NLI, SENTENCE_CONFIG
from .node_store import model_folder

MODELS_PER_WORKER = 2  # a shortlist cascade runs two
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "float32"}


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    seconds: float
    max_length: Optional[int]  # the model's own limit where it states one (sentence encoders)


def load_model(folder, kind: str, device: str, precision: str) -> LoadedModel:
    """A model and its tokenizer from a verified folder, on `device` in `precision`."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load would fill executor logs
    started = time.perf_counter()
    auto_class = AutoModelForSequenceClassification if kind == NLI else AutoModel
    # safetensors are memory-mapped: on CPU in fp32 the parameters stay views of the node's
    # file, so every worker of a node shares its pages
    model = auto_class.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=False, dtype=getattr(torch, _DTYPES[precision])
    )
    model = model.to(device).eval()
    if precision == "int8":
        model = quantized_int8(model)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    return LoadedModel(model, tokenizer, time.perf_counter() - started, stated_max_length(folder))


def stated_max_length(folder) -> Optional[int]:
    """A sentence encoder's own limit (its sentence_bert_config.json), where it states one."""
    sentence_config = folder / SENTENCE_CONFIG
    return (
        json.loads(sentence_config.read_text()).get("max_seq_length") if sentence_config.is_file() else None
    )


def engine_max_length(kind: str, max_length: int, stated: Optional[int]) -> Optional[int]:
    """The max_length an engine is built with: the configured one (0: none), and for a
    sentence encoder no more than its stated limit (None: the tokenizer's limit)."""
    limits = [n for n in (max_length, stated if kind == EMBEDDING else None) if n]
    return min(limits) if limits else None


def _drop_engines(evicted: ModelKey) -> None:
    for key in [k for k in _engines if k[: len(evicted)] == evicted]:
        del _engines[key]


_models: ModelCache[LoadedModel] = ModelCache(MODELS_PER_WORKER, on_evict=_drop_engines)
_engines: dict[tuple, object] = {}  # light wrappers over the cached models, one per engine setting


def task_threads(options: EngineOptions) -> int:
    """torch threads for this task: the configured number, else the CPUs Spark gave the task."""
    if options.threads:
        return options.threads
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None:
            return max(1, context.cpus())
    except Exception:  # outside Spark (tests of the engine, benchmarks)
        pass
    return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))


def engine_for(models: dict, options: EngineOptions, strategy: StrategyOptions):
    """This worker's engine for `strategy` over `models` (kind -> distribution handle), and
    the seconds spent loading models now (0.0 when they were loaded already). A handle's
    files are fetched only if its model is not cached."""
    threads = task_threads(options)
    if options.backend == "onnx":  # on the CPU, in the precision the driver converted to
        device, precision = "cpu", options.precision
    else:
        import torch

        device, precision = task_device_and_precision(options)
        torch.set_num_threads(threads)
        if device.startswith("cuda"):
            keep_to_one_gpu(_models, device)
    token_budget = options.token_budget or default_token_budget(options.backend, device)
    keys = {
        kind: ModelKey(kind, models[kind].fingerprint, device, precision) for kind in strategy.model_kinds
    }
    handles = {key: models[kind] for kind, key in keys.items()}
    loaded, loaded_now = _models.acquire(
        list(keys.values()), lambda key: _load(key, handles[key], options.backend, threads)
    )
    engines = {
        kind: _engine(key, loaded[key], options.max_length, token_budget) for kind, key in keys.items()
    }
    if EMBEDDING in engines:  # scoring settings vary by classifier; the engine and its caches do not
        engines[EMBEDDING] = engines[EMBEDDING].with_scoring(strategy.temperature, strategy.threshold)
    load_seconds = sum(loaded[key].seconds for key in loaded_now)
    if strategy.shortlist:
        from ..engines.cascade import CascadeEngine

        return CascadeEngine(engines[EMBEDDING], engines[NLI], strategy.shortlist), load_seconds
    return engines[strategy.model_kinds[0]], load_seconds


def on_another_gpu(device: str):
    """Whether a cached model's key puts it on a GPU other than `device`."""
    return lambda key: key.device.startswith("cuda") and key.device != device


def keep_to_one_gpu(cache: ModelCache, device: str) -> None:
    """Make `device` this worker's current GPU, and let go of models on any other: Spark gave
    this task `device`, and another task's worker may now be using the old one."""
    import torch

    if cache.drop(on_another_gpu(device)):
        gc.collect()  # the dropped models' tensors freed now, then their cached blocks released
        torch.cuda.empty_cache()
    torch.cuda.set_device(device)  # events, pinned buffers and new tensors default to it


def _load(key: ModelKey, handle, backend: str, threads: int) -> LoadedModel:
    log_to_stderr()  # executors' Python workers configure no logging; Spark keeps stderr in the executor's log
    folder = model_folder(handle)
    if backend == "onnx":
        started = time.perf_counter()
        onnx_model = OnnxModel.load(folder, threads)
        loaded = LoadedModel(onnx_model, onnx_model.tokenizer, time.perf_counter() - started, None)
    else:
        loaded = load_model(folder, key.kind, key.device, key.precision)
    log.info(
        "pid %d loaded %s model %s on %s in %s by %s in %.2f s (%d threads)",
        os.getpid(),
        key.kind,
        key.fingerprint[:12],
        key.device,
        key.precision,
        backend,
        loaded.seconds,
        threads,
    )
    return loaded


def _engine(model_key: ModelKey, loaded: LoadedModel, max_length, token_budget: int):
    engine_key = (*model_key, max_length, token_budget)
    engine = _engines.get(engine_key)
    if engine is None:
        if isinstance(loaded.model, OnnxModel):
            engine = OnnxZeroShotEngine(
                loaded.model, max_length=max_length or None, token_budget=token_budget
            )
        elif model_key.kind == NLI:
            from ..engines.nli import ZeroShotEngine

            engine = ZeroShotEngine(
                loaded.model,
                loaded.tokenizer,
                max_length=max_length,
                token_budget=token_budget,
                device=model_key.device,
            )
        else:
            from ..engines.embedding import EmbeddingEngine

            engine = EmbeddingEngine(
                loaded.model,
                loaded.tokenizer,
                max_length=engine_max_length(EMBEDDING, max_length, loaded.max_length),
                token_budget=token_budget,
                device=model_key.device,
            )
        engine = _engines[engine_key] = engine
    return engine
