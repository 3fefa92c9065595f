"""The distill job's config: the teacher's options (those classify and evaluate share), where the
student goes, and the distillation's own (`option_table.DISTILL_JOB_OPTIONS`). Nothing here needs
Spark."""

from __future__ import annotations

from ..errors import ConfigError
from .fields import DistillFields
from .options import SourceConfig


class DistillConfig(DistillFields, SourceConfig):
    """Every option of `distill`. Labels given only with descriptions are the label set."""

    def derive(self) -> None:
        if not self.labels and self.labels_col is None and self.label_descriptions:
            self._derived("labels", list(self.label_descriptions))

    def check_rules(self) -> None:
        self.check_source_rules()
        if self.labels_col:
            raise ConfigError(
                "a student learns one label set: give --labels or --label NAME=DESCRIPTION, not --labels-col"
            )
        if not self.labels:
            raise ConfigError('no candidate labels: give --labels "a,b,c" or --label NAME=DESCRIPTION')
        self.classifier.scoring(self.labels)  # the teacher's own rules
        if not self.output:
            raise ConfigError("--output is required: the folder the student is written to")
