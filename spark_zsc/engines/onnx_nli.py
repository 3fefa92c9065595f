"""The NLI engine on ONNX Runtime, for CPU workers that must stay small.

A worker running it imports onnxruntime, tokenizers and numpy, never torch or transformers
(together about 130 MB instead of about 580 MB), and reads a model the driver exported once
(`runtime/onnx_export.py`): `model.onnx` with its weights beside it in `model.onnx.data`,
`tokenizer.json`, and `spark_zsc_onnx.json`, what the engine needs from the model's config.

The weights file is memory-mapped, not read: in fp32 the weights stay pages of the node's file,
shared by every worker of the node and given back under memory pressure. In int8, ONNX
Runtime packs them for its integer kernels once, a quarter of fp32's size.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .batching import TokenSequences, batch_order, count_batch, in_sequence_order, plan_runs
from .nli_scoring import NliEngine
from .results import BatchStats

MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.onnx.data"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "spark_zsc_onnx.json"
LOGITS = "logits"


@dataclass(frozen=True)
class OnnxModelConfig:
    """What the engine reads from the model's config and tokenizer, written by the export."""

    label2id: dict
    num_labels: int
    max_length: int  # the longest input the model takes
    pad_id: int
    input_names: tuple  # the graph's inputs: input_ids, attention_mask[, token_type_ids]
    precision: str  # fp32 or int8

    def write(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, folder: Path) -> "OnnxModelConfig":
        values = json.loads((folder / CONFIG_FILE).read_text())
        return cls(**{**values, "input_names": tuple(values["input_names"])})


@dataclass(frozen=True)
class WorkerTokenizer:
    """A `tokenizers` tokenizer with the two facts the pair encoder asks a transformers
    tokenizer for: its backend, and whether the model takes token type ids."""

    backend_tokenizer: object
    model_input_names: tuple


@dataclass
class OnnxModel:
    """An ONNX Runtime session over an exported model, and the model's config."""

    session: Any  # onnxruntime.InferenceSession
    config: OnnxModelConfig
    tokenizer: WorkerTokenizer

    @classmethod
    def load(cls, folder: Path, threads: int) -> "OnnxModel":
        import onnxruntime
        from tokenizers import Tokenizer

        config = OnnxModelConfig.read(folder)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Exact batch shapes change with every batch: buffers planned for one shape are not
        # reused by the next, and planning them raised the peak by about 200 MB (int8, 4,096 tokens)
        options.enable_mem_pattern = False
        if config.precision == "fp32":
            # packing copies the weights out of the mapped file into the worker's own memory
            # (no faster in fp32): unpacked, they stay shared pages of the node's file
            options.add_session_config_entry("session.disable_prepacking", "1")
        session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = WorkerTokenizer(Tokenizer.from_file(str(folder / TOKENIZER_FILE)), config.input_names)
        return cls(session, config, tokenizer)


class ReadyLogits:
    """Logits already on the host (ONNX Runtime on CPU runs each batch as it is called)."""

    def __init__(self, logits: np.ndarray):
        self._logits = logits

    def numpy(self) -> np.ndarray:
        return self._logits


class OnnxZeroShotEngine(NliEngine):
    """`NliEngine` whose model runs on ONNX Runtime, on the CPU."""

    tokenizes_ahead = False  # type: ignore[assignment]  # a CPU: tokenizing competes for its cores

    def __init__(self, model: OnnxModel, *, max_length: Optional[int] = None, token_budget: int = 4096):
        self.model = model
        limit = model.config.max_length
        super().__init__(
            model.tokenizer,
            label2id=model.config.label2id,
            max_length=min(limit, max_length) if max_length else limit,
            pad_id=model.config.pad_id,
            token_budget=token_budget,
            shape_buckets=False,  # a CPU pays for every padded token
        )

    def run_pairs(self, sequences: TokenSequences, stats: BatchStats) -> ReadyLogits:
        started = time.perf_counter()
        names = self.model.config.input_names
        lengths = sequences.lengths
        batches = plan_runs(lengths, self.token_budget, None)
        outputs = np.empty((len(sequences), self.model.config.num_labels), dtype=np.float32)
        filled = 0
        for batch in batches:
            arrays = sequences.gather(batch.indices, batch.rows, batch.width, self.pad_id)
            feed = {name: array for name, array in zip(names, arrays) if array is not None}
            (logits,) = self.model.session.run([LOGITS], feed)
            outputs[filled : filled + len(batch.indices)] = logits[: len(batch.indices)]
            filled += len(batch.indices)
            count_batch(stats, batch, lengths)
        stats.forward_seconds += time.perf_counter() - started
        return ReadyLogits(in_sequence_order(outputs, batch_order(batches)))
