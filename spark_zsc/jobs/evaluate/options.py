"""The evaluate job's config: the shared input/model options, with labels and template
repeatable (each a wording to compare), plus gold and report options (`option_table.py`)."""

from __future__ import annotations

from functools import cached_property
from typing import Optional

from ...errors import ConfigError, required
from ...options import BY_KEY, DEFAULT_TEMPLATE, JOB, ClassifierConfig
from ..fields import EvaluateFields
from ..options import SourceConfig, StudentRun


class EvaluateConfig(StudentRun, EvaluateFields, SourceConfig):  # type: ignore[misc]  # labels, template: lists of wordings
    """Every option of `evaluate`. Each label set is one wording of the same classes: the
    i-th label of every set names the i-th class, and the first set's labels name the
    classes in the report."""

    @cached_property
    def classifier(self) -> ClassifierConfig:
        """The classifier's options of the first wording (the others differ in their labels,
        template and descriptions only), checked by the classifier's rules."""
        values = {option.job_name: getattr(self, option.job_name) for option in self.OPTIONS if option.param}
        first = {"labels": self.classes, "template": self.templates[0], "label_descriptions": None}
        return ClassifierConfig.of({**values, **first}, JOB)

    @property
    def gold_column(self) -> str:
        return required(self.gold_col, "--gold-col")

    @property
    def report_folder(self) -> str:
        return required(self.report, "--report")

    @property
    def label_sets(self) -> list[list[str]]:
        return list(self.labels or [])

    @property
    def templates(self) -> list[str]:
        return list(dict.fromkeys(self.template))

    @property
    def classes(self) -> list[str]:
        return self.label_sets[0]

    # parsed from --label and --gold-map when the config is built (a bad one refused then)
    description_sets: list[dict]  # each set of label descriptions, keyed by class
    gold_to_class: dict[str, int]  # gold value (as a string) -> class index

    def _description_sets(self) -> list[dict]:
        """Each set of label descriptions, keyed by class: another wording of the classes."""
        value = self.label_descriptions
        if not value:
            return []
        sets = value if isinstance(value, list) and all(isinstance(v, dict) for v in value) else [value]
        check = required(BY_KEY["label_descriptions"].check, "the check of label descriptions")
        checked = [check(one, "label_descriptions") for one in sets]
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

    def _gold_to_class(self) -> dict[str, int]:
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

    def check_rules(self) -> None:
        self.check_source_rules()
        chosen = {flag: given for flag, given in self._chosen_teacher().items() if flag != "--min-score"}
        self._check_student(
            {
                **chosen,  # --min-score is a threshold to report on here, which a student's scores have too
                "--template": self.templates != [DEFAULT_TEMPLATE],
                "a second --labels": len(self.label_sets) > 1,
            }
        )
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
        self.classifier.scoring(self.classes)  # the classifier's own rules
        if not self.gold_col:
            raise ConfigError("--gold-col is required: the column holding each row's true class")
        if not self.report:
            raise ConfigError("--report is required: the folder the report goes to")
        self._derived("gold_to_class", self._gold_to_class())
        self._derived("description_sets", self._description_sets())
