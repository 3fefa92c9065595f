"""Batches on a torch device: outputs stay on the device until a chunk is done and come back in
one copy, with no host synchronisation per batch, so the CPU builds the next batch while the
GPU runs this one."""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np
import torch

from .batching import TokenSequences, batch_order, count_batch, in_sequence_order, plan_runs
from .results import BatchStats

# (input_ids, attention_mask, token_type_ids or None) -> one output row per sequence
ForwardFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def model_inputs(input_ids, attention_mask, token_type_ids) -> dict:
    """A transformers model's keyword arguments; token type ids only for models that take them."""
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if token_type_ids is not None:
        inputs["token_type_ids"] = token_type_ids
    return inputs


class PendingOutputs:
    """A chunk's model outputs in batch order; `numpy()` hands them over in sequence order.

    On a GPU the copy back is queued right behind the chunk's last batch, into pinned host
    memory, with an event after it: `numpy()` waits for that event, so for this chunk's work
    only, not for the next chunk's batches queued meanwhile (a plain `.cpu()` would wait for
    everything queued on the stream)."""

    def __init__(self, outputs: torch.Tensor, order: np.ndarray, stats: BatchStats):
        self._order, self._stats, self._copied = order, stats, None
        if outputs.device.type == "cuda":
            self._host = torch.empty(outputs.shape, dtype=outputs.dtype, pin_memory=True)
            self._host.copy_(outputs, non_blocking=True)  # read only after the event below
            self._copied = torch.cuda.Event()
            self._copied.record(torch.cuda.current_stream(outputs.device))  # the outputs' device's stream
        else:
            self._host = outputs

    def numpy(self) -> np.ndarray:
        started = time.perf_counter()
        if self._copied is not None:
            self._copied.synchronize()  # the chunk's one wait for the device
        in_batch_order = self._host.numpy()
        self._stats.forward_seconds += time.perf_counter() - started
        return in_sequence_order(in_batch_order, self._order)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on `device`: through pinned memory and without waiting, on a GPU."""
    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def launch_batches(
    sequences: TokenSequences,
    forward: ForwardFn,
    *,
    pad_id: int,
    token_budget: int,
    device: torch.device,
    stats: BatchStats,
    width: int,
    shape_limit: Optional[int] = None,
) -> PendingOutputs:
    """Queue `forward` over every sequence, `width` float32 outputs each. With `shape_limit`
    (the longest sequence the model takes), batches use the shape ladder; without, exact shapes."""
    started = time.perf_counter()
    outputs = torch.empty((len(sequences), width), dtype=torch.float32, device=device)
    lengths = sequences.lengths
    batches = plan_runs(lengths, token_budget, shape_limit)
    filled = 0
    with torch.inference_mode():
        for batch in batches:
            ids, mask, types = sequences.gather(batch.indices, batch.rows, batch.width, pad_id)
            moved_types = to_device(types, device) if types is not None else None
            real = len(batch.indices)
            logits = forward(to_device(ids, device), to_device(mask, device), moved_types)
            outputs[filled : filled + real] = logits[:real].float()
            filled += real
            count_batch(stats, batch, lengths)
    stats.forward_seconds += time.perf_counter() - started
    return PendingOutputs(outputs, batch_order(batches), stats)
