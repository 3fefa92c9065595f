"""One model per Python worker process, loaded on first use and kept across tasks.

Operational truths (the reasons this module looks the way it does):

- It needs `spark.python.worker.reuse=true` (Spark's default): a worker, and so this
  cache, lives across tasks, partitions, actions and classifiers. A worker idle for
  about a minute is killed by Spark; the next task then loads the model again.
- Entries are keyed by the weights' content fingerprint and the device, never by a
  random id, so a new classifier or a re-created UDF over the same weights reuses the
  loaded model, and a reused worker never runs on a GPU another task was given.
- It holds at most MODELS_PER_WORKER models, dropping the least recently used; two,
  so that a shortlist cascade (a sentence encoder and an NLI model) stays loaded.
- Each concurrent task has its own worker process, so N task slots hold N models;
  loading from the node-local copy (node_store) lets them share the weights' pages.
- Spark sets OMP_NUM_THREADS to spark.task.cpus in workers; torch threads are set
  explicitly for every task so that a worker follows the current task's share.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from ..engines.cascade import CascadeEngine
from .devices import resolve_device, resolve_precision
from ..engines.embedding import EmbeddingEngine
from ..engines.nli import ZeroShotEngine
from .model_source import EMBEDDING, NLI, SENTENCE_CONFIG
from .node_store import model_folder
from ..options import DEFAULT_TOKEN_BUDGET, GPU_TOKEN_BUDGET, EngineOptions, StrategyOptions

log = logging.getLogger("spark_zsc")


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    seconds: float
    max_length: Optional[int]  # the model's own limit where it states one (sentence encoders)


# Least recently used first. A worker keeps a few models, not every model a notebook ever tried.
MODELS_PER_WORKER = 2
_models: "OrderedDict[tuple, LoadedModel]" = OrderedDict()
_engines: dict[tuple, object] = {}  # light wrappers over _models, one per engine setting
_lock = threading.Lock()


def _worker_log_handler() -> None:
    """Executors' Python workers configure no logging: send ours to stderr, which Spark
    keeps in the executor's log."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "float32"}


def _load(folder, kind: str, device: str, precision: str) -> LoadedModel:
    import json

    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load would fill executor logs
    started = time.perf_counter()
    auto_class = AutoModelForSequenceClassification if kind == NLI else AutoModel
    # safetensors are memory-mapped: on CPU in fp32 the parameters stay views of the node-local
    # file, so every worker of a node shares its pages
    model = auto_class.from_pretrained(
        folder, use_safetensors=True, trust_remote_code=False, dtype=getattr(torch, _DTYPES[precision])
    )
    model = model.to(device).eval()
    if precision == "int8":
        # dynamic int8 of the Linear layers: faster on CPU, scores move slightly; the
        # quantized weights are this worker's own copy
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    sentence_config = folder / SENTENCE_CONFIG
    max_length = json.loads(sentence_config.read_text()).get("max_seq_length") if sentence_config.is_file() else None
    return LoadedModel(model, tokenizer, time.perf_counter() - started, max_length)


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
    import torch

    device = resolve_device(options)
    precision = resolve_precision(options, device)
    torch.set_num_threads(task_threads(options))
    token_budget = options.token_budget or (GPU_TOKEN_BUDGET if device.startswith("cuda") else DEFAULT_TOKEN_BUDGET)
    engines, load_seconds = {}, 0.0
    model_keys = {kind: (kind, models[kind].fingerprint, device, precision) for kind in strategy.model_kinds}
    with _lock:
        for key in model_keys.values():  # all of them recent first, so that loading one never evicts another
            if key in _models:
                _models.move_to_end(key)
        for kind, model_key in model_keys.items():
            loaded = _models.get(model_key)
            if loaded is None:
                loaded = _models[model_key] = _load_into_cache(kind, models[kind], device, precision)
                load_seconds += loaded.seconds
            engines[kind] = _engine(model_key, loaded, options.max_length, token_budget)
    if EMBEDDING in engines:  # scoring settings vary by classifier; the engine and its caches do not
        engines[EMBEDDING] = engines[EMBEDDING].with_scoring(strategy.temperature, strategy.threshold)
    if strategy.shortlist:
        return CascadeEngine(engines[EMBEDDING], engines[NLI], strategy.shortlist), load_seconds
    return engines[strategy.model_kinds[0]], load_seconds


def _load_into_cache(kind: str, handle, device: str, precision: str) -> LoadedModel:
    import torch

    _worker_log_handler()
    folder = model_folder(handle)
    loaded = _load(folder, kind, device, precision)
    while len(_models) >= MODELS_PER_WORKER:
        evicted, _ = _models.popitem(last=False)
        for key in [k for k in _engines if k[:4] == evicted]:
            del _engines[key]
    log.info(
        "pid %d loaded %s model %s on %s in %s in %.2f s (%d torch threads)",
        os.getpid(), kind, handle.fingerprint[:12], device, precision, loaded.seconds, torch.get_num_threads(),
    )
    return loaded


def _engine(model_key: tuple, loaded: LoadedModel, max_length, token_budget: int):
    kind, device = model_key[0], model_key[2]
    engine_key = (*model_key, max_length, token_budget)
    engine = _engines.get(engine_key)
    if engine is None:
        if kind == NLI:
            engine = ZeroShotEngine(loaded.model, loaded.tokenizer, max_length=max_length,
                                    token_budget=token_budget, device=device)
        else:
            limits = [n for n in (max_length, loaded.max_length) if n]
            engine = EmbeddingEngine(loaded.model, loaded.tokenizer, max_length=min(limits) if limits else None,
                                     token_budget=token_budget, device=device)
        engine = _engines[engine_key] = engine
    return engine
