"""Premise/hypothesis pairs as token ids, laid out exactly as the tokenizer would.

`transformers` tokenizes a pair as two separate sequences joined by the tokenizer's
post-processor (BART: ``<s> premise </s></s> hypothesis </s>``) and, with
``truncation="only_first"``, cuts only the premise. Doing the same by hand lets the
engine tokenize each distinct text once and each hypothesis once, instead of every
(text, label) pair, and read special-token strings in user text (``</s>``, ``<s>``) as
literal characters rather than as control tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .batching import TokenSequences, flatten
from .bounded_cache import BoundedCache

_PROBE_FIRST = "premise probe"
_PROBE_SECOND = "hypothesis probe"


def _find(haystack: Sequence[int], needle: Sequence[int], start: int = 0) -> int:
    for i in range(start, len(haystack) - len(needle) + 1):
        if list(haystack[i : i + len(needle)]) == list(needle):
            return i
    raise ValueError("the tokenizer's pair template could not be recognised")


@dataclass(frozen=True)
class PairLayout:
    """The special tokens a tokenizer puts around and between the two sequences of a pair."""

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    # token type ids of each segment: prefix, first, middle, second, suffix
    types: tuple[int, int, int, int, int]

    @property
    def special_count(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def of(cls, backend) -> "PairLayout":
        """Read the layout off the tokenizer's own post-processor with two probe sequences."""
        first = backend.encode(_PROBE_FIRST, add_special_tokens=False)
        second = backend.encode(_PROBE_SECOND, add_special_tokens=False)
        pair = backend.post_process(first, second, add_special_tokens=True)
        ids, type_ids = pair.ids, pair.type_ids
        a = _find(ids, first.ids)
        b = _find(ids, second.ids, a + len(first.ids))
        a_end, b_end = a + len(first.ids), b + len(second.ids)

        def type_at(i: int) -> int:
            return type_ids[i] if i < len(type_ids) else 0

        return cls(
            prefix=tuple(ids[:a]),
            middle=tuple(ids[a_end:b]),
            suffix=tuple(ids[b_end:]),
            types=(type_at(0), type_at(a), type_at(a_end), type_at(b), type_at(len(ids) - 1)),
        )


def plain_backend(tokenizer):
    """A private copy of a fast tokenizer's `tokenizers` backend (`backend_tokenizer`), with no
    padding and no truncation: the tokenizer's own backend keeps whatever padding and
    truncation its last call set, which would silently pad or cut our sequences."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "post_process"):
        raise ValueError(
            f"{type(tokenizer).__name__} has no `tokenizers` backend; spark_zsc needs a "
            "fast tokenizer (tokenizer.json, or vocab/merges files it can convert)"
        )
    backend = type(backend).from_str(backend.to_str())
    backend.no_padding()
    backend.no_truncation()
    return backend


class PairEncoder:
    """Tokenizes texts and hypotheses separately and joins them into model inputs.

    Hypotheses repeat across rows and batches, so their ids are cached for the life of
    the encoder (one per worker process): a bounded dict, cleared when it grows too big.
    """

    _HYPOTHESIS_CACHE_LIMIT = 100_000

    def __init__(self, tokenizer, max_length: int):
        self._backend = plain_backend(tokenizer)
        self.layout = PairLayout.of(self._backend)
        # "</s>" in user text stays plain characters: a row holding it must neither change
        # meaning nor break BART's "same number of <eos> tokens" check.
        self._backend.encode_special_tokens = True
        self.max_length = max_length
        self.needs_type_ids = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        self._hypotheses: BoundedCache[str, list[int]] = BoundedCache(self._HYPOTHESIS_CACHE_LIMIT)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=False)]

    @property
    def _room(self) -> int:
        """Tokens of text and hypothesis together in one pair."""
        return self.max_length - self.layout.special_count

    def premise_room(self, hypothesis_length: int) -> int:
        """Most premise tokens a pair holds beside a hypothesis of `hypothesis_length` (which
        `pairs` cuts only if it leaves no room for one premise token)."""
        return max(self._room - min(hypothesis_length, max(self._room - 1, 1)), 0)

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        return self._encode(texts)

    def encode_hypotheses(self, hypotheses: list[str]) -> list[list[int]]:
        distinct = dict.fromkeys(hypotheses)
        known = {h: ids for h in distinct if (ids := self._hypotheses.get(h)) is not None}
        missing = [h for h in distinct if h not in known]
        if missing:
            known.update(zip(missing, self._encode(missing)))
            self._hypotheses.put_all(missing, (known[h] for h in missing))
        return [known[h] for h in hypotheses]

    def pairs(
        self,
        premises: list[list[int]],
        hypotheses: list[list[int]],
        premise_index: np.ndarray,
        hypothesis_index: np.ndarray,
    ) -> TokenSequences:
        """The model inputs of the pairs (premises[premise_index[i]], hypotheses[hypothesis_index[i]]),
        laid out as the tokenizer's post-processor would, without per-pair Python.

        Like ``truncation="only_first"``: the premise is cut to fit `max_length`. A
        hypothesis too long to leave room for one premise token is cut as well, where the
        reference pipeline would fail the whole batch.
        """
        layout = self.layout
        premise_lengths = np.fromiter(map(len, premises), dtype=np.int64, count=len(premises))
        hypothesis_lengths = np.fromiter(map(len, hypotheses), dtype=np.int64, count=len(hypotheses))
        specials = [layout.prefix, layout.middle, layout.suffix]
        special_lengths = [len(s) for s in specials]
        # one pool: the special segments, then every premise, then every hypothesis
        pool_parts = [np.asarray(s, dtype=np.int64) for s in specials]
        pool_parts += [
            flatten(premises, int(premise_lengths.sum())),
            flatten(hypotheses, int(hypothesis_lengths.sum())),
        ]
        part_starts = np.cumsum([0, *(len(p) for p in pool_parts)])[:-1]
        ids = np.concatenate(pool_parts)
        types = None
        if self.needs_type_ids:
            prefix_type, premise_type, middle_type, hypothesis_type, suffix_type = layout.types
            part_types = [prefix_type, middle_type, suffix_type, premise_type, hypothesis_type]
            types = np.repeat(np.array(part_types, dtype=np.int64), [len(p) for p in pool_parts])

        hypothesis_used = np.minimum(hypothesis_lengths[hypothesis_index], max(self._room - 1, 1))
        premise_used = np.minimum(premise_lengths[premise_index], np.maximum(self._room - hypothesis_used, 0))
        premise_starts = part_starts[3] + np.cumsum(premise_lengths) - premise_lengths
        hypothesis_starts = part_starts[4] + np.cumsum(hypothesis_lengths) - hypothesis_lengths
        count = len(premise_index)

        def constant(value):
            return np.full(count, value, dtype=np.int64)

        starts = np.stack(
            [
                constant(part_starts[0]),
                premise_starts[premise_index],
                constant(part_starts[1]),
                hypothesis_starts[hypothesis_index],
                constant(part_starts[2]),
            ],
            axis=1,
        )
        lengths = np.stack(
            [
                constant(special_lengths[0]),
                premise_used,
                constant(special_lengths[1]),
                hypothesis_used,
                constant(special_lengths[2]),
            ],
            axis=1,
        )
        return TokenSequences(ids, types, starts, lengths)
