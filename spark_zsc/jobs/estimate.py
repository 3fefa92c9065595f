"""`classify --estimate [ROWS]`: what the full run would cost, measured on a sample of its
input on the cluster it would use. Nothing is written.

- rows: an --input-table's statistics where ANALYZE TABLE left them (no scan), else a count;
- the sample: drawn over the whole input with Spark's `sample` (a fraction from the row
  count), then ROWS picked at random on the driver: not the first file's rows;
- tokens: the sample's texts through the model's tokenizer on the driver, against the
  model's limit; tokens per pair from the classifier's counters (what the engine ran);
- speed: the sample is classified twice as one task by the classifier the job builds (the
  model shipped and loaded as in the run). The first pass pays the warm-up (shipping the
  model, starting a Python worker, loading the model); the second is steady state, less any
  model load should it land on another worker. The run's tasks each go at the second pass's
  speed, as many at once as the cluster has task slots and the input has partitions, after
  one warm-up (executors warm up side by side).
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

from pyspark.sql import DataFrame, SparkSession

from .. import sources
from ..engines.results import BatchStats, usable_rows
from ..errors import ConfigError, MetricsUnavailable, required
from ..runtime.session import is_connect
from ..sinks.tables import describe_table
from .classify import classifier_for
from .options import ClassifyConfig
from .progress import format_duration
from .summary import NUMBER_WIDTH, Line, Summary, number

SEED = 15  # the same sample of the same input, run after run
OVERSAMPLE = 1.5  # draw this many times the rows wanted, so that chance rarely leaves fewer


@dataclass(frozen=True)
class Estimate(Summary):
    """What the full run would cost, measured on a sample. Counters are None on Spark Connect."""

    model: str
    input: str
    rows: int
    rows_counted_by: str
    sample_rows: int
    pairs_per_row: float
    pairs: int
    model_limit: int  # the most tokens the model reads of a text
    tokens_per_text: Optional[float]
    over_limit_share: Optional[float]
    tokens_per_pair: Optional[float]
    first_pass_seconds: float
    second_pass_seconds: float
    model_loads: Optional[int]
    model_load_seconds: Optional[float]
    rows_per_second_per_task: float
    pairs_per_second_per_task: float
    task_slots: Optional[int]  # None: Spark Connect does not tell
    input_partitions: Optional[int]  # None: Spark Connect does not tell
    partitions_from: str
    parallel_tasks: int
    pairs_per_second_cluster: float
    warm_up_seconds: float
    steady_seconds: float
    projected_seconds: float

    def heading(self) -> str:
        return f"spark_zsc classify --estimate: nothing written ({self.input})"

    def lines(self) -> list[Line]:
        if self.tokens_per_text is None:
            text_tokens = over_limit = Line("", f"{'n/a':>{NUMBER_WIDTH}}", "no text in the sample")
        else:
            text_tokens = Line(
                "",
                number(self.tokens_per_text, ",.1f"),
                f"whole texts; the model reads {self.model_limit:,} at most",
            )
            over_limit = Line(
                "", f"{100 * (self.over_limit_share or 0):>{NUMBER_WIDTH - 1}.1f}%   of texts are longer"
            )
        tokens_per_pair = (
            Line("", number(self.tokens_per_pair, ",.1f"))
            if self.tokens_per_pair is not None
            else Line("", f"{'n/a':>{NUMBER_WIDTH}}", "no NLI pairs ran, or Spark Connect: no counters")
        )
        return [
            Line("model", self.model),
            Line("rows", number(self.rows), self.rows_counted_by),
            Line("pairs", number(self.pairs), f"{self.pairs_per_row:g} per row"),
            text_tokens._replace(name="tokens per text"),
            tokens_per_pair._replace(name="tokens per pair"),
            over_limit._replace(name="over the limit"),
            Line(
                "sample",
                f"{number(self.sample_rows)} rows, classified twice as one task: "
                f"{self.first_pass_seconds:.2f} s, then {self.second_pass_seconds:.2f} s",
            ),
            Line(
                "per task",
                f"{number(self.pairs_per_second_per_task, ',.1f')} pairs/s   "
                f"({self.rows_per_second_per_task:,.1f} rows/s)",
            ),
            Line("parallelism", self._parallelism()),
            Line("cluster", f"{number(self.pairs_per_second_cluster, ',.1f')} pairs/s"),
            Line("warm-up", f"{format_duration(self.warm_up_seconds):>{NUMBER_WIDTH}}", self._loads()),
            Line("steady state", f"{format_duration(self.steady_seconds):>{NUMBER_WIDTH}}"),
            Line(
                "projected",
                f"{format_duration(self.projected_seconds):>{NUMBER_WIDTH}}   wall time of the classification; "
                "reading the input and writing the output come on top",
            ),
        ]

    def _parallelism(self) -> str:
        if self.task_slots is None:
            return "unknown: Spark Connect does not tell the client; projected for one task slot"
        tasks = f"{self.parallel_tasks:,} task{'s' if self.parallel_tasks != 1 else ''} at a time"
        partitions = self.input_partitions or 0  # known wherever the task slots are
        source = f"{self.task_slots:,} task slots, {partitions:,} partitions"
        if self.partitions_from != "input":  # --dedupe input: the shuffle's partitions
            text = f"{tasks} ({source} from {self.partitions_from}, --dedupe input)"
            if partitions < self.task_slots:
                text += f": raise {self.partitions_from} to use every slot"
            return text
        text = f"{tasks} ({source})"
        if partitions < self.task_slots:
            text += ": repartition the input or split its files to use every slot"
        return text

    def _loads(self) -> str:
        if self.model_load_seconds:
            return f"of which loading the model {self.model_load_seconds:.1f} s"
        if self.model_loads is not None:
            return "the worker had loaded the model already: a new application also loads it"
        return ""  # Spark Connect: no counters tell


def run_estimate(spark: SparkSession, options: ClassifyConfig) -> Estimate:
    frame = sources.check_columns(sources.read_input(spark, options), options, options.written_columns())
    columns = frame.select(options.text_column, *([options.labels_col] if options.labels_col else []))
    rows, counted_by = _input_rows(spark, frame, options)
    sample = _sample(columns, rows, required(options.estimate, "--estimate ROWS"))
    if not sample:
        raise ConfigError(f"{_source(options)} has no rows: nothing to estimate")
    texts = [row[0] for row in sample]
    labels = [row[1] for row in sample] if options.labels_col else [options.labels] * len(sample)
    row_labels, _ = usable_rows(texts, labels, BatchStats())  # the engine's own rule for what gets pairs
    sample_pairs = sum(map(len, row_labels))

    # one task: its pass's wall time is one task's time (dedupe="input" would shuffle the sample
    # over many; what it saves on the whole input, a sample cannot tell)
    classifier = classifier_for(options).setDedupe("batch")
    result = classifier.transform(spark.createDataFrame(sample, columns.schema).coalesce(1))
    first_seconds = _timed_pass(result)
    after_first = _counters(classifier)
    second_seconds = _timed_pass(result)
    after_second = _counters(classifier)
    second_loading = (
        after_second["model_load_seconds"] - after_first["model_load_seconds"]
        if after_first and after_second
        else 0
    )
    steady_sample = max(second_seconds - second_loading, 1e-3)
    warm_up = max(first_seconds - steady_sample, 0.0)

    slots, partitions = _parallelism(spark, columns, options)
    parallel = min(slots, partitions) if slots and partitions else 1  # Spark Connect: per task slot
    rows_per_task_second = len(sample) / steady_sample
    steady = rows / (rows_per_task_second * parallel)
    forward_pairs = after_second["forward_pairs"] if after_second else 0
    return Estimate(
        model=options.models_description,
        input=_source(options),
        rows=rows,
        rows_counted_by=counted_by,
        sample_rows=len(sample),
        pairs_per_row=round(sample_pairs / len(sample), 3),
        pairs=round(rows * sample_pairs / len(sample)),
        **_token_profile(options, [text for text, used in zip(texts, row_labels) if used]),
        tokens_per_pair=round(after_second["tokens"] / forward_pairs, 1)
        if after_second and forward_pairs
        else None,
        first_pass_seconds=round(first_seconds, 3),
        second_pass_seconds=round(second_seconds, 3),
        model_loads=after_second["model_loads"] if after_second else None,
        model_load_seconds=round(after_first["model_load_seconds"], 3) if after_first else None,
        rows_per_second_per_task=round(rows_per_task_second, 2),
        pairs_per_second_per_task=round(sample_pairs / steady_sample, 2),
        task_slots=slots,
        input_partitions=partitions,
        partitions_from="spark.sql.shuffle.partitions" if options.dedupe == "input" else "input",
        parallel_tasks=parallel,
        pairs_per_second_cluster=round(sample_pairs / steady_sample * parallel, 2),
        warm_up_seconds=round(warm_up, 2),
        steady_seconds=round(steady, 2),
        projected_seconds=round(warm_up + steady, 2),
    )


def _source(options: ClassifyConfig) -> str:
    return f"--input-table {options.input_table}" if options.input_table else f"--input {options.input}"


def _input_rows(spark: SparkSession, frame: DataFrame, options: ClassifyConfig) -> tuple[int, str]:
    """The input's rows, and how they were counted."""
    if options.input_table:
        statistics = describe_table(spark, options.input_table).get("Statistics") or ""
        counted = re.search(r"(\d+) rows", statistics)
        if counted:
            return int(counted.group(1)), "table statistics"
    return int(frame.count()), "count"  # int: Spark Connect 3.5 counts as a numpy integer


def _sample(frame: DataFrame, rows: int, size: int) -> list:
    """Up to `size` rows drawn over the whole input. `sample` keeps each row with the same
    chance, so it draws OVERSAMPLE times more than wanted and the driver picks `size`; the
    limit keeps stale table statistics from bringing the whole input to the driver."""
    wanted = math.ceil(OVERSAMPLE * size) + 10
    drawn = frame.sample(fraction=min(1.0, wanted / max(rows, 1)), seed=SEED).limit(2 * wanted).collect()
    return random.Random(SEED).sample(drawn, min(size, len(drawn)))


def _timed_pass(result: DataFrame) -> float:
    started = time.perf_counter()
    result.write.format("noop").mode("overwrite").save()  # computes every column, keeps nothing
    return time.perf_counter() - started


def _counters(classifier) -> Optional[dict]:
    """The classifier's counters so far; None on Spark Connect, which has no accumulators."""
    try:
        return classifier.metrics()
    except MetricsUnavailable:
        return None


def _parallelism(
    spark: SparkSession, frame: DataFrame, options: ClassifyConfig
) -> tuple[Optional[int], Optional[int]]:
    """(task slots, the partitions the rows are classified in: the input's, or with --dedupe
    input the shuffle's); Spark Connect tells the client neither."""
    if is_connect(spark):
        return None, None
    context = spark.sparkContext
    slots = max(1, context.defaultParallelism // int(context.getConf().get("spark.task.cpus", "1")))
    shuffle = str(spark.conf.get("spark.sql.shuffle.partitions"))
    if options.dedupe == "input" and shuffle.isdigit():
        return slots, int(shuffle)
    return slots, frame.rdd.getNumPartitions()


def _token_profile(options: ClassifyConfig, texts: list[str]) -> dict:
    """The sample's texts through the tokenizer of the model that scores them (NLI, or the
    encoder under strategy=embedding): tokens per text, and the share of texts longer than the
    model reads on their own (the model reads the start of such a text)."""
    from transformers import AutoConfig, AutoTokenizer

    from ..engines.batching import sequence_limit
    from ..runtime.model_source import EMBEDDING, NLI, resolve_model_folder
    from ..runtime.worker import engine_max_length, stated_max_length

    kind = EMBEDDING if options.strategy == "embedding" else NLI
    folder = resolve_model_folder(options.model_names[kind])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    configured = engine_max_length(kind, options.max_length, stated_max_length(folder))
    # sequence_limit reads only the model's config: the weights stay on disk
    limit = sequence_limit(SimpleNamespace(config=AutoConfig.from_pretrained(folder)), tokenizer, configured)
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]] if texts else []
    return {
        "model_limit": limit,
        "tokens_per_text": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "over_limit_share": round(sum(n > limit for n in lengths) / len(lengths), 4) if lengths else None,
    }
