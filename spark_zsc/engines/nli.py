"""The NLI engine on a torch model (on CPU or a GPU): `NliEngine`'s pairs and scores, the
model's logits from torch in batches on the device.
"""

from __future__ import annotations

from typing import Optional

import torch

from .bart_fast import last_eos_forward
from .batching import TokenSequences, sequence_limit
from .nli_scoring import NliEngine
from .results import BatchStats
from .torch_batches import ForwardFn, PendingOutputs, launch_batches, model_inputs


class ZeroShotEngine(NliEngine):
    """Scores (text, candidate labels) rows with one torch NLI model; no Spark anywhere.

    >>> engine = ZeroShotEngine(model, tokenizer)                      # doctest: +SKIP
    >>> engine.classify(["The team won"], [["sports", "politics"]])[0] # doctest: +SKIP
    [('sports', 0.93, ['sports', 'politics'], [0.93, 0.07])]
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        max_length: Optional[int] = None,
        token_budget: int = 4096,
        device: str | torch.device = "cpu",
        forward: Optional[ForwardFn] = None,
        shape_buckets: Optional[bool] = None,
    ):
        self.model = model.eval()
        self.device = torch.device(device)
        super().__init__(
            tokenizer,
            label2id=model.config.label2id,
            max_length=sequence_limit(model, tokenizer, max_length),
            pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            token_budget=token_budget,
            # a GPU reuses kernels and memory across a few shapes; a CPU pays for every padded token
            shape_buckets=self.device.type == "cuda" if shape_buckets is None else shape_buckets,
        )
        self._forward = forward or last_eos_forward(self.model) or self._model_forward

    def _model_forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(**model_inputs(input_ids, attention_mask, token_type_ids)).logits

    def run_pairs(self, sequences: TokenSequences, stats: BatchStats) -> PendingOutputs:
        return launch_batches(
            sequences,
            self._forward,
            pad_id=self.pad_id,
            token_budget=self.token_budget,
            device=self.device,
            stats=stats,
            width=self.model.config.num_labels,
            shape_limit=self.max_length if self.shape_buckets else None,
        )
