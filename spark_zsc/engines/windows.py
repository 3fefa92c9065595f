"""Long texts read whole: a text too long for the model is cut into overlapping windows.

The HF pipeline, like `longText="truncate"`, reads only the first tokens of a long text
(`truncation="only_first"`: what fits beside the hypothesis) and drops the rest. With
`longText="chunk"`, a text longer than that room is cut into windows of `room` tokens, each
starting `room - overlap` tokens after the one before, so a sentence cut by one window's end
is whole in the next; at most `max_windows` windows, from the text's start (the cap bounds
the cost: a row costs at most max_windows times its labels in pairs). Every window is scored
against every label, and the engines combine them per label (see `ZeroShotEngine` and
`EmbeddingEngine`): the best window for a label speaks for the text.

A text that fits is one window, the text itself: its scores are exactly truncate mode's.
"""

from __future__ import annotations

from dataclasses import dataclass

TRUNCATE, CHUNK = "truncate", "chunk"
LONG_TEXT_MODES = (TRUNCATE, CHUNK)
DEFAULT_WINDOW_OVERLAP = 64  # tokens
DEFAULT_MAX_WINDOWS = 8


@dataclass(frozen=True)
class LongText:
    """What to do with a text longer than the model reads at once."""

    mode: str = TRUNCATE
    overlap: int = DEFAULT_WINDOW_OVERLAP  # tokens two neighbouring windows share
    max_windows: int = DEFAULT_MAX_WINDOWS

    @property
    def chunks(self) -> bool:
        return self.mode == CHUNK

    def windows(self, length: int, room: int) -> tuple[list[tuple[int, int]], bool]:
        """(start, end) token spans covering `length` tokens in windows of `room`, and whether
        `max_windows` cut some of the text off. The overlap is at most half a window, so
        every window moves the reading on."""
        room = max(room, 1)
        if not self.chunks or length <= room:
            return [(0, min(length, room))], False
        step = room - min(self.overlap, room // 2)
        starts = list(range(0, length - room + step, step))
        capped = len(starts) > self.max_windows
        return [(start, min(start + room, length)) for start in starts[: self.max_windows]], capped


class TextWindows:
    """The windows of the distinct texts of one chunk of rows, each found once, with every
    row counted in `stats`: truncate mode counts `truncated_rows`, chunk mode
    `chunked_rows`, `windows` (read for those rows) and `window_capped_rows`."""

    def __init__(self, long_text: LongText, stats):
        self.long_text, self.stats = long_text, stats
        self._spans: dict[tuple[int, int], tuple[list[tuple[int, int]], bool]] = {}

    def of_row(self, text_id: int, length: int, room: int) -> list[tuple[int, int]]:
        """The token spans one row reads of text `text_id` (`length` tokens) in windows of `room`."""
        key = (text_id, room)
        if key not in self._spans:
            self._spans[key] = self.long_text.windows(length, room)
        spans, capped = self._spans[key]
        if length > room:
            if self.long_text.chunks:
                self.stats.chunked_rows += 1
                self.stats.windows += len(spans)
                self.stats.window_capped_rows += capped
            else:
                self.stats.truncated_rows += 1
        return spans


TRUNCATED = LongText()  # the default: a long text's start only, as the HF pipeline reads it
