"""What every NLI engine shares, whatever runs its model: rows made into distinct (text,
hypothesis) pairs of token ids, and logits made into each row's scores as
`transformers.pipeline("zero-shot-classification")` makes them. No torch here: an engine on
ONNX Runtime uses it without importing torch.

    rows -> distinct (text, hypothesis) pairs -> token ids -> [the model's runner: batches
         -> logits] -> scores per row, in row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from .batching import PendingLogits, StagedEngine, TokenSequences
from .hypotheses import Hypotheses
from .pairs import PairEncoder
from .results import BatchStats, Result, ranked, usable_rows
from .windows import TRUNCATED, LongText, TextWindows


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
    """Scores of one row's labels from their float32 logits: (n_labels, n_classes), or
    (n_windows, n_labels, n_classes) for a text read in windows.

    Multi-label, and always with a single label: softmax of [contradiction, entailment] per
    label (over windows: the best window's). Single-label: softmax across the labels of the
    entailment logits (over windows: each label's highest), so the window that supports a
    label best speaks for it.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 2:
        logits = logits[None]
    if multi_label or logits.shape[1] == 1:
        pair = logits[..., [contradiction, entailment]]
        pair = np.exp(pair - pair.max(axis=-1, keepdims=True))
        return (pair[..., 1] / pair.sum(axis=-1)).max(axis=0)
    entail = logits[..., entailment].max(axis=0)
    entail = np.exp(entail - entail.max())
    return entail / entail.sum()


class NliEngine(StagedEngine):
    """Scores (text, candidate labels) rows with one NLI model; no Spark anywhere.

    Each distinct text and each distinct (text, hypothesis) pair is run once, however
    many rows repeat it. Subclasses run the model: `run_pairs` queues every pair's logits.
    """

    def __init__(
        self,
        tokenizer,
        *,
        label2id: dict,
        max_length: int,
        pad_id: int,
        token_budget: int,
        shape_buckets: bool,
    ):
        self.entailment_id, self.contradiction_id = entailment_and_contradiction_ids(label2id)
        self.max_length = max_length
        self.encoder = PairEncoder(tokenizer, max_length)
        self.pad_id = pad_id
        self.token_budget = token_budget
        self.shape_buckets = shape_buckets

    def run_pairs(self, sequences: TokenSequences, stats: BatchStats) -> PendingLogits:
        """Every sequence's logits, queued on the model's device."""
        raise NotImplementedError

    def prepare(
        self, texts, labels, hypothesis_template: Union[str, Hypotheses], long_text: LongText = TRUNCATED
    ) -> "PreparedRows":
        """The CPU half: bad rows set aside, distinct pairs found and tokenized. A row's pairs
        are one per (window, label): one window unless a long text is read in chunks."""
        stats = BatchStats()
        wording = Hypotheses.of(hypothesis_template)
        row_labels, text_ids = usable_rows(texts, labels, stats)
        hypotheses = list(dict.fromkeys(l for row in row_labels for l in row))
        hypothesis_ids = {l: i for i, l in enumerate(hypotheses)}
        premises = self.encoder.encode_texts(list(text_ids))
        hypothesis_tokens = self.encoder.encode_hypotheses([wording(l) for l in hypotheses])
        windows = TextWindows(long_text, stats)
        window_ids: dict[tuple[int, int, int], int] = {}  # (text, start, end) -> its premise
        pair_index: dict[tuple[int, int], int] = {}
        row_pairs: list[Optional[np.ndarray]] = []
        for text, candidates in zip(texts, row_labels):
            if not candidates:
                row_pairs.append(None)
                continue
            t = text_ids[str(text)]
            label_ids = [hypothesis_ids[l] for l in candidates]
            # windows fit beside the row's longest hypothesis, so every label reads the same ones
            room = self.encoder.premise_room(max(len(hypothesis_tokens[h]) for h in label_ids))
            spans = windows.of_row(t, len(premises[t]), room)
            premise_ids = (
                [t] if len(spans) == 1 else [self._window(premises, window_ids, t, s) for s in spans]
            )
            row_pairs.append(
                np.array(
                    [[pair_index.setdefault((p, h), len(pair_index)) for h in label_ids] for p in premise_ids]
                )
            )
            stats.pairs += len(candidates)

        index = np.array(list(pair_index), dtype=np.int64).reshape(-1, 2)
        sequences = self.encoder.pairs(premises, hypothesis_tokens, index[:, 0], index[:, 1])
        return PreparedRows(row_labels, row_pairs, sequences, stats)

    @staticmethod
    def _window(premises: list, window_ids: dict, text: int, span: tuple[int, int]) -> int:
        """The premise of one window of a text, added to `premises` the first time it is met."""
        key = (text, *span)
        if key not in window_ids:
            window_ids[key] = len(premises)
            premises.append(premises[text][span[0] : span[1]])
        return window_ids[key]

    def launch(self, prepared: "PreparedRows") -> tuple["PreparedRows", PendingLogits]:
        """The model's work for every distinct pair, queued on the device."""
        logits = self.run_pairs(prepared.sequences, prepared.stats)
        prepared.stats.forward_pairs += len(prepared.sequences)
        return prepared, logits

    def finish(
        self, launched: tuple["PreparedRows", PendingLogits], multi_label: bool
    ) -> tuple[list[Optional[Result]], BatchStats]:
        """Logits back on the host, then each row's scores in the pipeline's order."""
        prepared, pending = launched
        logits = pending.numpy()
        stats = prepared.stats
        results: list[Optional[Result]] = []
        for candidates, pairs in zip(prepared.row_labels, prepared.row_pairs):
            if pairs is None:
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
    row_pairs: list  # per row: (windows, labels) pair indices, None for a row not classified
    sequences: TokenSequences
    stats: BatchStats
