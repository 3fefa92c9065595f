"""The evaluate job's options: the shared input/model options plus label sets, templates and gold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .options import SourceOptions
from ..options import DEFAULT_TEMPLATE, ConfigError, parse_candidate_labels, validate_template

REPORT_FORMATS = ("markdown", "html")


@dataclass
class EvaluateOptions(SourceOptions):
    """Every option of `evaluate`. Each label set is one wording of the same classes: the
    i-th label of every set names the i-th class, and the first set's labels name the
    classes in the report."""

    labels: Any = field(default=None, metadata={
        "help": 'a label set "a,b,c"; repeat for other wordings of the same classes, in the same order '
                "(YAML: a list of sets)", "repeatable": True})
    template: Any = field(default=None, metadata={
        "help": f"hypothesis template with one {{}}; repeat to compare templates (default {DEFAULT_TEMPLATE!r})",
        "repeatable": True})
    gold_col: Optional[str] = field(default=None, metadata={"help": "column holding each row's true class"})
    gold_map: Any = field(default=None, metadata={
        "help": 'gold value -> label: "1=World,2=Sports" (YAML: a mapping); without it gold values must be labels'})
    report: Optional[str] = field(default=None, metadata={"help": "folder the report is written to (created; its files replaced)"})
    report_format: str = field(default="markdown", metadata={"help": "markdown or html", "choices": REPORT_FORMATS})
    limit: Optional[int] = field(default=None, metadata={"help": "evaluate only this many rows (those with a gold value)"})

    @property
    def label_sets(self) -> list[list[str]]:
        value = self.labels
        sets = [value] if isinstance(value, str) else list(value or [])
        return [parse_candidate_labels(s, "labels") for s in sets]

    @property
    def templates(self) -> list[str]:
        value = self.template if self.template is not None else DEFAULT_TEMPLATE
        return list(dict.fromkeys([value] if isinstance(value, str) else value))

    @property
    def classes(self) -> list[str]:
        return self.label_sets[0]

    @property
    def gold_to_class(self) -> dict[str, int]:
        """Gold value (as a string) -> class index, from --gold-map or the labels themselves."""
        if self.gold_map is None:
            return {label: i for i, label in enumerate(self.classes)}
        if isinstance(self.gold_map, dict):
            pairs = [(str(k), str(v)) for k, v in self.gold_map.items()]
        else:
            pairs = []
            for item in str(self.gold_map).split(","):
                value, sep, label = item.partition("=")
                if not sep or not value.strip():
                    raise ConfigError(f'--gold-map entry {item!r} must be value=label, e.g. "1=World,2=Sports"')
                pairs.append((value.strip(), label.strip()))
        mapping = {}
        for value, label in pairs:
            positions = {s.index(label) for s in self.label_sets if label in s}
            if len(positions) != 1:
                problem = "in no label set" if not positions else "a different class in different label sets"
                raise ConfigError(f"--gold-map maps {value!r} to {label!r}, which is {problem}: "
                                  f"map to one of {', '.join(self.classes)}")
            mapping[value] = positions.pop()
        return mapping

    def validate(self) -> None:
        super().validate()
        if self.labels_col:
            raise ConfigError("evaluate compares fixed label sets: give --labels (repeat it per wording), not --labels-col")
        if not self.labels:
            raise ConfigError('no label set: give --labels "a,b,c" (repeat it to compare wordings of the same classes)')
        sets = self.label_sets
        if any(len(s) < 2 for s in sets) or len({len(s) for s in sets}) > 1:
            raise ConfigError(
                f"every label set must name the same classes in the same order, at least two: got sizes "
                f"{[len(s) for s in sets]} ({sets}); in YAML, give labels as a list of sets"
            )
        for template in self.templates:
            validate_template(template, "template")
        self.strategy_options().check_label_count(self.classes)
        if not self.gold_col:
            raise ConfigError("--gold-col is required: the column holding each row's true class")
        if not self.report:
            raise ConfigError("--report is required: the folder the report goes to")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be 1 or more, got {self.limit}")
        self.gold_to_class
