"""The evaluate job's options: the shared input/model options, with labels and template
repeatable (each a wording to compare), plus gold and report options."""

from __future__ import annotations

import dataclasses
from typing import Optional

from ...errors import ConfigError
from ...options import BY_KEY, DEFAULT_TEMPLATE
from ..options import SOURCE_OPTIONS, SourceOptions, job_option

REPORT_FORMATS = ("markdown", "html")

_WORDINGS = {
    "candidate_labels": dataclasses.replace(
        BY_KEY["candidate_labels"],
        repeatable=True,
        doc='a label set "a,b,c"; repeat for other wordings of the same classes, in the same order (YAML: a list of sets)',
    ),
    "label_descriptions": dataclasses.replace(
        BY_KEY["label_descriptions"],
        check=None,  # read by `description_sets`: one set, or (YAML) a list of sets
        doc="a label's description, NAME=DESCRIPTION (NAME: a class of the first label set); the --label flags "
        "form one description set, run as another wording of the classes (YAML: a mapping, or a list of them)",
    ),
    "hypothesis_template": dataclasses.replace(
        BY_KEY["hypothesis_template"],
        repeatable=True,
        default=(DEFAULT_TEMPLATE,),
        doc=f"hypothesis template with one {{}}; repeat to compare templates (default {DEFAULT_TEMPLATE!r})",
    ),
}

EVALUATE_OPTIONS = tuple(_WORDINGS.get(option.key, option) for option in SOURCE_OPTIONS) + (
    job_option("gold_col", str, None, "column holding each row's true class"),
    job_option(
        "gold_map",
        object,
        None,
        'gold value -> label: "1=World,2=Sports" (YAML: a mapping); without it gold values must be labels',
    ),
    job_option("report", str, None, "folder the report is written to (created; its files replaced)"),
    job_option("report_format", str, "markdown", "markdown or html", choices=REPORT_FORMATS),
    job_option("limit", int, None, "evaluate only this many rows (those with a gold value)", least=1),
    job_option(
        "target_precision",
        float,
        0.9,
        "the precision minScore should reach: the report names the lowest threshold that does, and the "
        "coverage it keeps",
        check=BY_KEY["min_score"].check,
    ),
    dataclasses.replace(
        BY_KEY["min_score"],
        doc="also report coverage and precision at this threshold; with multi-label gold, the threshold a class "
        "is predicted at (default 0.5)",
    ),
)


class EvaluateOptions(SourceOptions):
    """Every option of `evaluate`. Each label set is one wording of the same classes: the
    i-th label of every set names the i-th class, and the first set's labels name the
    classes in the report."""

    OPTIONS = EVALUATE_OPTIONS

    @property
    def label_sets(self) -> list[list[str]]:
        return list(self.labels or [])

    @property
    def templates(self) -> list[str]:
        return list(dict.fromkeys(self.template))

    @property
    def classes(self) -> list[str]:
        return self.label_sets[0]

    @property
    def description_sets(self) -> list[dict]:
        """Each set of label descriptions, keyed by class: another wording of the classes."""
        value = self.label_descriptions
        if not value:
            return []
        sets = value if isinstance(value, list) and all(isinstance(v, dict) for v in value) else [value]
        checked = [BY_KEY["label_descriptions"].check(one, "label_descriptions") for one in sets]
        for descriptions in checked:
            strangers = [name for name in descriptions if name not in self.classes]
            if strangers:
                raise ConfigError(
                    f"--label describes {', '.join(map(repr, strangers))}, not a class of the first label set "
                    f"({', '.join(self.classes)}): name the classes as --labels does"
                )
        return checked

    @property
    def wordings(self) -> list[tuple[list[str], Optional[dict]]]:
        """(labels, descriptions) of every wording to compare: each label set, then the classes
        under each description set."""
        return [(labels, None) for labels in self.label_sets] + [
            (self.classes, descriptions) for descriptions in self.description_sets
        ]

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
                    raise ConfigError(
                        f'--gold-map entry {item!r} must be value=label, e.g. "1=World,2=Sports"'
                    )
                pairs.append((value.strip(), label.strip()))
        mapping = {}
        for value, label in pairs:
            positions = {s.index(label) for s in self.label_sets if label in s}
            if len(positions) != 1:
                problem = "in no label set" if not positions else "a different class in different label sets"
                raise ConfigError(
                    f"--gold-map maps {value!r} to {label!r}, which is {problem}: "
                    f"map to one of {', '.join(self.classes)}"
                )
            mapping[value] = positions.pop()
        return mapping

    def validate(self) -> None:
        super().validate()
        if self.labels_col:
            raise ConfigError(
                "evaluate compares fixed label sets: give --labels (repeat it per wording), not --labels-col"
            )
        if not self.labels:
            raise ConfigError(
                'no label set: give --labels "a,b,c" (repeat it to compare wordings of the same classes)'
            )
        sets = self.label_sets
        if any(len(s) < 2 for s in sets) or len({len(s) for s in sets}) > 1:
            raise ConfigError(
                f"every label set must name the same classes in the same order, at least two: got sizes "
                f"{[len(s) for s in sets]} ({sets}); in YAML, give labels as a list of sets"
            )
        self.strategy_options().check_label_count(self.classes)
        if not self.gold_col:
            raise ConfigError("--gold-col is required: the column holding each row's true class")
        if not self.report:
            raise ConfigError("--report is required: the folder the report goes to")
        self.gold_to_class  # noqa: B018 (building it refuses a bad --gold-map now)
        self.description_sets  # noqa: B018 (a description of no class is refused now)
