"""What a job tells when it is done: each job's summary is a typed, frozen record of its run
(its fields are what `--summary-json` writes and the run's record keeps) and the lines a user
reads, laid out by one formatter: a heading, then a name column and its value, a note in
parentheses where there is one, then whatever a job adds below (a table)."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Optional

NAME_WIDTH = 18
NUMBER_WIDTH = 12
NO_COUNTERS = "n/a (Spark Connect has no accumulators)"


class Line(NamedTuple):
    name: str
    value: str
    note: str = ""


def number(value: Optional[float], spec: str = ",d") -> str:
    """A number right-aligned in its column, or why there is none (Spark Connect counts nothing)."""
    return f"{value:>{NUMBER_WIDTH}{spec}}" if value is not None else f"{NO_COUNTERS:>{NUMBER_WIDTH}}"


class Summary:
    """Base of the jobs' summaries (frozen dataclasses): `heading`, `lines` and `below` say
    what is shown; `format` lays it out the same way for every job."""

    def heading(self) -> str:
        raise NotImplementedError

    def lines(self) -> list[Line]:
        raise NotImplementedError

    def below(self) -> list[str]:
        """Lines under the named ones (a table), as they are shown."""
        return []

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]  # a dataclass, as every summary is

    def format(self) -> str:
        shown = [self.heading()]
        for line in self.lines():
            note = f"   ({line.note})" if line.note else ""
            shown.append(f"  {line.name:<{NAME_WIDTH}}{line.value}{note}".rstrip())
        return "\n".join(shown + self.below())


def label_counts(top_labels: dict) -> dict:
    """Rows per top label, most frequent first."""
    return dict(sorted(top_labels.items(), key=lambda kv: -kv[1]))


def label_table(counts: dict, total: int, top: int = 15) -> list[str]:
    """The most frequent top labels with their rows and share of `total`."""
    rows = list(counts.items())
    width = max([len(label) for label, _ in rows[:top]] + [5])
    lines = ["  top labels:"]
    lines += [
        f"    {label:<{width}}  {count:>10,}  {100 * count / max(total, 1):5.1f}%"
        for label, count in rows[:top]
    ]
    if len(rows) > top:
        lines.append(f"    ... and {len(rows) - top} more labels")
    return lines
