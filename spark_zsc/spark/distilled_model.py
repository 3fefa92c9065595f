"""`DistilledClassifierModel`: what `DistilledClassifier.fit` returns, a Transformer with the
classifier's output struct, scored by a student (Spark ML logistic regression over sentence
embeddings) and, where the student is unsure (`deferBelow`), by its teacher.

Saved with Spark ML persistence: the model's Params and figures in `metadata/`, the teacher (a
`ZeroShotClassifier`) in `teacher/`, and the student's Spark ML models in `student/<n>/` (one
multinomial model, or one binary model per label for multi-label).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timezone
from typing import Optional, Sequence

import numpy as np
from pyspark.ml import Model
from pyspark.ml.classification import LogisticRegressionModel
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import (
    DefaultParamsReader,
    DefaultParamsWriter,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..engines.student import Deferral, StudentHead
from ..errors import ConfigError
from ..options import PARAM, ClassifierConfig, Option
from ..options.distill import DEFER_BELOW
from ..runtime.devices import resolve_devices
from ..runtime.distribution import ship_models
from ..runtime.onnx_export import worker_bundles
from ..runtime.session import is_connect
from . import metrics as metrics_
from .classifier import ZeroShotClassifier
from .columns import CASE_RULE, clashing_column, require_string_column
from .driver import models_for
from .lineage import Lineage
from .student_udf import TeacherRun, build_student_udf
from .udf import as_bytes, null_when_unclassified


def refuse_connect(spark, what: str) -> None:
    """Distillation trains and saves with Spark ML's classic Python API and counts deferred rows
    in accumulators: neither is on Spark Connect, so it refuses there before any work."""
    if is_connect(spark):
        raise ConfigError(
            f"{what} needs classic Spark (Spark ML's Python API and accumulators), not Spark Connect: "
            "fit and apply the student in a classic session, or classify with ZeroShotClassifier on Connect"
        )


def require_fitted_models(bundles: dict, fitted_sha256s, role: str) -> None:
    """Refuses to run unless the models found now (kind -> bundle) are those the student was
    fitted with: its weights mean nothing over another encoder's embeddings (and the teacher's
    answers are what it learnt), so another model's labels would be wrong, under a lineage
    naming the fitted one."""
    found = {bundle.fingerprint for bundle in bundles.values()}
    missing = [sha256 for sha256 in fitted_sha256s if sha256 and sha256 not in found]
    if missing:
        names = ", ".join(f"{bundle.name!r} ({bundle.fingerprint[:12]})" for bundle in bundles.values())
        raise ConfigError(
            f"the {role} found now, {names}, is not the one this student was fitted with "
            f"(sha256 {', '.join(sha256[:12] for sha256 in missing)}): make that model available "
            "under its name again, or fit the student again"
        )


def student_config(spark, values: dict) -> ClassifierConfig:
    """The student encoder's settings (Param names -> values), checked as the classifier's are."""
    return resolve_devices(spark, ClassifierConfig.of({**values, "strategy": "embedding"}, PARAM))


def teacher_copy(teacher: ZeroShotClassifier, **params) -> ZeroShotClassifier:
    """A new classifier with `teacher`'s Params, `params` over them, and counters of its own."""
    given = {param.name: teacher.getOrDefault(param) for param in teacher.params if teacher.isSet(param)}
    given.update(params)
    return ZeroShotClassifier(**{name: value for name, value in given.items() if value is not None})


def head_of(
    learners: Sequence[LogisticRegressionModel], labels: Sequence[str], multi_label: bool
) -> StudentHead:
    """The coefficients of the student's Spark ML models, as the workers score with them."""
    if multi_label:
        weights = np.stack([learner.coefficients.toArray() for learner in learners])
        intercepts = np.array([learner.intercept for learner in learners])
    else:
        [learner] = learners
        weights, intercepts = learner.coefficientMatrix.toArray(), learner.interceptVector.toArray()
    return StudentHead(tuple(labels), weights, intercepts, multi_label)


def option_param(option: Option) -> Param:
    """A Param made from a distillation option: its name, doc, and its check as the type converter
    (a bad value is refused when set, naming the Param)."""
    return Param(
        Params._dummy(),
        option.named(PARAM),
        option.doc,
        typeConverter=lambda value: option.validate(value, PARAM),
    )


class StudentParams(Params):
    """The Params a student applies with, on the Estimator and on its model."""

    inputCol = Param(
        Params._dummy(),
        "inputCol",
        "String column holding the text (default: the teacher's).",
        TypeConverters.toString,
    )
    outputCol = Param(
        Params._dummy(),
        "outputCol",
        "Result column: struct<label, score, labels, scores>, as the classifier's; must not exist yet.",
        TypeConverters.toString,
    )
    deferBelow = option_param(DEFER_BELOW)
    lineageCol = Param(
        Params._dummy(),
        "lineageCol",
        "Add this struct column: each row's lineage, as the classifier's (strategy 'distilled': model is "
        "the teacher's, embedding_model the student's encoder; config_sha256 hashes the teacher's config, "
        "the student and deferBelow). Unset: no lineage column.",
        TypeConverters.toString,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(outputCol="zsc", deferBelow=DEFER_BELOW.default)

    def getInputCol(self) -> Optional[str]:
        return self.getOrDefault(self.inputCol) if self.isDefined(self.inputCol) else None

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)

    def getDeferBelow(self) -> float:
        return self.getOrDefault(self.deferBelow)

    def getLineageCol(self) -> Optional[str]:
        return self.getOrDefault(self.lineageCol) if self.isDefined(self.lineageCol) else None

    def setInputCol(self, value: str):
        return self._set(inputCol=value)

    def setOutputCol(self, value: str):
        return self._set(outputCol=value)

    def setDeferBelow(self, value: float):
        return self._set(deferBelow=value)

    def setLineageCol(self, value: str):
        return self._set(lineageCol=value)


class DistilledClassifierModel(Model, StudentParams, MLReadable, MLWritable):
    """A student distilled from a zero-shot teacher: `transform` adds the classifier's
    ``struct<label, score, labels, scores>``, each row scored by one sentence-encoder run and
    a logistic regression, or by the teacher where the student's score is under deferBelow.

    ``report()`` gives the fit's figures (agreement with the teacher overall and per label,
    the cascade's trade-off, accuracy on labelled examples); ``origin()`` names the teacher,
    the student and their agreement, and ``lineage()`` is the run-wide lineage, as the
    classifier's; ``metrics()`` counts rows, and the rows deferred.
    """

    def __init__(
        self,
        teacher: ZeroShotClassifier,
        learners: Sequence[LogisticRegressionModel],
        labels: Sequence[str],
        multi_label: bool,
        student: dict,
        report: dict,
        origin: dict,
    ):
        super().__init__()
        self.teacher, self.learners = teacher, list(learners)
        self.labels, self.multi_label = list(labels), multi_label
        self.student = dict(student)  # the encoder's Params: embeddingModel, device, precision, ...
        self._report, self._origin = report, origin
        self._head = head_of(self.learners, self.labels, multi_label)
        self._accumulator = None

    def report(self) -> dict:
        """The fit's figures: sample_rows, kept_share, held_out_rows, agreement, per_label,
        cascade (agreement and share deferred per threshold), examples."""
        return self._report

    def origin(self) -> dict:
        """What made this model: the teacher (model, fingerprint, labels, template, config_sha256),
        the student (encoder and its fingerprint, learner) and their agreement."""
        return self._origin

    @property
    def fingerprint(self) -> str:
        """sha256 of what the student answers with: its encoder, labels and coefficients."""
        digest = hashlib.sha256(self._origin["student"]["embedding_model_sha256"].encode())
        digest.update("\x00".join(self.labels).encode())
        digest.update(
            self._head.weights.astype("<f8").tobytes() + self._head.intercepts.astype("<f8").tobytes()
        )
        return digest.hexdigest()

    def lineage(self, dataset: Optional[DataFrame] = None) -> Lineage:
        """The run-wide lineage `transform` writes, as the classifier's (`dataset` is not read: a
        student's lineage does not depend on it): the teacher's model, labels and template, the
        student's encoder as embedding_model, strategy 'distilled'; its config (hashed into
        config_sha256) names the teacher's config, the student with its agreement, and deferBelow."""
        from .. import __version__

        teacher, student = self._origin["teacher"], self._origin["student"]
        fields = {
            **{name: teacher[name] for name in ("model", "model_sha256", "model_revision", "shortlist")},
            "strategy": "distilled",
            "embedding_model": student["embedding_model"],
            "embedding_model_sha256": student["embedding_model_sha256"],
            "labels": self.labels,
            "template": teacher["template"],
            "multi_label": self.multi_label,
            "version": __version__,
        }
        config = {
            "strategy": "distilled",
            "labels": self.labels,
            "teacher": teacher,
            "student": {**student, "sha256": self.fingerprint, "agreement": self._origin["agreement"]},
            "defer_below": self.getDeferBelow(),
        }
        engine = {"backend": "torch", "precision": self.student.get("precision", "auto")}
        return Lineage(fields, config, engine)

    def metrics(self) -> dict:
        """The classifier's counters, summed over every action on DataFrames this model produced;
        `deferred` counts the rows the teacher scored instead of the student."""
        return metrics_.snapshot(self._accumulator, used=self._accumulator is not None)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        spark = dataset.sparkSession
        refuse_connect(spark, "DistilledClassifierModel")
        text, output, lineage_col = self.getInputCol(), self.getOutputCol(), self.getLineageCol()
        if not text:
            raise ConfigError("inputCol is not set: name the column that holds the text")
        require_string_column(dataset.schema, text, "inputCol")
        added = [name for name in (output, lineage_col) if name]
        clash = clashing_column(spark, dataset.schema.names, added)
        if clash:
            raise ConfigError(
                f"{clash[0]!r} (outputCol or lineageCol) already exists as {clash[1]!r} ({CASE_RULE}): "
                "choose another name"
            )
        config = student_config(spark, self.student)
        bundles = models_for(config)
        require_fitted_models(
            bundles, [self._origin["student"]["embedding_model_sha256"]], "student's encoder"
        )
        models = ship_models(spark, worker_bundles(bundles, config.engine), config.distribution)
        if self._accumulator is None:
            self._accumulator = metrics_.new_accumulator(spark)
        teacher = self._teacher_run(spark) if self.getDeferBelow() > 0 else None
        classify = build_student_udf(
            models, config.engine, config.strategy_options, self._head, self._accumulator, teacher
        )
        raw = f"__spark_zsc_{uuid.uuid4().hex[:8]}"  # the UDF's struct, read by the null fix-up below
        result = dataset.withColumn(raw, classify(*as_bytes(dataset[text], None)))
        result = result.withColumn(output, null_when_unclassified(F.col(raw))).drop(raw)
        if lineage_col:
            column = self.lineage().column(text, output, datetime.now(timezone.utc))
            result = result.withColumn(lineage_col, column)
        return result

    def _teacher_run(self, spark) -> TeacherRun:
        """The teacher, checked and shipped here as its own transform would: the workers score the
        rows under deferBelow with it, in the student's pass."""
        options = self.teacher._options(spark)
        scoring = options.scoring(self.labels)
        bundles = models_for(options)
        fitted = self._origin["teacher"]
        require_fitted_models(
            bundles, [fitted["model_sha256"], fitted["embedding_model_sha256"]], "teacher's model"
        )
        models = ship_models(spark, worker_bundles(bundles, options.engine), options.distribution)
        deferral = Deferral(
            self.getDeferBelow(), scoring.hypotheses, scoring.multi_label, scoring.reading, scoring.abstention
        )
        return TeacherRun(models, options.engine, options.strategy_options, deferral)

    def write(self) -> MLWriter:
        return _ModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _ModelReader()


class _ModelWriter(MLWriter):
    def __init__(self, instance: DistilledClassifierModel):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        figures = {
            "labels": model.labels,
            "multiLabel": model.multi_label,
            "student": model.student,
            "learners": len(model.learners),
            "report": model.report(),
            "origin": model.origin(),
        }
        DefaultParamsWriter.saveMetadata(model, path, self.sc, extraMetadata=figures)
        model.teacher.write().save(os.path.join(path, "teacher"))
        for index, learner in enumerate(model.learners):
            learner.write().save(os.path.join(path, "student", str(index)))


class _ModelReader(MLReader):
    def load(self, path: str) -> DistilledClassifierModel:
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        learners = [
            LogisticRegressionModel.load(os.path.join(path, "student", str(index)))
            for index in range(metadata["learners"])
        ]
        model = DistilledClassifierModel(
            ZeroShotClassifier.load(os.path.join(path, "teacher")),
            learners,
            metadata["labels"],
            metadata["multiLabel"],
            metadata["student"],
            metadata["report"],
            metadata["origin"],
        )
        DefaultParamsReader.getAndSetParams(model, metadata)
        model._resetUid(metadata["uid"])
        return model
