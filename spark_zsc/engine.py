"""The Spark-free scoring engine: texts and candidate labels in, zero-shot scores out.

It follows `transformers.pipeline("zero-shot-classification")` (REFERENCE.md section 2)
score for score, and spends the model's time only on work whose result is read:

    rows -> distinct (text, hypothesis) pairs -> token ids -> batches of similar length
         under a token budget -> logits -> scores per row, in row order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from .bart_fast import last_eos_forward
from .pairs import PairEncoder

# One row's answer: top label, its score, every label and score, best first.
Result = tuple[str, float, list[str], list[float]]

SKIP_REASONS = ("null_text", "blank_text", "no_labels")


@dataclass
class BatchStats:
    """What one call of `ZeroShotEngine.classify` did; summed into the classifier's metrics."""

    rows: int = 0
    classified: int = 0
    skipped_null_text: int = 0
    skipped_blank_text: int = 0
    skipped_no_labels: int = 0
    pairs: int = 0  # (row, label) pairs the rows asked for
    forward_pairs: int = 0  # distinct pairs the model ran
    tokens: int = 0  # real tokens the model ran
    padded_tokens: int = 0  # padding added to fill forward batches
    forward_batches: int = 0
    forward_seconds: float = 0.0
    top_labels: dict = field(default_factory=dict)  # top label -> rows

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["skipped"] = sum(out[f"skipped_{r}"] for r in SKIP_REASONS)
        return out


def clean_labels(labels: Optional[Sequence[Optional[str]]]) -> list[str]:
    """Per-row labels as the engine uses them: blanks dropped, duplicates kept once, first wins."""
    if labels is None:
        return []
    return list(dict.fromkeys(l for l in labels if isinstance(l, str) and l.strip()))


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


def scores_from_logits(logits: np.ndarray, entailment: int, contradiction: int, multi_label: bool) -> np.ndarray:
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


def plan_batches(lengths: Sequence[int], token_budget: int, max_padding: float = 0.05) -> list[list[int]]:
    """Indices grouped into forward batches, longest first. A batch holds pairs within
    `max_padding` of its longest (so padding stays under that share) and at most
    `token_budget` tokens, padding included; a pair longer than the budget runs alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, start = [], 0
    while start < len(order):
        width = max(lengths[order[start]], 1)
        rows_cap = max(1, token_budget // width)
        end = start + 1
        while end < len(order) and end - start < rows_cap and lengths[order[end]] >= width * (1 - max_padding):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


ForwardFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


class ZeroShotEngine:
    """Scores (text, candidate labels) rows with one NLI model; no Spark anywhere.

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
    ):
        self.model = model.eval()
        self.device = torch.device(device)
        self.entailment_id, self.contradiction_id = entailment_and_contradiction_ids(model.config.label2id)
        limit = tokenizer.model_max_length
        if not limit or limit > 1_000_000:  # tokenizers without a limit report a huge sentinel
            limit = getattr(model.config, "max_position_embeddings", 512)
        self.max_length = min(limit, max_length) if max_length else limit
        self.encoder = PairEncoder(tokenizer, self.max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.token_budget = token_budget
        self._forward = forward or last_eos_forward(self.model) or self._model_forward

    def _model_forward(self, input_ids, attention_mask, token_type_ids):
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        return self.model(**kwargs).logits

    def classify(
        self,
        texts: Sequence[Optional[str]],
        labels: Sequence[Optional[Sequence[str]]],
        *,
        hypothesis_template: str = "This example is {}.",
        multi_label: bool = False,
    ) -> tuple[list[Optional[Result]], BatchStats]:
        """One result per row (None for a row that cannot be classified) and what it cost.

        `labels[i]` are row i's candidate labels (already validated for fixed labels;
        cleaned here for per-row ones). Each distinct text and each distinct (text,
        hypothesis) pair is run once, however many rows repeat it.
        """
        return self.score(self.prepare(texts, labels, hypothesis_template), multi_label)

    def classify_stream(
        self,
        chunks: Iterable[tuple[Sequence[Optional[str]], Sequence[Optional[Sequence[str]]]]],
        *,
        hypothesis_template: str = "This example is {}.",
        multi_label: bool = False,
        overlap: bool = False,
    ) -> Iterator[tuple[list[Optional[Result]], BatchStats]]:
        """`classify` for each (texts, labels) chunk, in order. With `overlap`, the next chunk
        is tokenized on a second thread while the model runs the current one: that pays on a
        GPU, where the CPU is otherwise idle during the forward (on CPU both compete for cores)."""
        if not overlap:
            for texts, labels in chunks:
                yield self.classify(texts, labels, hypothesis_template=hypothesis_template, multi_label=multi_label)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark_zsc-tokenize") as tokenizer_thread:
            pending = None
            for texts, labels in chunks:
                following = tokenizer_thread.submit(self.prepare, texts, labels, hypothesis_template)
                if pending is not None:
                    yield self.score(pending.result(), multi_label)
                pending = following
            if pending is not None:
                yield self.score(pending.result(), multi_label)

    def prepare(self, texts, labels, hypothesis_template: str) -> "PreparedRows":
        """The CPU half: bad rows set aside, distinct pairs found and tokenized."""
        stats = BatchStats(rows=len(texts))
        row_labels: list[list[str]] = [[] for _ in texts]
        text_ids: dict[str, int] = {}
        for i, (text, candidates) in enumerate(zip(texts, labels)):
            if text is None or (isinstance(text, float) and np.isnan(text)):
                stats.skipped_null_text += 1
            elif not str(text).strip():
                stats.skipped_blank_text += 1
            elif not (cleaned := clean_labels(candidates)):
                stats.skipped_no_labels += 1
            else:
                row_labels[i] = cleaned
                text_ids.setdefault(str(text), len(text_ids))

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

        encoded = []
        if pair_index:
            premises = self.encoder.encode_texts(list(text_ids))
            hypothesis_tokens = self.encoder.encode_hypotheses([hypothesis_template.format(l) for l in hypotheses])
            encoded = [self.encoder.join(premises[t], hypothesis_tokens[h]) for t, h in pair_index]
        return PreparedRows(row_labels, row_pairs, encoded, stats)

    def score(self, prepared: "PreparedRows", multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        """The model half: forward batches, then each row's scores in the pipeline's order."""
        stats = prepared.stats
        logits = self._run_pairs(prepared.encoded, stats)
        results: list[Optional[Result]] = []
        for candidates, pairs in zip(prepared.row_labels, prepared.row_pairs):
            if not candidates:
                results.append(None)
                continue
            scores = scores_from_logits(logits[pairs], self.entailment_id, self.contradiction_id, multi_label)
            order = list(reversed(scores.argsort()))  # the pipeline's order, ties included
            ranked_labels = [candidates[j] for j in order]
            ranked_scores = [float(scores[j]) for j in order]
            results.append((ranked_labels[0], ranked_scores[0], ranked_labels, ranked_scores))
            stats.classified += 1
            stats.top_labels[ranked_labels[0]] = stats.top_labels.get(ranked_labels[0], 0) + 1
        return results, stats

    def _run_pairs(self, encoded, stats: BatchStats) -> np.ndarray:
        """float32 logits, one row per encoded pair."""
        if not encoded:
            return np.zeros((0, 3), dtype=np.float32)
        lengths = [len(ids) for ids, _ in encoded]
        out: Optional[np.ndarray] = None
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in plan_batches(lengths, self.token_budget):
                width = lengths[batch[0]]
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
                type_ids = torch.zeros((len(batch), width), dtype=torch.long) if self.encoder.needs_type_ids else None
                for row, index in enumerate(batch):
                    ids, types = encoded[index]
                    input_ids[row, : len(ids)] = torch.tensor(ids)
                    attention_mask[row, : len(ids)] = 1
                    if type_ids is not None:
                        type_ids[row, : len(ids)] = torch.tensor(types)
                moved = [t.to(self.device) if t is not None else None for t in (input_ids, attention_mask, type_ids)]
                batch_logits = self._forward(*moved).float().cpu().numpy()
                if out is None:
                    out = np.empty((len(encoded), batch_logits.shape[1]), dtype=np.float32)
                out[batch] = batch_logits
                stats.forward_batches += 1
                stats.tokens += sum(lengths[i] for i in batch)
                stats.padded_tokens += len(batch) * width - sum(lengths[i] for i in batch)
        stats.forward_seconds += time.perf_counter() - started
        stats.forward_pairs += len(encoded)
        return out


@dataclass
class PreparedRows:
    """Rows made ready for the model: each row's cleaned labels and pair indices, and the
    distinct pairs' token ids."""

    row_labels: list
    row_pairs: list
    encoded: list
    stats: BatchStats
