"""The embedding strategy, Spark-free: cosine similarity of sentence embeddings.

Each distinct text and each distinct hypothesis is encoded once by a sentence encoder
(mean of the last hidden states over real tokens, L2-normalized, as sentence-transformers
does for all-MiniLM-L6-v2), and a label's score comes from the cosine similarity of
the text and the label's hypothesis:

- single-label: softmax over the labels of cosine / temperature;
- multi-label, and always with a single label: sigmoid((cosine - threshold) / temperature),
  so a label scores 0.5 exactly where its cosine equals the threshold.

The default temperature 0.05 is the scale all-MiniLM-L6-v2 was trained with (its
contrastive loss multiplies cosines by 20). Much cheaper than NLI, which runs the model
once per (text, label) pair, and usually less accurate; see the docs: jobs/evaluate.md.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch

from .batching import StagedEngine, TokenSequences, sequence_limit
from .bounded_cache import BoundedCache
from .hypotheses import Hypotheses
from .pairs import plain_backend
from .results import BatchStats, Result, ranked, usable_rows
from .torch_batches import PendingOutputs, launch_batches, model_inputs
from .windows import TRUNCATED, LongText, TextWindows


def embedding_scores(
    cosines: np.ndarray, multi_label: bool, temperature: float, threshold: float
) -> np.ndarray:
    """Scores of one row's labels from their cosine similarities to the text."""
    cosines = cosines.astype(np.float64)
    if multi_label or len(cosines) == 1:
        return 1.0 / (1.0 + np.exp(-(cosines - threshold) / temperature))
    logits = cosines / temperature
    logits = np.exp(logits - logits.max())
    return logits / logits.sum()


def _embedding_cache(limit: int) -> BoundedCache:
    """Embeddings (or token counts) by string, for the life of the worker: at most `limit` of
    them and 20 M characters of keys, the least recently used going first."""
    return BoundedCache(limit, max_weight=20_000_000, weight=lambda key, value: len(key))


class EmbeddingEngine(StagedEngine):
    """Scores (text, candidate labels) rows with one sentence encoder; same interface as
    `ZeroShotEngine`.

    Text and hypothesis embeddings are cached per engine (one per worker process), so
    fixed labels are encoded once per worker, and an evaluation that tries several
    templates on the same rows encodes each text once.
    """

    TEXT_CACHE_LIMIT = 50_000  # 384 floats each for MiniLM: about 77 MB at the limit
    HYPOTHESIS_CACHE_LIMIT = 20_000

    def __init__(
        self,
        model,
        tokenizer,
        *,
        max_length: Optional[int] = None,
        token_budget: int = 4096,
        device: str | torch.device = "cpu",
        temperature: float = 0.05,
        threshold: float = 0.3,
        shape_buckets: Optional[bool] = None,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.max_length = sequence_limit(model, tokenizer, max_length)
        self.token_budget = token_budget
        self.shape_buckets = self.device.type == "cuda" if shape_buckets is None else shape_buckets
        self.temperature, self.threshold = temperature, threshold
        self.with_types = "token_type_ids" in tokenizer.model_input_names
        self._backend = plain_backend(tokenizer)
        probe = self._backend.encode("probe", add_special_tokens=False)
        laid_out = self._backend.post_process(probe, None, add_special_tokens=True)
        start = laid_out.ids.index(probe.ids[0])
        self._specials = (laid_out.ids[:start], laid_out.ids[start + len(probe.ids) :])
        self._type_id = laid_out.type_ids[0] if laid_out.type_ids else 0
        self._room = self.max_length - len(laid_out.ids) + len(probe.ids)  # text tokens per input
        self._texts = _embedding_cache(self.TEXT_CACHE_LIMIT)
        self._hypotheses = _embedding_cache(self.HYPOTHESIS_CACHE_LIMIT)
        self._lengths = _embedding_cache(self.TEXT_CACHE_LIMIT)  # text -> tokens: its windows, untokenized

    def with_scoring(self, temperature: float, threshold: float) -> "EmbeddingEngine":
        """This engine scoring with another temperature and threshold; the model and the
        embedding caches are shared, so no text is encoded again for it."""
        if (temperature, threshold) == (self.temperature, self.threshold):
            return self
        other = copy.copy(self)
        other.temperature, other.threshold = temperature, threshold
        return other

    def _mean_pooled(self, input_ids, attention_mask, token_type_ids):
        hidden = self.model(
            **model_inputs(input_ids, attention_mask, token_type_ids)
        ).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def _sequences(self, token_lists: list[list[int]]) -> TokenSequences:
        """Model inputs of token lists already cut to `room`: the tokenizer's special tokens
        around each, as `tokenizer(text, truncation=True)` lays them out."""
        prefix, suffix = self._specials
        ids = [prefix + tokens + suffix for tokens in token_lists]
        types = [[self._type_id] * len(sequence) for sequence in ids] if self.with_types else None
        return TokenSequences.from_lists(ids, types)

    def prepare(
        self, texts, labels, hypothesis_template: Union[str, Hypotheses], long_text: LongText = TRUNCATED
    ) -> "PreparedEmbeddings":
        """The CPU half: bad rows set aside, each text's windows found (one, the text's
        start, unless long texts are read in chunks), windows and hypotheses not yet cached
        tokenized."""
        stats = BatchStats()
        wording = Hypotheses.of(hypothesis_template)
        row_labels, text_ids = usable_rows(texts, labels, stats)
        stats.pairs = sum(len(row) for row in row_labels)
        hypotheses = {l: wording(l) for row in row_labels for l in row}
        distinct = list(text_ids)
        lengths, tokens = self._measured(distinct)  # a text's length decides its windows
        windows = TextWindows(long_text, stats)
        window_spans: dict[str, tuple[str, int, int]] = {}  # window key -> (text, start, end)
        row_windows: list[Optional[list[str]]] = []
        for text, candidates in zip(texts, row_labels):
            if not candidates:
                row_windows.append(None)
                continue
            t = text_ids[str(text)]
            keys = []
            for start, end in windows.of_row(t, lengths[distinct[t]], self._room):
                # the first window is what truncate mode reads: it shares the text's cache entry
                key = distinct[t] if start == 0 else f"{distinct[t]}\x00{start}"
                keys.append(key)
                window_spans.setdefault(key, (distinct[t], start, end))
            row_windows.append(keys)
        # vectors cached now are taken now: a concurrent `similarities` may empty the caches
        known = {k: v for k in window_spans if (v := self._texts.get(k)) is not None}
        new_windows = [k for k in window_spans if k not in known]
        # a text measured before whose windows are not all cached is tokenized again, now
        tokens.update(self._tokenized({window_spans[k][0] for k in new_windows} - tokens.keys()))
        known_hypotheses = {
            h: v for h in set(hypotheses.values()) if (v := self._hypotheses.get(h)) is not None
        }
        new_hypotheses = list(dict.fromkeys(h for h in hypotheses.values() if h not in known_hypotheses))
        hypothesis_tokens = [
            e.ids[: self._room] for e in self._backend.encode_batch(new_hypotheses, add_special_tokens=False)
        ]
        return PreparedEmbeddings(
            row_windows=row_windows,
            row_labels=row_labels,
            hypotheses=hypotheses,
            known_texts=known,
            known_hypotheses=known_hypotheses,
            new_texts=new_windows,
            new_hypotheses=new_hypotheses,
            sequences=self._sequences(
                [tokens[text][start:end] for text, start, end in (window_spans[key] for key in new_windows)]
                + hypothesis_tokens
            ),
            stats=stats,
        )

    def _tokenized(self, texts) -> dict[str, list[int]]:
        texts = list(texts)
        return dict(zip(texts, (e.ids for e in self._backend.encode_batch(texts, add_special_tokens=False))))

    def _measured(self, texts: list[str]) -> tuple[dict[str, int], dict[str, list[int]]]:
        """Each text's length in tokens, from the cache or by tokenizing it (then cached), and
        the tokens of the texts tokenized for it."""
        lengths = {text: n for text in texts if (n := self._lengths.get(text)) is not None}
        tokens = self._tokenized(text for text in texts if text not in lengths)
        lengths.update((text, len(ids)) for text, ids in tokens.items())
        # may drop older entries, which were read above
        self._lengths.put_all(list(tokens), [len(ids) for ids in tokens.values()])
        return lengths, tokens

    def launch(self, prepared: "PreparedEmbeddings") -> tuple["PreparedEmbeddings", PendingOutputs]:
        """The encoder's work for every text and hypothesis not cached, queued on the device."""
        vectors = launch_batches(
            prepared.sequences,
            self._mean_pooled,
            pad_id=self.tokenizer.pad_token_id or 0,
            token_budget=self.token_budget,
            device=self.device,
            stats=prepared.stats,
            width=self.model.config.hidden_size,
            shape_limit=self.max_length if self.shape_buckets else None,
        )
        prepared.stats.embedded_texts += len(prepared.sequences)
        return prepared, vectors

    def similarities(self, prepared: "PreparedEmbeddings") -> list[Optional[np.ndarray]]:
        """The model half at once: each usable row's cosine similarity to each of its labels."""
        return self._similarities(*self.launch(prepared))

    def _vectors(self, prepared: "PreparedEmbeddings", pending: PendingOutputs) -> tuple[dict, dict]:
        """The encoder's outputs back on the host, cached: window key -> vector, label -> its
        hypothesis' vector."""
        vectors = pending.numpy()
        split = len(prepared.new_texts)
        # two copies, so that a cached vector never keeps the other half of this batch alive
        new_texts, new_hypotheses = vectors[:split].copy(), vectors[split:].copy()
        self._texts.put_all(prepared.new_texts, new_texts)
        self._hypotheses.put_all(prepared.new_hypotheses, new_hypotheses)
        text_vectors = {**prepared.known_texts, **dict(zip(prepared.new_texts, new_texts))}
        by_hypothesis = {**prepared.known_hypotheses, **dict(zip(prepared.new_hypotheses, new_hypotheses))}
        return text_vectors, {l: by_hypothesis[h] for l, h in prepared.hypotheses.items()}

    def _similarities(
        self, prepared: "PreparedEmbeddings", pending: PendingOutputs
    ) -> list[Optional[np.ndarray]]:
        text_vectors, hypothesis_vectors = self._vectors(prepared, pending)
        out: list[Optional[np.ndarray]] = []
        for keys, candidates in zip(prepared.row_windows, prepared.row_labels):
            if keys is None:
                out.append(None)
                continue
            label_matrix = np.stack([hypothesis_vectors[l] for l in candidates]).astype(np.float64)
            window_matrix = np.stack([text_vectors[k] for k in keys]).astype(np.float64)
            # a text read in windows: each label's best window speaks for it
            out.append((label_matrix @ window_matrix.T).max(axis=1))
        return out

    def text_vectors(
        self, launched: tuple["PreparedEmbeddings", PendingOutputs]
    ) -> list[Optional[np.ndarray]]:
        """Each usable row's text embedding (a text read in windows: their mean, normalized
        again), None for a row that cannot be classified."""
        vectors, _ = self._vectors(*launched)
        out: list[Optional[np.ndarray]] = []
        for keys in launched[0].row_windows:
            if keys is None:
                out.append(None)
                continue
            mean: np.ndarray = np.stack([vectors[k] for k in keys]).astype(np.float64).mean(axis=0)
            out.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        return out

    def finish(
        self, launched: tuple["PreparedEmbeddings", PendingOutputs], multi_label: bool
    ) -> tuple[list[Optional[Result]], BatchStats]:
        prepared = launched[0]
        results: list[Optional[Result]] = []
        for candidates, cosines in zip(prepared.row_labels, self._similarities(*launched)):
            if cosines is None:
                results.append(None)
                continue
            scores = embedding_scores(cosines, multi_label, self.temperature, self.threshold)
            results.append(ranked(candidates, scores, prepared.stats))
        return results, prepared.stats


@dataclass
class PreparedEmbeddings:
    """Rows made ready for the encoder: each usable row's text and labels, each label's
    hypothesis, and the token ids of the texts and hypotheses not cached yet."""

    row_windows: list  # per row: its windows' keys, or None for a row that cannot be classified
    row_labels: list
    hypotheses: dict  # label -> hypothesis
    known_texts: dict  # window key -> vector, from the cache
    known_hypotheses: dict  # hypothesis -> vector, from the cache
    new_texts: list  # window keys to encode
    new_hypotheses: list
    sequences: TokenSequences
    stats: BatchStats
