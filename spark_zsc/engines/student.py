"""A distilled student, Spark-free: a linear classifier over sentence embeddings.

`DistilledClassifier` trains the classifier with Spark ML (multinomial logistic regression, or
one binary logistic regression per label for multi-label) on the embeddings this engine
makes; `StudentHead` holds the trained coefficients and computes the probabilities those
Spark ML models compute (softmax of W x + b; a sigmoid per label), so a worker scores a
row with one encoder run and a small matrix product, and the embeddings it trains on and
the ones it scores are made by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from .batching import StagedEngine
from .embedding import EmbeddingEngine
from .hypotheses import Hypotheses
from .results import Abstention, BatchStats, Result, ranked
from .windows import TRUNCATED, LongText

# What the student reads a label as, for the embedding engine's row checks: it encodes the
# hypotheses once per worker and ignores them; the labels' meaning is in the head's weights.
PLAIN_TEMPLATE = "{}"


@dataclass(frozen=True)
class StudentHead:
    """The trained classifier: one row of weights and one intercept per label."""

    labels: tuple[str, ...]
    weights: np.ndarray  # labels x embedding width
    intercepts: np.ndarray  # one per label
    multi_label: bool

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Each row's score per label: softmax across labels, or each label's own sigmoid."""
        logits = vectors.astype(np.float64) @ self.weights.T + self.intercepts
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits / logits.sum(axis=1, keepdims=True)


class StudentEngine(StagedEngine):
    """Embeds rows with the embedding engine and, given a head, scores them with it; same
    interface as the other engines (`classify`, `classify_stream`)."""

    def __init__(self, embedding: EmbeddingEngine, head: Optional[StudentHead] = None):
        self.embedding, self.head = embedding, head
        self.device = embedding.device

    def prepare(self, texts, labels, hypothesis_template=PLAIN_TEMPLATE, long_text: LongText = TRUNCATED):
        # rows keep their labels so that a row without any is skipped as the teacher skips it
        return self.embedding.prepare(texts, labels, PLAIN_TEMPLATE, long_text)

    def launch(self, prepared):
        return self.embedding.launch(prepared)

    def vectors(
        self, texts: Sequence[Optional[str]], labels
    ) -> tuple[list[Optional[np.ndarray]], BatchStats]:
        """Each row's text embedding (None where it cannot be classified), as the head reads it."""
        launched = self.launch(self.prepare(texts, labels))
        return self.embedding.text_vectors(launched), launched[0].stats

    def finish(self, launched, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        if self.head is None:
            raise ValueError("this student has no head yet: it can embed rows, not classify them")
        vectors, stats = self.embedding.text_vectors(launched), launched[0].stats
        usable = {i: vector for i, vector in enumerate(vectors) if vector is not None}
        results: list[Optional[Result]] = [None] * len(vectors)
        if usable:
            scores = self.head.scores(np.stack(list(usable.values())))
            for i, row_scores in zip(usable, scores):
                results[i] = ranked(list(self.head.labels), row_scores, stats)
        return results, stats


@dataclass(frozen=True)
class Deferral:
    """Which rows a student hands to its teacher (those it scores under `below`), and how the
    teacher reads them: its own template, single- or multi-label, long texts, minScore."""

    below: float
    hypotheses: Union[str, Hypotheses]
    multi_label: bool
    long_text: LongText
    abstention: Optional[Abstention]


class DeferringEngine(StagedEngine):
    """A student whose unsure rows its teacher scores, in the same worker and the same pass:
    those rows get the teacher's own result; `deferred` counts them."""

    def __init__(self, student: StudentEngine, teacher: StagedEngine, deferral: Deferral):
        self.student, self.teacher, self.deferral = student, teacher, deferral
        self.device = student.device

    def prepare(self, texts, labels, hypothesis_template=PLAIN_TEMPLATE, long_text: LongText = TRUNCATED):
        return texts, labels, self.student.prepare(texts, labels)

    def launch(self, prepared):
        texts, labels, embedded = prepared
        return texts, labels, self.student.launch(embedded)

    def finish(self, launched, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        texts, labels, student_launched = launched
        results, stats = self.student.finish(student_launched, multi_label)
        unsure = [
            i for i, result in enumerate(results) if result is not None and result[1] < self.deferral.below
        ]
        if not unsure:
            return results, stats
        rule = self.deferral
        answers, teacher_stats = self.teacher.classify(
            [texts[i] for i in unsure],
            [labels[i] for i in unsure],
            hypothesis_template=rule.hypotheses,
            multi_label=rule.multi_label,
            long_text=rule.long_text,
        )
        stats.add_forward(teacher_stats)
        stats.deferred += len(unsure)
        for i, answer in zip(unsure, answers):
            student_label = results[i][0]  # type: ignore[index]  # unsure rows have a result
            stats.top_labels[student_label] -= 1  # the row's top label is the teacher's now
            if answer is not None and rule.abstention is not None:
                answer = rule.abstention.apply(answer, teacher_stats)[:4]  # type: ignore[index,assignment]
            results[i] = answer
        for label, rows in teacher_stats.top_labels.items():
            stats.top_labels[label] = stats.top_labels.get(label, 0) + rows
        stats.top_labels = {label: rows for label, rows in stats.top_labels.items() if rows}
        stats.below_min_score += teacher_stats.below_min_score
        return results, stats
