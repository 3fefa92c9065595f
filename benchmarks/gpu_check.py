"""The GPU check: one prepared run on a machine with a GPU (or --dry-run on CPU).

    bash benchmarks/gpu_check.sh --data PATH/test.csv --out "$OUT"   # on a GPU; sized for about 6 minutes
    bash benchmarks/gpu_check.sh --dry-run                           # anywhere: tiny model, CPU, checks the script

Model: random weights of distilbart-mnli-12-1's shape (no hub here; the cost is the real
model's), fp16 unless said otherwise. Texts: AG News, never seen by the process before they
are measured (a warm-up runs on other texts first, for every contender alike). Measures:

1. correctness: fp32 on the GPU equals the HF pipeline to 1e-5 (shape buckets on), and the
   CPU; fp16 and bf16 against fp32 (largest score difference, top labels equal);
2. the HF pipeline at batch sizes 8, 32, 128, 256 against the spark_zsc engine, same texts;
3. the ceiling: the plain model's eager forward at one fixed shape (256 rows x 64 tokens),
   and spark_zsc's one-position decoder at the same shape;
4. the path a Spark task takes, without Spark: the UDF's batch loop over 10,000-row Arrow
   batches (whole, and cut by a small batchRows), tokenize-ahead on: pairs/s and tokens/s,
   the first slice's rate against the later ones' (each slice's own device time, from events
   around its launch), peak GPU memory;
5. tokenBudget against rate and peak memory, each budget warmed at its own setting; two
   tasks sharing the GPU (as with spark.task.resource.gpu.amount=0.5) against one task alone,
   each a process of its own with the same warm-up;
6. a local Spark job with GPU resources, when pyspark is installed (the GPU machine has none:
   the part is skipped with a line that says so).

A part that fails leaves its error in the JSON, and the parts after it still run. Writes
gpu_check.json (gpu_check_dry_run.json) under --out (default: $OUT where it is set, else
benchmarks/results) after every part, and prints the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import LABELS, RESULTS, as_dicts, build_model, compare  # noqa: E402 (the sibling benchmark script)

ARROW_BATCH_ROWS = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch's default
TEMPLATE = "This example is {}."
SHARING_WARM_UP = 1024  # rows each GPU-sharing process runs before it is timed
SHARING_TIMEOUT = 150  # seconds the GPU-sharing processes get for each of their two runs


def read_texts(path: Path) -> list[str]:
    """Distinct texts, as many as wanted: AG News titles and bodies, then each title with
    another story's body (realistic lengths, never a repeat)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(title, body) for _, title, body in csv.reader(handle)]
    texts = [f"{title}. {body}" for title, body in rows]
    for shift in range(1, 12):
        texts += [f"{title}. {rows[(i + shift * 997) % len(rows)][1]}" for i, (title, _) in enumerate(rows)]
    return list(dict.fromkeys(texts))


class Texts:
    """Hands out texts no contender has seen yet."""

    def __init__(self, texts: list[str]):
        self._texts, self._next = texts, 0

    def __len__(self) -> int:  # the texts still to hand out
        return len(self._texts) - self._next

    def take(self, count: int) -> list[str]:
        if self._next + count > len(self._texts):
            raise SystemExit(f"not enough distinct texts for {count} more; use a smaller --rows")
        self._next += count
        return self._texts[self._next - count : self._next]


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load_model(folder: Path, device: str, precision: str):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype).to(device).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def make_engine(model, tokenizer, device: str, token_budget: int):
    """The engine as a task on `device` builds it, with the GPU's shape ladder on any device
    (a dry run on CPU takes the GPU's path)."""
    from spark_zsc.engines.nli import ZeroShotEngine

    return ZeroShotEngine(model, tokenizer, token_budget=token_budget, device=device, shape_buckets=True)


def timed_rate(function, pairs: int, device: str) -> float:
    synchronize(device)
    started = time.perf_counter()
    function()
    synchronize(device)
    return pairs / (time.perf_counter() - started)


def correctness(folder: Path, texts: Texts, device: str, half: str) -> dict:
    """fp32 on the device against the HF pipeline and the CPU; half precisions against fp32."""
    from transformers import pipeline

    from spark_zsc.engines.nli import ZeroShotEngine

    sample = texts.take(64)
    labels = [LABELS] * len(sample)
    model, tokenizer = load_model(folder, device, "fp32")
    fp32 = as_dicts(make_engine(model, tokenizer, device, 16384).classify(sample, labels)[0])
    reference = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=device)
    expected = [
        dict(zip(r["labels"], r["scores"])) for r in reference(sample, candidate_labels=LABELS, batch_size=16)
    ]
    cpu_model, _ = load_model(folder, "cpu", "fp32")
    cpu = as_dicts(ZeroShotEngine(cpu_model, tokenizer, token_budget=4096).classify(sample, labels)[0])
    report = {"fp32_vs_hf_pipeline": compare(fp32, expected), "fp32_gpu_vs_cpu": compare(fp32, cpu)}
    report["fp32_vs_hf_pipeline"]["within_1e-5"] = (
        report["fp32_vs_hf_pipeline"]["max_score_difference"] <= 1e-5
    )
    report["fp32_gpu_vs_cpu"]["within_1e-4"] = report["fp32_gpu_vs_cpu"]["max_score_difference"] <= 1e-4
    for precision in [half, "bf16"] if half != "fp32" else []:
        model, tokenizer = load_model(folder, device, precision)
        lower = as_dicts(make_engine(model, tokenizer, device, 16384).classify(sample, labels)[0])
        report[f"{precision}_vs_fp32"] = compare(lower, fp32)
    return report


def pipeline_rates(model, tokenizer, device: str, warm: list[str], measured: list[str], batch_sizes) -> dict:
    """pairs/s of the HF pipeline at each batch size, and of the spark_zsc engine, on texts
    they have not seen, each warmed first on other texts."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=device)
    rates = {}
    pairs = len(measured) * len(LABELS)
    for batch_size in batch_sizes:
        classifier(warm[:256], candidate_labels=LABELS, batch_size=batch_size)
        rates[f"hf_pipeline_bs{batch_size}"] = timed_rate(
            lambda size=batch_size: classifier(measured, candidate_labels=LABELS, batch_size=size),
            pairs,
            device,
        )
    engine = make_engine(model, tokenizer, device, 16384)
    engine.classify(warm, [LABELS] * len(warm))
    rates["spark_zsc_engine"] = timed_rate(
        lambda: engine.classify(measured, [LABELS] * len(measured)), pairs, device
    )
    return rates


def ceiling(model, device: str, rows: int = 256, width: int = 64, repeats: int = 20) -> dict:
    """One fixed shape of unpadded rows run again and again, by the plain model and by
    spark_zsc's forward: pairs/s, and tokens/s (what compares with a loop of mixed lengths)."""
    import torch

    from spark_zsc.engines.bart_fast import last_eos_forward

    ids = torch.randint(5, model.config.vocab_size, (rows, width), device=device)
    ids[:, 0], ids[:, width // 2], ids[:, width // 2 + 1], ids[:, -1] = 0, 2, 2, 2  # <s> a </s></s> b </s>
    mask = torch.ones_like(ids)
    out: dict = {"shape": [rows, width]}
    forwards = {"plain_model": lambda: model(input_ids=ids, attention_mask=mask).logits}
    fast = last_eos_forward(model)
    if fast is not None:
        forwards["spark_zsc_forward"] = lambda: fast(ids, mask, None)
    with torch.inference_mode():
        for name, forward in forwards.items():
            for _ in range(3):
                forward()
            rate = timed_rate(lambda run=forward: [run() for _ in range(repeats)], rows * repeats, device)
            out[f"{name}_pairs_per_second"] = rate
            out[f"{name}_tokens_per_second"] = rate * width
    return out


class WallClock:
    """Marks in host time. On a CPU a slice's launch does the model's work before it returns,
    so the time between marks around it is the slice's work."""

    def mark(self) -> float:
        return time.perf_counter()

    def seconds(self, start: float, end: float) -> float:
        return end - start


class CudaClock:
    """Marks as CUDA events on the device's stream: the time between two is the device's
    time between reaching them, however far ahead of it the host has run."""

    def __init__(self, device: str):
        self.device = device

    def mark(self):
        import torch

        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event

    def seconds(self, start, end) -> float:
        end.synchronize()
        return start.elapsed_time(end) / 1000


def clock_for(device: str):
    return CudaClock(device) if device.startswith("cuda") else WallClock()


class SliceTimes:
    """Each slice's own time: marks just before and just after its launch queues its work,
    so a slice is timed by the work it queued. The time until a slice's results come back
    would be wrong on a GPU: they are taken only after the next slice is launched, and a
    launch blocks while the device is busy, so the first slice would count two slices' work."""

    def __init__(self, engine, clock):
        self._clock, self._marks = clock, []
        launch = engine.launch

        def timed_launch(prepared):
            start = clock.mark()
            launched = launch(prepared)
            self._marks.append((start, clock.mark()))
            return launched

        engine.launch = timed_launch

    def seconds(self) -> list[float]:
        return [self._clock.seconds(start, end) for start, end in self._marks]


class ShapesMet:
    """The batch shapes an engine's model meets, and how many were new since `mark()`: on a
    GPU each new shape costs kernel selection and allocator growth, which a warm task has paid."""

    def __init__(self, engine):
        self._seen: set = set()
        self._new_since_mark = 0
        forward = engine._forward

        def counted_forward(input_ids, attention_mask, token_type_ids):
            shape = tuple(input_ids.shape)
            if shape not in self._seen:
                self._seen.add(shape)
                self._new_since_mark += 1
            return forward(input_ids, attention_mask, token_type_ids)

        engine._forward = counted_forward

    def mark(self) -> None:
        self._new_since_mark = 0

    @property
    def new_since_mark(self) -> int:
        return self._new_since_mark


def udf_loop(engine, texts: list[str], batch_rows: int, device: str, clock=None) -> dict:
    """The pandas UDF's loop (classify_frames) over 10,000-row batches, each slice timed by
    its own work (`SliceTimes`, on `clock`: by default the device's)."""
    import pandas as pd
    import torch

    from spark_zsc.engines.batch_loop import classify_frames

    batches = [pd.Series(texts[i : i + ARROW_BATCH_ROWS]) for i in range(0, len(texts), ARROW_BATCH_ROWS)]
    slices = SliceTimes(engine, clock or clock_for(device))
    slice_pairs: list[int] = []
    tokens = computed_tokens = 0

    def count(stats: dict) -> None:  # called as each slice's results come back, in order
        nonlocal tokens, computed_tokens
        slice_pairs.append(stats["pairs"])
        tokens += stats["tokens"]
        computed_tokens += stats["tokens"] + stats["padded_tokens"]

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    started = time.perf_counter()
    rows = sum(
        len(f)
        for f in classify_frames(
            engine,
            iter(batches),
            fixed_labels=LABELS,
            hypothesis_template=TEMPLATE,
            multi_label=False,
            batch_rows=batch_rows,
            count=count,
        )
    )
    synchronize(device)
    seconds = time.perf_counter() - started
    slice_seconds = slices.seconds()
    first = slice_pairs[0] / slice_seconds[0]
    later = sum(slice_pairs[1:]) / sum(slice_seconds[1:]) if len(slice_pairs) > 1 else None
    return {
        "rows": rows,
        "batch_rows": batch_rows,
        "slices": len(slice_pairs),
        "seconds": seconds,
        "pairs_per_second": sum(slice_pairs) / seconds,
        "tokens_per_second": tokens / seconds,
        "computed_tokens_per_second": computed_tokens / seconds,  # padding included
        "slice_seconds": slice_seconds,
        "first_slice_pairs_per_second": first,
        "later_slices_pairs_per_second": later,
        "first_slice_vs_later": first / later if later else None,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None,
    }


def token_budget_sweep(model, tokenizer, device: str, texts: Texts, budgets, rows: int) -> dict:
    """The UDF loop at each tokenBudget, each warmed at its own budget (shapes differ by
    budget) on `rows` rows, then timed on three times as many."""
    sweep = {}
    for budget in budgets:
        engine = make_engine(model, tokenizer, device, budget)
        shapes = ShapesMet(engine)
        udf_loop(engine, texts.take(rows), 0, device)
        warmed_on = shapes.new_since_mark
        shapes.mark()
        sweep[budget] = udf_loop(engine, texts.take(3 * rows), 0, device)
        sweep[budget].update(shapes_met_warming_up=warmed_on, new_shapes_while_timed=shapes.new_since_mark)
    return sweep


def _sharing_process(folder, device, precision, token_budget, texts, ready, go, results):
    """One task's process: load, warm up, say ready, wait (bounded) for the others, run the
    batch loop; its time goes to `results`."""
    model, tokenizer = load_model(Path(folder), device, precision)
    engine = make_engine(model, tokenizer, device, token_budget)
    engine.classify(texts[:SHARING_WARM_UP], [LABELS] * SHARING_WARM_UP)
    ready.put(os.getpid())
    if go.wait(timeout=SHARING_TIMEOUT):
        results.put(udf_loop(engine, texts[SHARING_WARM_UP:], 0, device)["seconds"])


def _collect(queue, processes, deadline: float) -> list:
    """One item from `queue` per process, polling so that one that died is reported at once;
    all are killed when one dies or `deadline` (monotonic) passes."""
    import queue as queues

    items: list = []
    while len(items) < len(processes):
        try:
            items.append(queue.get(timeout=1))
        except queues.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for process in processes:
                    process.kill()
                raise RuntimeError(
                    f"a GPU-sharing process failed (exit codes {dead}) or the processes ran out of time"
                ) from None
    return items


def run_tasks(count: int, rows: int, texts: Texts, target: Callable, args: tuple, timeout: float) -> float:
    """pairs/s of `count` processes running `target` at once, each on `rows` rows of its
    own after its warm-up. The processes are daemons (they die with this one) and every
    wait is bounded by `timeout` seconds in all."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(
            target=target, args=(*args, texts.take(rows + SHARING_WARM_UP), ready, go, results), daemon=True
        )
        for _ in range(count)
    ]
    deadline = time.monotonic() + timeout
    for process in processes:
        process.start()
    try:
        _collect(ready, processes, deadline)
        started = time.perf_counter()
        go.set()
        _collect(results, processes, deadline)
        seconds = time.perf_counter() - started
    finally:
        for process in processes:
            process.join(timeout=max(1.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
    return count * rows * len(LABELS) / seconds


def gpu_sharing(
    folder: Path, texts: Texts, device: str, precision: str, rows: int, token_budget: int
) -> dict:
    """Two task processes on one GPU (spark.task.resource.gpu.amount=0.5) against one alone:
    each a fresh process with the same warm-up, so that neither meets more new shapes."""
    args = (str(folder), device, precision, token_budget)
    alone = run_tasks(1, rows, texts, _sharing_process, args, SHARING_TIMEOUT)
    together = run_tasks(2, rows, texts, _sharing_process, args, SHARING_TIMEOUT)
    return {
        "one_task_pairs_per_second": alone,
        "two_tasks_pairs_per_second": together,
        "two_vs_one": together / alone,
        "warm_up_rows": SHARING_WARM_UP,
    }


def spark_job(folder: Path, texts: list[str], gpu: bool) -> dict:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from spark_zsc import ZeroShotClassifier

    builder = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
    if gpu:
        script = Path(__file__).resolve().parent / "gpu_discovery.sh"
        builder = (
            builder.config("spark.driver.resource.gpu.amount", "1")
            .config("spark.driver.resource.gpu.discoveryScript", str(script))
            .config("spark.executor.resource.gpu.amount", "1")
            .config("spark.task.resource.gpu.amount", "1")
        )
    spark = builder.getOrCreate()
    frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string")
    clf = ZeroShotClassifier(
        model=str(folder), inputCol="text", candidateLabels=LABELS, device="cuda" if gpu else "auto"
    )
    started = time.perf_counter()
    rows = clf.transform(frame).collect()
    seconds = time.perf_counter() - started
    metrics = clf.metrics()
    spark.stop()
    return {
        "rows": len(rows),
        "classified": metrics["classified"],
        "seconds": seconds,
        "pairs_per_second": len(texts) * len(LABELS) / seconds,
        "model_loads": metrics["model_loads"],
    }


def run_part(report: dict, name: str, measure: Callable[[], object], save: Callable[[], None]) -> None:
    """report[name] = measure(), or the error it raised: one part failing (out of memory, a
    kernel missing) must not lose the parts after it. Saved either way."""
    started = time.perf_counter()
    try:
        report[name] = measure()
    except Exception as error:  # recorded, and the next part runs
        report[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        print(f"part {name} failed after {time.perf_counter() - started:.0f} s: {error}", flush=True)
    save()


def summary(report: dict) -> str:
    """The ratios the check is for, a line each; a part that failed or did not run says so."""
    lines = [
        f"device: {report['device']}; {report['half']}; {report['texts_per_contender']} new texts x {len(LABELS)} labels"
    ]

    def line(text: Callable[[], str], *parts: str) -> None:
        failed = [p for p in parts if not isinstance(report.get(p), dict) or "error" in report[p]]
        lines.append(f"({', '.join(failed)}: failed or not run)" if failed else text())

    def rates() -> dict:
        return report["throughput_pairs_per_second"]

    def best() -> str:
        return max((k for k in rates() if k.startswith("hf_pipeline")), key=rates().get)

    def loop_line() -> str:
        loop, top = report["udf_loop"]["arrow_batches"], report["ceiling"]
        return (
            f"UDF loop, 10,000-row batches: {loop['pairs_per_second']:.0f} pairs/s = "
            f"{loop['pairs_per_second'] / rates()[best()]:.2f}x the best pipeline; {loop['tokens_per_second']:.0f} "
            f"tokens/s = {loop['tokens_per_second'] / top['plain_model_tokens_per_second']:.2f}x the fixed-shape "
            f"ceiling's {top['plain_model_tokens_per_second']:.0f} (unpadded rows of {top['shape'][1]} tokens)"
        )

    def small_line() -> str:
        small = report["udf_loop"]["small_batch_rows"]
        return (
            f"UDF loop, batchRows {small['batch_rows']}: {small['pairs_per_second']:.0f} pairs/s; first slice "
            f"{small['first_slice_vs_later']:.2f}x the later slices' rate"
        )

    line(lambda: f"best HF pipeline: {best()} {rates()[best()]:.0f} pairs/s", "throughput_pairs_per_second")
    line(
        lambda: (
            f"spark_zsc engine: {rates()['spark_zsc_engine']:.0f} pairs/s = "
            f"{rates()['spark_zsc_engine'] / rates()[best()]:.2f}x the best pipeline"
        ),
        "throughput_pairs_per_second",
    )
    line(loop_line, "udf_loop", "ceiling", "throughput_pairs_per_second")
    line(small_line, "udf_loop")
    if report.get("udf_loop", {}).get("arrow_batches", {}).get("peak_gpu_memory_gb") is not None:
        lines.append(
            f"peak GPU memory at tokenBudget {report['token_budget']}: "
            f"{report['udf_loop']['arrow_batches']['peak_gpu_memory_gb']:.2f} GB"
        )
    if "gpu_sharing" in report:
        line(lambda: f"two tasks per GPU vs one: {report['gpu_sharing']['two_vs_one']:.2f}x", "gpu_sharing")
    line(
        lambda: (
            "fp32 vs HF pipeline: largest difference "
            f"{report['correctness']['fp32_vs_hf_pipeline']['max_score_difference']:.2e}"
        ),
        "correctness",
    )
    return "\n".join(lines)


def needed_texts(args, budgets) -> int:
    """Distinct texts the whole check hands out: no contender sees a text twice."""
    return (
        64  # correctness
        + 2 * args.rows  # pipeline and engine: warm-up and measured
        + args.loop_rows
        + args.small_loop_rows
        + 4 * args.rows * len(budgets)  # the token-budget sweep: a warm-up and three times it timed
        + 3 * (2 * args.rows + SHARING_WARM_UP)  # one task alone, then two sharing the GPU
        + args.rows  # the Spark job, where pyspark is
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="CPU and a tiny model: check the script only")
    parser.add_argument(
        "--data",
        default=None,
        help="AG News's full test.csv (7,600 rows); required but for a dry run, which defaults to the "
        "committed 400-row sample",
    )
    parser.add_argument(
        "--rows", type=int, default=1024, help="texts per contender in the pipeline comparison"
    )
    parser.add_argument(
        "--loop-rows", type=int, default=3 * ARROW_BATCH_ROWS, help="rows through the UDF loop"
    )
    parser.add_argument(
        "--small-loop-rows",
        type=int,
        default=ARROW_BATCH_ROWS,
        help="rows through it with --small-batch-rows",
    )
    parser.add_argument("--small-batch-rows", type=int, default=1024)
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument(
        "--out",
        default=os.environ.get("OUT") or str(RESULTS),
        help="where the JSON goes (default: $OUT where it is set, else benchmarks/results)",
    )
    parser.add_argument("--work-dir", default="/tmp/spark_zsc_gpu_check")
    args = parser.parse_args(argv)
    if args.data is None and not args.dry_run:
        parser.error(
            "--data PATH/test.csv is required (AG News's full test set); only --dry-run does without"
        )
    if args.dry_run:
        args.rows, args.loop_rows, args.small_loop_rows, args.small_batch_rows = 16, 48, 24, 8
    return args


def main(argv=None):
    args = parse_args(argv)
    from run import SAMPLE

    data = Path(args.data) if args.data else SAMPLE
    texts = Texts(read_texts(data))
    budgets = sorted({args.token_budget, *((1024, 4096) if args.dry_run else (8192, 16384, 32768, 65536))})
    needed = needed_texts(args, budgets)
    if len(texts) < needed:  # before any model is built or any device time is spent
        sys.exit(
            f"{data} gives {len(texts):,} distinct texts, the check needs {needed:,}: pass --data with "
            "AG News's full test.csv (7,600 rows; the 400-row sample under tests/ is too small)"
        )
    import torch

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run with --dry-run, or on the GPU machine")
    folder = build_model(
        Path(args.work_dir) / ("tiny" if args.dry_run else "full"), smoke=args.dry_run, data=data
    )
    half = "fp32" if args.dry_run else "fp16"  # no fp16 kernels worth testing on CPU
    report: dict = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
        "half": half,
        "texts_per_contender": args.rows,
        "token_budget": args.token_budget,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = out / ("gpu_check_dry_run.json" if args.dry_run else "gpu_check.json")

    def save():  # after every part: a run cut short by its time limit still leaves what it measured
        written.write_text(json.dumps(report, indent=2, default=str))

    loaded: list = []

    def model():  # loaded by the first part that needs it; a failed load fails those parts only
        if not loaded:
            loaded.extend(load_model(folder, device, half))
        return loaded

    def loops() -> dict:
        return {
            "arrow_batches": udf_loop(
                make_engine(*model(), device, args.token_budget), texts.take(args.loop_rows), 0, device
            ),
            "small_batch_rows": udf_loop(
                make_engine(*model(), device, args.token_budget),
                texts.take(args.small_loop_rows),
                args.small_batch_rows,
                device,
            ),
        }

    batch_sizes = (8, 32) if args.dry_run else (8, 32, 128, 256)
    parts: dict[str, Callable[[], object]] = {
        "correctness": lambda: correctness(folder, texts, device, half),
        "throughput_pairs_per_second": lambda: pipeline_rates(
            *model(), device, texts.take(args.rows), texts.take(args.rows), batch_sizes
        ),
        "ceiling": lambda: ceiling(model()[0], device, *((8, 16) if args.dry_run else (256, 64))),
        # the task's path, on freshly made engines (their own tokenizer thread and buffers; the
        # process has met the shape ladder before, as a reused Spark worker has)
        "udf_loop": loops,
        "token_budget_sweep": lambda: token_budget_sweep(*model(), device, texts, budgets, args.rows),
        "gpu_sharing": lambda: gpu_sharing(folder, texts, device, half, args.rows * 2, args.token_budget),
        "spark_job": lambda: spark_job(folder, texts.take(args.rows), gpu=device == "cuda"),
    }
    for name, measure in parts.items():
        if name == "spark_job" and not has_pyspark():
            print("pyspark is not installed here: the Spark part of the check is skipped")
            report[name] = "skipped: no pyspark"
            continue
        run_part(report, name, measure, save)
    print(json.dumps(report, indent=2, default=str))
    print(summary(report))
    return report


def has_pyspark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
