"""`DistilledClassifier`: a pyspark.ml Estimator that trains a cheap student on what a zero-shot
teacher says about a sample of the input.

fit(df):

1. a sample of `sampleRows` texts is labelled by the teacher (a `ZeroShotClassifier`: any
   strategy, labels, template, descriptions, multi-label), and embedded by the student's
   sentence encoder (the embedding strategy's engine, shipped as every model is);
2. a share (`holdoutFraction`) of it is held out; of the rest, per teacher label, the
   `keepShare` of rows the teacher is surest of (by the margin between its two best scores;
   multi-label: the least sure of its label decisions, by distance from 0.5) are kept;
   labelled examples join them, together weighing as much as the teacher's rows unless
   `exampleWeight` says otherwise;
3. Spark ML trains the student on the embeddings: one multinomial `LogisticRegression`, or
   one binary `LogisticRegression` per label for multi-label (one vs rest: Spark's
   `OneVsRest` takes one label per row and gives no probabilities);
4. on the held-out rows the student is measured against the teacher (top-label agreement,
   overall and per label, and for a few `deferBelow` thresholds) and against held-out
   examples (accuracy). Under `minAgreement` the fit raises `AgreementTooLow` with the figures.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.functions import array_to_vector
from pyspark.ml.param import Param, Params
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ..errors import AgreementTooLow, ConfigError
from ..options import PARAM
from ..options.distill import ESTIMATOR_OPTIONS
from ..runtime.distribution import ship_models
from ..runtime.onnx_export import worker_bundles
from .classifier import ZeroShotClassifier
from .columns import require_string_column
from .distill_report import DEFER_THRESHOLDS, HeldOut, agreement, cascade, per_label, refusal
from .distilled_model import (
    DistilledClassifierModel,
    StudentParams,
    head_of,
    option_param,
    refuse_connect,
    student_config,
    teacher_copy,
)
from .driver import models_for
from .params import capitalized, param_getter, param_setter
from .student_udf import build_embed_udf
from .udf import as_bytes

# the teacher's engine settings its student's encoder runs with too
SHARED_ENGINE_PARAMS = ("device", "precision", "threads", "tokenBudget", "batchRows", "pairBudget")
_TEACHER = "__spark_zsc_teacher"


def _teacher(value):
    if not isinstance(value, ZeroShotClassifier):
        raise ConfigError(f"teacher must be a ZeroShotClassifier; got {type(value).__name__}")
    return value


class DistilledClassifier(Estimator, StudentParams):
    """Trains a student (logistic regression over sentence embeddings, with Spark ML) on a
    zero-shot teacher's labels for a sample of the input, measures their agreement on rows
    held out, and returns a `DistilledClassifierModel` with the classifier's output struct.

    For example::

        teacher = ZeroShotClassifier(inputCol="text", candidateLabels=["sports", "business"])
        student = DistilledClassifier(teacher=teacher, minAgreement=0.8).fit(texts)
        student.report()["agreement"], student.transform(texts)
    """

    teacher = Param(
        Params._dummy(), "teacher", "The ZeroShotClassifier whose labels the student learns.", _teacher
    )
    _input_kwargs: dict[str, Any]

    @keyword_only
    def __init__(self, **params):
        super().__init__()
        self._setDefault(**{o.param: o.default for o in ESTIMATOR_OPTIONS if o.default is not None})
        self._examples: Optional[DataFrame] = None
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, **params) -> "DistilledClassifier":
        """Set any of the constructor's keyword arguments."""
        return self._set(**self._input_kwargs)

    def setExamples(self, examples: Optional[DataFrame]) -> "DistilledClassifier":
        """Labelled examples: a DataFrame with the text in inputCol and its gold label in labelCol
        ('label' unless set). Not a Param: it is not saved with the Estimator."""
        self._examples = examples
        return self

    def _get(self, name: str):
        param = self.getParam(name)
        return self.getOrDefault(param) if self.isDefined(param) else None

    # -- the fit ----------------------------------------------------------------------------

    def _fit(self, dataset: DataFrame) -> DistilledClassifierModel:
        spark = dataset.sparkSession
        refuse_connect(spark, "DistilledClassifier")
        given = self._get("teacher")
        if given is None:
            raise ConfigError(
                "teacher is not set: give the ZeroShotClassifier whose labels the student learns"
            )
        text = self.getInputCol() or given.getInputCol()
        if not text:
            raise ConfigError(
                "inputCol is not set (here or on the teacher): name the column that holds the text"
            )
        require_string_column(dataset.schema, text, "inputCol")
        teacher = teacher_copy(given, inputCol=text, outputCol=_TEACHER, lineageCol=None)
        teacher_options = teacher._options(spark)
        labels = teacher._candidate_labels(teacher_options, dataset.schema)
        if labels is None:
            raise ConfigError(
                "a student learns one label set: give the teacher candidateLabels or labelDescriptions, "
                "not labelsCol"
            )
        teacher_options.scoring(labels)  # the label rules, checked before any work
        multi_label = teacher_options.multi_label
        student = {
            "embeddingModel": self._get("embeddingModel"),
            **{name: given.getOrDefault(name) for name in SHARED_ENGINE_PARAMS},
        }
        config = student_config(spark, student)
        examples = self._examples_of(dataset, text, labels)
        bundles = models_for(config)
        models = ship_models(spark, worker_bundles(bundles, config.engine), config.distribution)
        embed = build_embed_udf(models, config.engine, config.strategy_options, labels)
        sample = self._sample(dataset, text)
        labelled = self._labelled(teacher, sample, examples, text, labels, multi_label).persist()
        # counted here, the teacher's pass is done in stages of its own: each task runs one model's
        # Python worker, not the teacher's beside the encoder's
        labelled.count()
        table = self._embedded(labelled, text, embed).persist()
        table.count()
        try:
            learners, report = self._train_and_measure(table, labels, multi_label)
        finally:
            table.unpersist()
            labelled.unpersist()
        if report["agreement"] < self._get("minAgreement"):
            raise AgreementTooLow(refusal(report, self._get("minAgreement")), report)
        origin = self._origin(teacher.lineage(sample), bundles["embedding"], multi_label, report)
        model = DistilledClassifierModel(
            teacher_copy(given), learners, labels, multi_label, student, report, origin
        )
        self._copyValues(model)
        return model._set(inputCol=text)

    def _gold_col(self) -> Optional[str]:
        return self._get("labelCol")

    def _examples_of(self, dataset: DataFrame, text: str, labels: list) -> Optional[DataFrame]:
        """The labelled examples as (text, gold): setExamples' rows and the input's rows with a
        gold label in labelCol; their labels checked against the teacher's (one small job)."""
        gold_col = self._gold_col()
        parts = []
        if gold_col is not None:
            require_string_column(dataset.schema, gold_col, "labelCol")
            parts.append(
                dataset.where(F.col(gold_col).isNotNull()).select(text, F.col(gold_col).alias("gold"))
            )
        if self._examples is not None:
            column = gold_col or "label"
            require_string_column(self._examples.schema, text, "inputCol (in the examples)")
            require_string_column(self._examples.schema, column, "labelCol (in the examples)")
            parts.append(self._examples.select(text, F.col(column).alias("gold")))
        if not parts:
            return None
        examples = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        examples = examples.where(F.col("gold").isNotNull())
        unknown = [
            row.gold
            for row in examples.where(~F.col("gold").isin(labels))
            .select("gold")
            .distinct()
            .limit(5)
            .collect()
        ]
        if unknown:
            raise ConfigError(
                f"labelled examples name labels the teacher does not have: {', '.join(map(repr, unknown))} "
                f"(its labels: {', '.join(labels)})"
            )
        return examples

    def _sample(self, dataset: DataFrame, text: str) -> DataFrame:
        """At most sampleRows rows with a text (the rows with a gold label are examples instead)."""
        rows = dataset.where(F.col(text).isNotNull() & (F.trim(F.col(text)) != ""))
        gold_col = self._gold_col()
        if gold_col is not None:
            rows = rows.where(F.col(gold_col).isNull())
        rows = rows.select(text)
        wanted = self._get("sampleRows")
        total = rows.count()
        if total > wanted:  # a little over the share wanted, so that the limit is reached
            rows = rows.sample(fraction=min(1.0, 1.1 * wanted / total), seed=self._get("seed"))
        # a limit leaves one partition: spread it over every core, or one task would run the teacher
        return rows.limit(wanted).repartition(dataset.sparkSession.sparkContext.defaultParallelism)

    def _labelled(self, teacher, sample, examples, text: str, labels: list, multi_label: bool) -> DataFrame:
        """One row per sample row the teacher labelled and per example: its source, top label,
        per-label targets (the teacher's scores, or 1 for the gold label), the teacher's margin."""
        result = F.col(_TEACHER)
        label_array = F.array(*(F.lit(label) for label in labels))
        by_label = F.map_from_arrays(result["labels"], result["scores"])
        scores = F.transform(label_array, lambda label: F.element_at(by_label, label))
        if multi_label:  # how sure the teacher is of its least sure decision
            margin = F.array_min(F.transform(result["scores"], lambda score: F.abs(score - 0.5)))
        else:
            margin = F.when(F.size(result["scores"]) > 1, result["scores"][0] - result["scores"][1])
            margin = margin.otherwise(result["scores"][0])
        rows = (
            teacher.transform(sample)
            .where(result.isNotNull())
            .select(
                text,
                F.lit("teacher").alias("source"),
                result["labels"][0].alias("top"),
                scores.alias("scores"),
                margin.alias("margin"),
            )
        )
        if examples is not None:
            gold_scores = F.transform(
                label_array, lambda label: F.when(label == F.col("gold"), 1.0).otherwise(0.0)
            )
            rows = rows.unionByName(
                examples.select(
                    text,
                    F.lit("example").alias("source"),
                    F.col("gold").alias("top"),
                    gold_scores.alias("scores"),
                    F.lit(None).cast("double").alias("margin"),
                )
            )
        # one partition per core again after the union with the examples, for the encoder's pass
        return rows.repartition(sample.sparkSession.sparkContext.defaultParallelism)

    def _embedded(self, labelled: DataFrame, text: str, embed) -> DataFrame:
        """The labelled rows with their embedding (as a vector too), and whether each is held out."""
        embedded = labelled.withColumn("embedding", embed(*as_bytes(F.col(text), None))).where(
            F.col("embedding").isNotNull()
        )
        return embedded.withColumn("features", array_to_vector(F.col("embedding"))).withColumn(
            "held_out", F.rand(self._get("seed")) < self._get("holdoutFraction")
        )

    def _train_and_measure(self, table: DataFrame, labels: list, multi_label: bool) -> tuple[list, dict]:
        training = table.where(~F.col("held_out"))
        teacher_rows = training.where(F.col("source") == "teacher")
        by_label = Window.partitionBy("top")
        kept = (
            teacher_rows.withColumn("rank", F.row_number().over(by_label.orderBy(F.desc("margin"))))
            .withColumn("of", F.count(F.lit(1)).over(by_label))
            .where(F.col("rank") <= F.greatest(F.lit(1), F.ceil(F.col("of") * self._get("keepShare"))))
            .drop("rank", "of")
        )
        counts = {
            (row.source, row.held_out): row["count"]
            for row in table.groupBy("source", "held_out").count().collect()
        }
        kept_rows = kept.count()
        trained_examples = counts.get(("example", False), 0)
        example_weight = self._get("exampleWeight") or kept_rows / max(trained_examples, 1)
        weighted = kept.withColumn("weight", F.lit(1.0)).unionByName(
            training.where(F.col("source") == "example").withColumn("weight", F.lit(float(example_weight)))
        )
        # a logistic regression taught a single class gives it an infinite intercept: its scores
        # would be NaN, and every row's top label that class
        taught = sorted(row.top for row in weighted.select("top").distinct().collect())
        if len(taught) < 2:
            raise ConfigError(
                f"the student would learn from rows of {len(taught)} label(s) ({', '.join(taught) or 'none'}): "
                "it needs rows of at least two labels to tell them apart; raise sampleRows or keepShare, "
                "or add labelled examples"
            )
        learners = self._learn(weighted, labels, multi_label)
        head = head_of(learners, labels, multi_label)
        held_out = table.where(F.col("held_out")).select("source", "top", "embedding").collect()
        scores = (
            head.scores(np.array([row.embedding for row in held_out]))
            if held_out
            else np.empty((0, len(labels)))
        )
        measured: dict[str, list[HeldOut]] = {"teacher": [], "example": []}
        for row, row_scores in zip(held_out, scores):
            best = int(np.argmax(row_scores))
            measured[row.source].append(HeldOut(row.top, labels[best], float(row_scores[best])))
        if not measured["teacher"]:
            raise ConfigError(
                "no sample row was held out to measure the student: raise sampleRows or holdoutFraction"
            )
        thresholds = DEFER_THRESHOLDS + ((self.getDeferBelow(),) if self.getDeferBelow() > 0 else ())
        teacher_total = counts.get(("teacher", False), 0) + counts.get(("teacher", True), 0)
        report = {
            "labels": labels,
            "sample_rows": teacher_total,
            "keep_share": self._get("keepShare"),
            "kept_rows": kept_rows,
            "kept_share": kept_rows / max(counts.get(("teacher", False), 0), 1),
            "held_out_rows": len(measured["teacher"]),
            "agreement": agreement(measured["teacher"]),
            "per_label": per_label(measured["teacher"], labels),
            "cascade": cascade(measured["teacher"], thresholds),
            "examples": {
                "trained": trained_examples,
                "weight": float(example_weight) if trained_examples else None,
                "held_out": len(measured["example"]),
                "accuracy": agreement(measured["example"]),
            },
            "min_agreement": self._get("minAgreement"),
        }
        return learners, report

    def _learn(self, training: DataFrame, labels: list, multi_label: bool) -> list:
        """The student's Spark ML models: one multinomial logistic regression, or one binary one
        per label (its target: the teacher's score for it at least 0.5, or the gold label)."""
        learner = LogisticRegression(
            featuresCol="features",
            labelCol="target",
            weightCol="weight",
            regParam=self._get("regParam"),
            maxIter=self._get("maxIter"),
        )
        if multi_label:
            return [
                learner.copy()
                .setFamily("binomial")
                .fit(training.withColumn("target", (F.col("scores")[index] >= 0.5).cast("double")))
                for index in range(len(labels))
            ]
        # the label count rides in the column's metadata, so that a label no training row has
        # still gets its row of coefficients
        index = F.coalesce(*(F.when(F.col("top") == label, float(i)) for i, label in enumerate(labels)))
        target = index.alias("target", metadata={"ml_attr": {"type": "nominal", "num_vals": len(labels)}})
        return [learner.setFamily("multinomial").fit(training.withColumn("target", target))]

    def _origin(self, teacher_lineage, encoder, multi_label: bool, report: dict) -> dict:
        from .. import __version__

        fields = teacher_lineage.fields
        teacher_fields = (
            "model",
            "model_sha256",
            "model_revision",
            "strategy",
            "embedding_model",
            "embedding_model_sha256",
            "shortlist",
            "labels",
            "template",
            "multi_label",
        )
        return {
            "teacher": {
                **{name: fields[name] for name in teacher_fields},
                "config_sha256": teacher_lineage.config_sha256,
            },
            "student": {
                "embedding_model": encoder.name,
                "embedding_model_sha256": encoder.fingerprint,
                "learner": "pyspark.ml LogisticRegression, "
                + ("binomial, one per label" if multi_label else "multinomial"),
            },
            "agreement": report["agreement"],
            "trained_at": datetime.now(timezone.utc).isoformat(),
            "version": __version__,
        }


# a Param with its getter and setter per option, as pyspark.ml spells them (getSampleRows, setSampleRows)
for _option in ESTIMATOR_OPTIONS:
    _name = _option.named(PARAM)
    if not hasattr(DistilledClassifier, _name):  # deferBelow: StudentParams'
        setattr(DistilledClassifier, _name, option_param(_option))
        setattr(DistilledClassifier, f"get{capitalized(_name)}", param_getter(_option))
        setattr(DistilledClassifier, f"set{capitalized(_name)}", param_setter(_option))
