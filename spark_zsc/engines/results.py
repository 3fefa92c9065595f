"""What every strategy shares: which rows can be classified, the ranked result, the counters.

The NLI engine, the embedding engine and the cascade differ only in how they score a
row's labels; the rules for bad rows, label clean-up, ranking and counting are here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional, Sequence

import numpy as np

# One row's answer: top label, its score, every label and score, best first.
Result = tuple[str, float, list[str], list[float]]

SKIP_REASONS = ("null_text", "invalid_text", "blank_text", "no_labels")
LONG_TEXT_COUNTERS = ("truncated_rows", "chunked_rows", "windows", "window_capped_rows")
COUNTERS = {  # what each of BatchStats' counters counts, and the sum as_dict adds
    "rows": "rows the model's UDF saw",
    "classified": "rows given a result",
    "skipped": "rows not classified: the sum of the four skipped_ counters",
    "skipped_null_text": "rows whose text is null",
    "skipped_invalid_text": "rows whose text's bytes are not UTF-8",
    "skipped_blank_text": "rows whose text is empty or whitespace",
    "skipped_no_labels": "rows whose labels are null, empty or all blank",
    "pairs": "(row, label) pairs the rows asked for",
    "forward_pairs": "distinct pairs the NLI model ran (repeats within a batch run once)",
    "shortlist_skipped_pairs": "pairs a shortlist kept away from the NLI model",
    "embedded_texts": "texts and hypotheses the embedding model encoded",
    "truncated_rows": "longText=truncate: rows whose text was cut to fit the model",
    "chunked_rows": "longText=chunk: rows read in more than one window",
    "windows": "windows read for the chunked rows",
    "window_capped_rows": "chunked rows longer than maxWindows windows (the rest unread)",
    "below_min_score": "rows whose top score is under minScore (no label, or otherLabel)",
    "deferred": "a distilled student's rows scored by its teacher instead (the student's score under deferBelow)",
    "tokens": "real tokens the models ran",
    "padded_tokens": "padding added to fill forward batches",
    "forward_batches": "forward batches the models ran",
    "forward_seconds": "seconds spent in the models' forward passes, summed over tasks",
    "top_labels": "rows per top label (rows under minScore count under otherLabel when set)",
}


@dataclass
class BatchStats:
    """What one engine call did; summed into the classifier's metrics (`COUNTERS` says what each counts)."""

    rows: int = 0
    classified: int = 0
    skipped_null_text: int = 0
    skipped_invalid_text: int = 0
    skipped_blank_text: int = 0
    skipped_no_labels: int = 0
    pairs: int = 0
    forward_pairs: int = 0
    shortlist_skipped_pairs: int = 0
    embedded_texts: int = 0
    truncated_rows: int = 0
    chunked_rows: int = 0
    windows: int = 0
    window_capped_rows: int = 0
    below_min_score: int = 0
    deferred: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    forward_batches: int = 0
    forward_seconds: float = 0.0
    top_labels: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["skipped"] = sum(out[f"skipped_{r}"] for r in SKIP_REASONS)
        return out

    def add_forward(self, other: "BatchStats") -> None:
        """Fold in the model work of another engine call (the cascade's embedding stage)."""
        for name in (
            "forward_pairs",
            "embedded_texts",
            "tokens",
            "padded_tokens",
            "forward_batches",
            "forward_seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _InvalidText:
    """The text of a row whose bytes are not UTF-8 (a Spark string may hold any bytes): the
    row is not classified, and counted in skipped_invalid_text."""

    def __repr__(self) -> str:
        return "INVALID_TEXT"


INVALID_TEXT = _InvalidText()


def clean_labels(labels: Optional[Sequence[Optional[str]]]) -> list[str]:
    """Per-row labels as the engine uses them: blanks dropped, duplicates kept once, first wins."""
    if labels is None:
        return []
    return list(dict.fromkeys(l for l in labels if isinstance(l, str) and l.strip()))


def usable_rows(texts, labels, stats: BatchStats) -> tuple[list[list[str]], dict[str, int]]:
    """Each row's cleaned labels (empty for a row that cannot be classified, counted by
    reason in `stats`) and the distinct usable texts, numbered in order of first use."""
    stats.rows += len(texts)
    row_labels: list[list[str]] = [[] for _ in texts]
    text_ids: dict[str, int] = {}
    for i, (text, candidates) in enumerate(zip(texts, labels)):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            stats.skipped_null_text += 1
        elif text is INVALID_TEXT:
            stats.skipped_invalid_text += 1
        elif not str(text).strip():
            stats.skipped_blank_text += 1
        elif not (cleaned := clean_labels(candidates)):
            stats.skipped_no_labels += 1
        else:
            row_labels[i] = cleaned
            text_ids.setdefault(str(text), len(text_ids))
    return row_labels, text_ids


def ranked(candidates: list[str], scores: np.ndarray, stats: BatchStats) -> Result:
    """One row's result, labels by descending score in the pipeline's order (ties included)."""
    order = list(reversed(scores.argsort()))
    ranked_labels = [candidates[j] for j in order]
    ranked_scores = [float(scores[j]) for j in order]
    stats.classified += 1
    stats.top_labels[ranked_labels[0]] = stats.top_labels.get(ranked_labels[0], 0) + 1
    return ranked_labels[0], ranked_scores[0], ranked_labels, ranked_scores


@dataclass(frozen=True)
class Abstention:
    """minScore: "none of these" instead of a forced label. A row whose top score is under
    `min_score` gets `other_label` (None: null) as its label and keeps every label and score;
    multi-label rows also get `selected`, the labels scoring at least `min_score` (possibly
    none). Rows under it are counted in `below_min_score`, and in `top_labels` under
    `other_label` when there is one."""

    min_score: float
    other_label: Optional[str] = None
    multi_label: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        """What a result holds beyond label, score, labels, scores."""
        return ("selected",) if self.multi_label else ()

    def apply(self, result: Optional[Result], stats: BatchStats) -> Optional[tuple]:
        if result is None:
            return None
        top, score, labels, scores = result
        label: Optional[str] = top  # None (or other_label) below min_score
        if score < self.min_score:
            stats.below_min_score += 1
            left = stats.top_labels[top] - 1
            if left:
                stats.top_labels[top] = left
            else:
                del stats.top_labels[top]
            if self.other_label is not None:
                stats.top_labels[self.other_label] = stats.top_labels.get(self.other_label, 0) + 1
            label = self.other_label
        if not self.multi_label:
            return label, score, labels, scores
        return label, score, labels, scores, [l for l, s in zip(labels, scores) if s >= self.min_score]
