"""`ZeroShotClassifier`: the pyspark.ml Transformer users put in their jobs and pipelines."""

from __future__ import annotations

import uuid
from typing import Optional

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructType

from . import metrics as metrics_
from ..runtime.devices import check_devices
from ..runtime.distribution import ship_models
from ..options import ConfigError, EngineOptions, ScoringOptions, StrategyOptions, parse_candidate_labels
from .params import ZeroShotParams
from .udf import build_classify_udf, null_when_unclassified


class ZeroShotClassifier(Transformer, ZeroShotParams, DefaultParamsReadable, DefaultParamsWritable):
    """Zero-shot text classification with a Hugging Face NLI model, scores equal to
    ``transformers.pipeline("zero-shot-classification")``.

    Adds ``outputCol``: ``struct<label, score, labels, scores>`` with labels sorted by
    descending score, or null for a row that could not be classified (null or blank
    text, no usable labels). The model is loaded on the driver when ``transform`` is
    called, broadcast once, and loaded once per Python worker.

    ``strategy="embedding"`` scores by cosine similarity of sentence embeddings instead
    (``embeddingModel``, ``temperature``, ``threshold``); ``shortlist=k`` runs NLI only on
    each row's k labels most similar by embedding.

    >>> clf = ZeroShotClassifier(model=tiny_model, inputCol="text",
    ...                          candidateLabels=["sports", "business"])
    >>> [row] = clf.transform(spark.createDataFrame([("The team won",)], ["text"])).collect()
    >>> sorted(row.zsc.labels), round(sum(row.zsc.scores), 6)
    (['business', 'sports'], 1.0)
    >>> clf.metrics()["classified"]
    1
    """

    @keyword_only
    def __init__(
        self,
        *,
        model: Optional[str] = None,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        candidateLabels=None,
        labelsCol: Optional[str] = None,
        hypothesisTemplate: Optional[str] = None,
        multiLabel: Optional[bool] = None,
        maxLength: Optional[int] = None,
        tokenBudget: Optional[int] = None,
        batchRows: Optional[int] = None,
        threads: Optional[int] = None,
        device: Optional[str] = None,
        distribution: Optional[str] = None,
        precision: Optional[str] = None,
        strategy: Optional[str] = None,
        embeddingModel: Optional[str] = None,
        temperature: Optional[float] = None,
        threshold: Optional[float] = None,
        shortlist: Optional[int] = None,
    ):
        super().__init__()
        self._accumulator = None
        self._transformed = False
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, **kwargs) -> "ZeroShotClassifier":
        """Set any of the constructor's keyword arguments."""
        return self._set(**self._input_kwargs)

    def setModel(self, value: str) -> "ZeroShotClassifier":
        return self._set(model=value)

    def setInputCol(self, value: str) -> "ZeroShotClassifier":
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "ZeroShotClassifier":
        return self._set(outputCol=value)

    def setCandidateLabels(self, value) -> "ZeroShotClassifier":
        return self._set(candidateLabels=value)

    def setLabelsCol(self, value: str) -> "ZeroShotClassifier":
        return self._set(labelsCol=value)

    def setHypothesisTemplate(self, value: str) -> "ZeroShotClassifier":
        return self._set(hypothesisTemplate=value)

    def setMultiLabel(self, value: bool) -> "ZeroShotClassifier":
        return self._set(multiLabel=value)

    def setMaxLength(self, value: int) -> "ZeroShotClassifier":
        return self._set(maxLength=value)

    def setTokenBudget(self, value: int) -> "ZeroShotClassifier":
        return self._set(tokenBudget=value)

    def setBatchRows(self, value: int) -> "ZeroShotClassifier":
        return self._set(batchRows=value)

    def setThreads(self, value: int) -> "ZeroShotClassifier":
        return self._set(threads=value)

    def setDevice(self, value: str) -> "ZeroShotClassifier":
        return self._set(device=value)

    def setPrecision(self, value: str) -> "ZeroShotClassifier":
        return self._set(precision=value)

    def setDistribution(self, value: str) -> "ZeroShotClassifier":
        return self._set(distribution=value)

    def setStrategy(self, value: str) -> "ZeroShotClassifier":
        return self._set(strategy=value)

    def setEmbeddingModel(self, value: str) -> "ZeroShotClassifier":
        return self._set(embeddingModel=value)

    def setTemperature(self, value: float) -> "ZeroShotClassifier":
        return self._set(temperature=value)

    def setThreshold(self, value: float) -> "ZeroShotClassifier":
        return self._set(threshold=value)

    def setShortlist(self, value: int) -> "ZeroShotClassifier":
        return self._set(shortlist=value)

    def metrics(self) -> dict:
        """Counters summed over every action on DataFrames this classifier produced: rows,
        classified, skipped (and skipped_* by reason), pairs, forward_pairs,
        shortlist_skipped_pairs, embedded_texts, tokens, padded_tokens, forward_batches,
        forward_seconds, model_loads, model_load_seconds, top_labels."""
        return metrics_.snapshot(self._accumulator, used=self._transformed)

    # -- validation, all on the driver -------------------------------------------------

    def _scoring_options(self, schema: StructType) -> ScoringOptions:
        has_fixed = self.isDefined(self.candidateLabels)
        has_column = self.isDefined(self.labelsCol)
        if has_fixed and has_column:
            raise ConfigError("set candidateLabels or labelsCol, not both")
        if has_column:
            column = self.getLabelsCol()
            if column not in schema.names:
                raise ConfigError(f"labelsCol {column!r} is not a column of the input (columns: {schema.names})")
            field_type = schema[column].dataType
            if not (isinstance(field_type, ArrayType) and isinstance(field_type.elementType, StringType)):
                raise ConfigError(
                    f"labelsCol {column!r} must be array<string>, but it is {field_type.simpleString()}; "
                    "e.g. split(col, ',') turns a comma-separated string into one"
                )
            labels = None
        else:
            labels = parse_candidate_labels(self.getCandidateLabels() if has_fixed else None)
            if not labels:
                raise ConfigError("no candidate labels: set candidateLabels=[...] or labelsCol='a column of labels'")
            labels = tuple(labels)
        return ScoringOptions(
            hypothesis_template=self.getHypothesisTemplate(),
            multi_label=self.getMultiLabel(),
            candidate_labels=labels,
        )

    def _engine_options(self) -> EngineOptions:
        return EngineOptions(
            max_length=self.getMaxLength() or None,
            token_budget=self.getTokenBudget(),
            batch_rows=self.getBatchRows(),
            threads=self.getThreads(),
            device=self.getDevice(),
            precision=self.getPrecision(),
        )

    def _strategy_options(self, scoring: ScoringOptions) -> StrategyOptions:
        strategy = StrategyOptions(
            strategy=self.getStrategy(), temperature=self.getTemperature(), threshold=self.getThreshold(),
            shortlist=self.getShortlist(),
        )
        strategy.check_label_count(scoring.candidate_labels)
        return strategy

    def _check_columns(self, schema: StructType) -> None:
        if not self.isDefined(self.inputCol):
            raise ConfigError("inputCol is not set: name the column that holds the text")
        text_column = self.getInputCol()
        if text_column not in schema.names:
            raise ConfigError(f"inputCol {text_column!r} is not a column of the input (columns: {schema.names})")
        if not isinstance(schema[text_column].dataType, StringType):
            raise ConfigError(
                f"inputCol {text_column!r} must be a string column, but it is "
                f"{schema[text_column].dataType.simpleString()}: cast it first"
            )
        if self.getOutputCol() in schema.names:
            raise ConfigError(f"outputCol {self.getOutputCol()!r} already exists in the input: choose another name")

    # -- the transform -------------------------------------------------------------------

    def _transform(self, dataset: DataFrame) -> DataFrame:
        self._check_columns(dataset.schema)
        scoring = self._scoring_options(dataset.schema)
        engine_options = self._engine_options()
        strategy = self._strategy_options(scoring)
        spark = dataset.sparkSession
        check_devices(spark, engine_options)
        models = ship_models(spark, strategy, model=self.getModel(), embedding_model=self.getEmbeddingModel(),
                             distribution=self.getDistribution())
        if not self._transformed:
            self._accumulator = metrics_.new_accumulator(spark)
            self._transformed = True
        classify = build_classify_udf(models, scoring, engine_options, strategy, self._accumulator)
        inputs = [dataset[self.getInputCol()]]
        if scoring.candidate_labels is None:
            inputs.append(dataset[self.getLabelsCol()])
        # The UDF's struct goes into a temporary column first so that the null-struct
        # fix-up reads its result instead of calling the UDF a second time.
        raw = f"__spark_zsc_{uuid.uuid4().hex[:8]}"
        output = self.getOutputCol()
        return (
            dataset.withColumn(raw, classify(*inputs))
            .withColumn(output, null_when_unclassified(F.col(raw)))
            .drop(raw)
        )
