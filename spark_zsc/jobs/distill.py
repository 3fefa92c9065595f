"""The distill job: input -> a teacher labels a sample -> a student learns it -> the student is
written with its report, and a summary says how well it agrees with its teacher."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from pyspark.sql import SparkSession

from .. import sources
from ..errors import ConfigError, required
from ..options import PARAM
from ..options.distill import DISTILL_OPTIONS
from ..paths import files_for
from ..spark.classifier import ZeroShotClassifier
from ..spark.distilled import DistilledClassifier
from .distill_options import DistillConfig
from .summary import NUMBER_WIDTH, Line, Summary, number


def distiller_for(options: DistillConfig) -> DistilledClassifier:
    teacher = ZeroShotClassifier(
        candidateLabels=options.labels, hypothesisTemplate=options.template, **options.classifier_params()
    )
    settings = {option.named(PARAM): getattr(options, option.job_name) for option in DISTILL_OPTIONS}
    return DistilledClassifier(
        teacher=teacher,
        embeddingModel=options.embedding_model,
        **{name: value for name, value in settings.items() if value is not None},
    )


def run_distill(spark: SparkSession, options: DistillConfig) -> "DistillSummary":
    """Fit a student and write it to --output (its report is in its metadata). Nothing is
    written when the student agrees with its teacher under --min-agreement."""
    started = time.perf_counter()
    output = required(options.output, "--output")
    files = files_for(spark, output)
    if options.mode != "overwrite" and files is not None and files.exists(output):
        raise ConfigError(f"--output {output!r} already exists: pass --mode overwrite or another folder")
    frame = sources.read_input(spark, options)
    model = distiller_for(options).fit(frame)
    writer = model.write()
    (writer.overwrite() if options.mode == "overwrite" else writer).save(output)
    report = model.report()
    return DistillSummary(
        teacher=options.models_description,
        student=f"{options.embedding_model} + logistic regression ({model.origin()['student']['learner']})",
        labels=list(model.labels),
        sample_rows=report["sample_rows"],
        kept_rows=report["kept_rows"],
        kept_share=report["kept_share"],
        held_out_rows=report["held_out_rows"],
        agreement=report["agreement"],
        per_label=report["per_label"],
        cascade=report["cascade"],
        examples=report["examples"],
        defer_below=model.getDeferBelow(),
        wall_seconds=round(time.perf_counter() - started, 2),
        output=output,
    )


def _share(value: Optional[float]) -> str:
    return f"{100 * value:>{NUMBER_WIDTH - 1}.1f}%" if value is not None else f"{'none':>{NUMBER_WIDTH}}"


@dataclass(frozen=True)
class DistillSummary(Summary):
    """What a distill run did: the student it wrote, and how well it agrees with its teacher."""

    teacher: str
    student: str
    labels: list[str]
    sample_rows: int
    kept_rows: int
    kept_share: float
    held_out_rows: int
    agreement: float
    per_label: dict
    cascade: list
    examples: dict
    defer_below: float
    wall_seconds: float
    output: str

    def heading(self) -> str:
        return "spark_zsc distill: done"

    def lines(self) -> list[Line]:
        accuracy = self.examples["accuracy"]
        return [
            Line("model", self.teacher),
            Line("student", self.student, "learnt from the model's labels"),
            Line("sample rows", number(self.sample_rows), "labelled by the teacher"),
            Line(
                "kept",
                number(self.kept_rows),
                f"{self.kept_share:.0%} of the training rows: the surest per label",
            ),
            Line("held out", number(self.held_out_rows)),
            Line("agreement", _share(self.agreement), "the student's top label is the teacher's"),
            Line(
                "examples",
                number(self.examples["trained"] + self.examples["held_out"]),
                f"accuracy on {self.examples['held_out']} held out: {accuracy:.1%}"
                if accuracy is not None
                else "",
            ),
            Line("defer below", f"{self.defer_below:>{NUMBER_WIDTH}}", "saved with the student"),
            Line("wall time", f"{self.wall_seconds:>{NUMBER_WIDTH},.1f} s"),
            Line("output", self.output),
        ]

    def below(self) -> list[str]:
        width = max(len(label) for label in self.labels)
        lines = ["  agreement per teacher label:"]
        lines += [
            f"    {label:<{width}}  {figures['rows']:>8,} rows  {_share(figures['agreement'])}"
            for label, figures in self.per_label.items()
        ]
        lines.append("  deferring to the teacher (agreement, share of rows deferred):")
        lines += [
            f"    deferBelow {row['defer_below']:<5}  {_share(row['agreement'])}  {_share(row['deferred_share'])}"
            for row in self.cascade
        ]
        return lines
