"""The shortlist cascade, Spark-free: embeddings pick each row's likely labels, NLI decides.

NLI costs one model run per (text, label) pair, so 100 labels cost 100 runs a row. The
cascade ranks a row's labels by embedding similarity (cheap: one encoder run per text),
keeps the top `shortlist`, and runs NLI on those only. Scores are NLI's over the
shortlist (single-label: renormalized across it); labels outside it score 0 and follow
it in embedding order. With `shortlist` at least the row's label count the result is
exactly NLI's, and the encoder does not run for that row.
"""

from __future__ import annotations

from typing import Optional

from .batching import StagedEngine
from .embedding import EmbeddingEngine, PreparedEmbeddings
from .nli import ZeroShotEngine
from .results import BatchStats, Result, clean_labels
from .windows import TRUNCATED, LongText


class CascadeEngine(StagedEngine):
    def __init__(self, embedding: EmbeddingEngine, nli: ZeroShotEngine, shortlist: int):
        self.embedding, self.nli, self.shortlist = embedding, nli, shortlist
        self.device = nli.device

    def prepare(self, texts, labels, hypothesis_template, long_text: LongText = TRUNCATED):
        # only rows with more labels than the shortlist need ranking: the encoder skips the rest
        to_rank = [row if len(clean_labels(row)) > self.shortlist else None for row in labels]
        embedded = self.embedding.prepare(texts, to_rank, hypothesis_template, long_text)
        return texts, labels, hypothesis_template, long_text, embedded

    def launch(self, prepared):
        # the NLI half depends on the encoder's ranking, so both run in `finish`
        return prepared

    def finish(self, prepared, multi_label: bool) -> tuple[list[Optional[Result]], BatchStats]:
        texts, labels, hypothesis_template, long_text, embedded = prepared
        shortlists, rest = self._shortlists(labels, embedded)
        results, stats = self.nli.classify(
            texts,
            shortlists,
            hypothesis_template=hypothesis_template,
            multi_label=multi_label,
            long_text=long_text,
        )
        stats.add_forward(embedded.stats)
        stats.shortlist_skipped_pairs = sum(len(r) for r in rest)
        stats.pairs += (
            stats.shortlist_skipped_pairs
        )  # pairs asked for: run by NLI, or skipped by the shortlist
        completed = []
        for result, outside in zip(results, rest):
            if result is not None and outside:
                label, score, ranked_labels, ranked_scores = result
                result = (label, score, ranked_labels + outside, ranked_scores + [0.0] * len(outside))
            completed.append(result)
        return completed, stats

    def _shortlists(self, labels, embedded: PreparedEmbeddings) -> tuple[list, list[list[str]]]:
        """Per row: the labels NLI runs on, in the row's own order (so that a shortlist of
        every label is exactly plain NLI), and the labels left out, best first. Rows that
        cannot be classified keep their labels, so NLI counts them for the same reason."""
        shortlists: list = []
        rest: list[list[str]] = []
        for original, candidates, cosines in zip(
            labels, embedded.row_labels, self.embedding.similarities(embedded)
        ):
            if cosines is None:  # not ranked: a bad row, or no more labels than the shortlist
                shortlists.append(original)
                rest.append([])
                continue
            best_first = [candidates[j] for j in reversed(cosines.argsort(kind="stable"))]
            kept = set(best_first[: self.shortlist])
            shortlists.append([l for l in candidates if l in kept])
            rest.append(best_first[self.shortlist :])
        return shortlists, rest
