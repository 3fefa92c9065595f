"""The Spark-free scoring engine: texts and candidate labels in, zero-shot scores out.

It follows `transformers.pipeline("zero-shot-classification")` (REFERENCE.md section 2)
score for score, and spends the model's time only on work whose result is read:

    rows -> distinct (text, hypothesis) pairs -> token ids -> batches of similar length
         under a token budget -> logits -> scores per row, in row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .bart_fast import last_eos_forward
from .batching import (
    ForwardFn,
    PendingOutputs,
    StagedEngine,
    TokenSequences,
    launch_batches,
    model_inputs,
    sequence_limit,
)
from .pairs import PairEncoder
from .results import BatchStats, Result, ranked, usable_rows


def entailment_and_contradiction_ids(label2id: dict) -> tuple[int, int]:
    """The pipeline's rule: the first label starting with "entail" (any case); contradiction is 0,
    or -1 when entailment is 0. Raises when the model has no entailment label."""
    for name, index in label2id.items():
        if str(name).lower().startswith("entail"):
            return int(index), (-1 if int(index) == 0 else 0)
    raise ValueError(
        f"the model's config.label2id {dict(label2id)} has no label starting with 'entail': "
        "zero-shot classification needs an NLI model (one trained on MNLI or similar)"
    )


def scores_from_logits(
    logits: np.ndarray, entailment: int, contradiction: int, multi_label: bool
) -> np.ndarray:
    """Scores of one row's labels from their (n_labels, n_classes) float32 logits.

    Multi-label, and always with a single label: softmax of [contradiction, entailment] per
    label. Single-label: softmax of the entailment logits across the labels.
    """
    logits = logits.astype(np.float64)
    if multi_label or len(logits) == 1:
        pair = logits[:, [contradiction, entailment]]
        pair = np.exp(pair - pair.max(axis=1, keepdims=True))
        return pair[:, 1] / pair.sum(axis=1)
    entail = logits[:, entailment]
    entail = np.exp(entail - entail.max())
    return entail / entail.sum()


class ZeroShotEngine(StagedEngine):
    """Scores (text, candidate labels) rows with one NLI model; no Spark anywhere.

    Each distinct text and each distinct (text, hypothesis) pair is run once, however
    many rows repeat it.

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
        self.entailment_id, self.contradiction_id = entailment_and_contradiction_ids(model.config.label2id)
        self.max_length = sequence_limit(model, tokenizer, max_length)
        self.encoder = PairEncoder(tokenizer, self.max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.token_budget = token_budget
        # a GPU reuses kernels and memory across a few shapes; a CPU pays for every padded token
        self.shape_buckets = self.device.type == "cuda" if shape_buckets is None else shape_buckets
        self._forward = forward or last_eos_forward(self.model) or self._model_forward

    def _model_forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(**model_inputs(input_ids, attention_mask, token_type_ids)).logits

    def prepare(self, texts, labels, hypothesis_template: str) -> "PreparedRows":
        """The CPU half: bad rows set aside, distinct pairs found and tokenized."""
        stats = BatchStats()
        row_labels, text_ids = usable_rows(texts, labels, stats)
        hypotheses = list(dict.fromkeys(l for row in row_labels for l in row))
        hypothesis_ids = {l: i for i, l in enumerate(hypotheses)}
        pair_index: dict[tuple[int, int], int] = {}
        row_pairs: list[list[int]] = []
        for text, candidates in zip(texts, row_labels):
            t = text_ids.get(str(text)) if candidates else None
            row_pairs.append(
                [pair_index.setdefault((t, hypothesis_ids[l]), len(pair_index)) for l in candidates]
            )
            stats.pairs += len(candidates)

        premises = self.encoder.encode_texts(list(text_ids))
        hypothesis_tokens = self.encoder.encode_hypotheses(
            [hypothesis_template.format(l) for l in hypotheses]
        )
        index = np.array(list(pair_index), dtype=np.int64).reshape(-1, 2)
        sequences = self.encoder.pairs(premises, hypothesis_tokens, index[:, 0], index[:, 1])
        return PreparedRows(row_labels, row_pairs, sequences, stats)

    def launch(self, prepared: "PreparedRows") -> tuple["PreparedRows", PendingOutputs]:
        """The model's work for every distinct pair, queued on the device."""
        logits = launch_batches(
            prepared.sequences,
            self._forward,
            pad_id=self.pad_id,
            token_budget=self.token_budget,
            device=self.device,
            stats=prepared.stats,
            width=self.model.config.num_labels,
            shape_limit=self.max_length if self.shape_buckets else None,
        )
        prepared.stats.forward_pairs += len(prepared.sequences)
        return prepared, logits

    def finish(
        self, launched: tuple["PreparedRows", PendingOutputs], multi_label: bool
    ) -> tuple[list[Optional[Result]], BatchStats]:
        """Logits back on the host, then each row's scores in the pipeline's order."""
        prepared, pending = launched
        logits = pending.numpy()
        stats = prepared.stats
        results: list[Optional[Result]] = []
        for candidates, pairs in zip(prepared.row_labels, prepared.row_pairs):
            if not candidates:
                results.append(None)
                continue
            scores = scores_from_logits(logits[pairs], self.entailment_id, self.contradiction_id, multi_label)
            results.append(ranked(candidates, scores, stats))
        return results, stats


@dataclass
class PreparedRows:
    """Rows made ready for the model: each row's cleaned labels and pair indices, and the
    distinct pairs' token ids."""

    row_labels: list
    row_pairs: list
    sequences: TokenSequences
    stats: BatchStats
