"""`ZeroShotClassifier`: the pyspark.ml Transformer users put in their jobs and pipelines."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructType

from ..errors import ConfigError, required
from ..options import PARAM, ClassifierConfig
from ..runtime.devices import resolve_devices
from . import metrics as metrics_
from .columns import CASE_RULE, clashing_column, require_column, require_string_column
from .driver import models_for, prepare_udf
from .duplicates import group_duplicates
from .lineage import Lineage
from .params import PARAM_OPTIONS, ZeroShotParams, keyword_signature, unknown_params
from .udf import as_bytes, null_when_unclassified


class ZeroShotClassifier(Transformer, ZeroShotParams, DefaultParamsReadable, DefaultParamsWritable):
    """Zero-shot text classification with a Hugging Face NLI model, scores equal to
    ``transformers.pipeline("zero-shot-classification")``.

    Adds ``outputCol``: ``struct<label, score, labels, scores>`` with labels sorted by
    descending score, or null for a row that could not be classified (null or blank
    text, text that is not UTF-8, no usable labels). The model is loaded on the driver
    when ``transform`` is called, broadcast once, and loaded once per Python worker.

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

    _input_kwargs: dict[str, Any]  # the keyword arguments, kept by pyspark's keyword_only

    @keyword_only
    def __init__(self, **params):
        super().__init__()
        self._accumulator = None
        self._transformed = False
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, **params) -> "ZeroShotClassifier":
        """Set any of the constructor's keyword arguments."""
        unknown = unknown_params(self._input_kwargs)
        if unknown:
            raise TypeError(
                f"ZeroShotClassifier has no param {', '.join(unknown)}; its params: "
                f"{', '.join(o.named(PARAM) for o in PARAM_OPTIONS)}"
            )
        return self._set(**self._input_kwargs)

    # what help() and IDEs show: the Params as keyword arguments
    __init__.__signature__ = setParams.__signature__ = keyword_signature()  # type: ignore[attr-defined]

    def metrics(self) -> dict:
        """Counters summed over every action on DataFrames this classifier produced: rows,
        classified, skipped (and skipped_* by reason), pairs, forward_pairs,
        shortlist_skipped_pairs, embedded_texts, tokens, padded_tokens, forward_batches,
        forward_seconds, model_loads, model_load_seconds, top_labels."""
        return metrics_.snapshot(self._accumulator, used=self._transformed)

    # -- validation, all on the driver -------------------------------------------------

    def _options(self, spark: SparkSession) -> ClassifierConfig:
        """Every Param checked by the option table's checks and against `spark`'s devices,
        precision auto resolved to what its tasks run."""
        names = [o.named(PARAM) for o in PARAM_OPTIONS]
        values = {name: self.getOrDefault(name) for name in names if self.isDefined(name)}
        return resolve_devices(spark, ClassifierConfig.of(values, PARAM))

    def _candidate_labels(self, options: ClassifierConfig, schema: StructType) -> Optional[list]:
        """The fixed labels, or None when they come per row from labelsCol (checked here)."""
        has_fixed, column = self.isDefined(self.candidateLabels), options.labels_col
        if has_fixed and column:
            raise ConfigError("set candidateLabels or labelsCol, not both")
        if column:
            require_column(schema, column, "labelsCol")
            field_type = schema[column].dataType
            if not (isinstance(field_type, ArrayType) and isinstance(field_type.elementType, StringType)):
                raise ConfigError(
                    f"labelsCol {column!r} must be array<string>, but it is {field_type.simpleString()}; "
                    "e.g. split(col, ',') turns a comma-separated string into one"
                )
            return None
        if not options.candidate_labels:
            if options.label_descriptions:  # described labels alone are the label set, in their order
                return list(options.label_descriptions)
            raise ConfigError(
                "no candidate labels: set candidateLabels=[...], labelsCol='a column of labels' "
                "or labelDescriptions={label: description}"
            )
        return options.candidate_labels

    def _check_columns(self, spark, options: ClassifierConfig, schema: StructType) -> None:
        if not options.input_col:
            raise ConfigError("inputCol is not set: name the column that holds the text")
        require_string_column(schema, options.input_col, "inputCol")
        if options.lineage_col and clashing_column(spark, [options.output_col], [options.lineage_col]):
            raise ConfigError(
                f"lineageCol and outputCol name the same column ({CASE_RULE}): choose two names"
            )
        added = {"outputCol": options.output_col, "lineageCol": options.lineage_col}
        names = {column: param for param, column in added.items() if column}
        clash = clashing_column(spark, schema.names, list(names))
        if clash:
            raise ConfigError(
                f"{names[clash[0]]} {clash[0]!r} already exists in the input as {clash[1]!r} ({CASE_RULE}): "
                "choose another name"
            )

    # -- the transform -------------------------------------------------------------------

    def _transform(self, dataset: DataFrame) -> DataFrame:
        spark = dataset.sparkSession
        options = self._options(spark)
        self._check_columns(spark, options, dataset.schema)
        scoring = options.scoring(self._candidate_labels(options, dataset.schema))
        if not self._transformed:
            self._accumulator = metrics_.new_accumulator(spark)
            self._transformed = True
        classify, bundles = prepare_udf(spark, options, scoring, self._accumulator)
        text = required(options.input_col, "inputCol")  # checked by _check_columns
        if options.dedupe == "input":
            dataset = group_duplicates(dataset, text)
        per_row = (
            dataset[required(options.labels_col, "labelsCol")] if scoring.candidate_labels is None else None
        )
        inputs = as_bytes(dataset[text], per_row)
        # The UDF's struct goes into a temporary column first so that the null-struct
        # fix-up reads its result instead of calling the UDF a second time.
        raw = f"__spark_zsc_{uuid.uuid4().hex[:8]}"
        output = options.output_col
        result = (
            dataset.withColumn(raw, classify(*inputs))
            .withColumn(output, null_when_unclassified(F.col(raw)))
            .drop(raw)
        )
        if options.lineage_col:
            lineage = Lineage.of(options, bundles, scoring.candidate_labels)
            classified_at = datetime.now(timezone.utc)
            column = lineage.column(text, output, classified_at)
            result = result.withColumn(options.lineage_col, column)
        return result

    def lineage(self, dataset: DataFrame) -> Lineage:
        """The run-wide lineage `transform(dataset)` would write (models resolved on the
        driver, nothing shipped, the precision its session's tasks run): `config_sha256`
        tells which rows are current."""
        options = self._options(dataset.sparkSession)
        labels = self._candidate_labels(options, dataset.schema)
        return Lineage.of(options, models_for(options), labels)
