"""The GPU check: one prepared run on a machine with a GPU (or --dry-run on CPU).

    bash benchmarks/gpu_check.sh --data PATH/test.csv   # on the GPU machine; sized for under 6 minutes (not run yet)
    bash benchmarks/gpu_check.sh --dry-run              # anywhere: tiny model, CPU, checks the script

Model: random weights of distilbart-mnli-12-1's shape (no hub here; the cost is the real
model's), fp16 unless said otherwise. Texts: AG News, never seen by the process before they
are measured (a warm-up runs on other texts first, for every contender alike). Measures:

1. correctness: fp32 on the GPU equals the HF pipeline to 1e-5 (shape buckets on), and the
   CPU; fp16 and bf16 against fp32 (largest score difference, top labels equal);
2. the HF pipeline at batch sizes 8, 32, 128, 256 against the spark_zsc engine, same texts;
3. the ceiling: the plain model's eager forward at one fixed shape (256 rows x 64 tokens),
   and spark_zsc's one-position decoder at the same shape;
4. the path a Spark task takes, without Spark: the UDF's batch loop over 10,000-row Arrow
   batches (whole, and cut by a small batchRows), tokenize-ahead on: pairs/s, the first
   slice's rate against the later ones', peak GPU memory;
5. tokenBudget against rate and peak memory; two tasks sharing the GPU (as with
   spark.task.resource.gpu.amount=0.5) against one;
6. a local Spark job with GPU resources, when pyspark is installed (the GPU machine has none:
   the part is skipped with a line that says so).

Writes gpu_check.json (gpu_check_dry_run.json) under --out and prints the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import LABELS, RESULTS, build_model, default_data  # noqa: E402 (the sibling benchmark script)

ARROW_BATCH_ROWS = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch's default
TEMPLATE = "This example is {}."


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
    from spark_zsc.engines.nli import ZeroShotEngine

    return ZeroShotEngine(model, tokenizer, token_budget=token_budget, device=device)


def as_dicts(results) -> list[dict]:
    return [dict(zip(r[2], r[3])) for r in results]


def compare(a: list[dict], b: list[dict]) -> dict:
    return {
        "top_label_agreement": sum(max(x, key=x.get) == max(y, key=y.get) for x, y in zip(a, b)) / len(a),
        "max_score_difference": max(abs(x[l] - y[l]) for x, y in zip(a, b) for l in x),
    }


def timed_rate(function, pairs: int, device: str) -> float:
    synchronize(device)
    started = time.perf_counter()
    function()
    synchronize(device)
    return pairs / (time.perf_counter() - started)


def correctness(folder: Path, texts: Texts, device: str, half: str) -> dict:
    """fp32 on the device against the HF pipeline and the CPU; half precisions against fp32."""
    from transformers import pipeline

    sample = texts.take(64)
    labels = [LABELS] * len(sample)
    model, tokenizer = load_model(folder, device, "fp32")
    fp32 = as_dicts(make_engine(model, tokenizer, device, 16384).classify(sample, labels)[0])
    reference = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=device)
    expected = [
        dict(zip(r["labels"], r["scores"])) for r in reference(sample, candidate_labels=LABELS, batch_size=16)
    ]
    cpu_model, _ = load_model(folder, "cpu", "fp32")
    cpu = as_dicts(make_engine(cpu_model, tokenizer, "cpu", 4096).classify(sample, labels)[0])
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
    """pairs/s of the HF pipeline at each batch size, on texts it has not seen."""
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=device)
    rates = {}
    for batch_size in batch_sizes:
        classifier(warm, candidate_labels=LABELS, batch_size=batch_size)
        rates[f"hf_pipeline_bs{batch_size}"] = timed_rate(
            lambda size=batch_size: classifier(measured, candidate_labels=LABELS, batch_size=size),
            len(measured) * len(LABELS),
            device,
        )
    return rates


def engine_rate(
    model, tokenizer, device: str, warm: list[str], measured: list[str], token_budget: int
) -> float:
    engine = make_engine(model, tokenizer, device, token_budget)
    engine.classify(warm, [LABELS] * len(warm))
    return timed_rate(
        lambda: engine.classify(measured, [LABELS] * len(measured)), len(measured) * len(LABELS), device
    )


def ceiling(model, device: str, rows: int = 256, width: int = 64, repeats: int = 20) -> dict:
    """pairs/s of one fixed shape run again and again: the plain model, and spark_zsc's forward."""
    import torch

    from spark_zsc.engines.bart_fast import last_eos_forward

    ids = torch.randint(5, model.config.vocab_size, (rows, width), device=device)
    ids[:, 0], ids[:, width // 2], ids[:, width // 2 + 1], ids[:, -1] = 0, 2, 2, 2  # <s> a </s></s> b </s>
    mask = torch.ones_like(ids)
    out = {"shape": [rows, width]}
    forwards = {"plain_model": lambda: model(input_ids=ids, attention_mask=mask).logits}
    fast = last_eos_forward(model)
    if fast is not None:
        forwards["spark_zsc_forward"] = lambda: fast(ids, mask, None)
    with torch.inference_mode():
        for name, forward in forwards.items():
            for _ in range(3):
                forward()
            out[f"{name}_pairs_per_second"] = timed_rate(
                lambda run=forward: [run() for _ in range(repeats)], rows * repeats, device
            )
    return out


def udf_loop(engine, texts: list[str], batch_rows: int, device: str) -> dict:
    """The pandas UDF's loop (classify_frames) over 10,000-row batches, timing each slice."""
    import pandas as pd
    import torch

    from spark_zsc.engines.batch_loop import classify_frames

    batches = [pd.Series(texts[i : i + ARROW_BATCH_ROWS]) for i in range(0, len(texts), ARROW_BATCH_ROWS)]
    slice_times, slice_pairs = [], []
    last = [time.perf_counter()]

    def count(stats: dict) -> None:  # called as each slice's results come back, in order
        now = time.perf_counter()
        slice_times.append(now - last[0])
        slice_pairs.append(stats["pairs"])
        last[0] = now

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    started = last[0] = time.perf_counter()
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
    seconds = time.perf_counter() - started
    rates = [p / t for p, t in zip(slice_pairs, slice_times)]
    later = sum(slice_pairs[1:]) / sum(slice_times[1:]) if len(rates) > 1 else None
    return {
        "rows": rows,
        "batch_rows": batch_rows,
        "slices": len(rates),
        "seconds": seconds,
        "pairs_per_second": sum(slice_pairs) / seconds,
        "first_slice_pairs_per_second": rates[0],
        "later_slices_pairs_per_second": later,
        "first_slice_vs_later": rates[0] / later if later else None,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None,
    }


SHARING_WARM_UP = 1024  # rows each GPU-sharing child runs before it is timed


def _shared_gpu_worker(folder, device, precision, token_budget, texts, ready, go, results):
    """One of two processes sharing the GPU: load, wait for the other, run the batch loop."""
    model, tokenizer = load_model(Path(folder), device, precision)
    engine = make_engine(model, tokenizer, device, token_budget)
    # warmed on as many rows as the parent's engine had met before its timed run, so that
    # first shapes and allocator growth do not land in the timed part of the children only
    engine.classify(texts[:SHARING_WARM_UP], [LABELS] * SHARING_WARM_UP)
    ready.put(os.getpid())
    go.wait()
    results.put(udf_loop(engine, texts[SHARING_WARM_UP:], 0, device)["seconds"])


def _collect(queue, workers, timeout: float = 240) -> list:
    """One item from `queue` per worker, polling so that a worker that died is reported at
    once instead of after the whole timeout."""
    import queue as queues

    items, deadline = [], time.monotonic() + timeout
    while len(items) < len(workers):
        try:
            items.append(queue.get(timeout=2))
        except queues.Empty:
            dead = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for worker in workers:
                    worker.kill()
                raise RuntimeError(
                    f"a GPU-sharing worker failed (exit codes {dead}) or took over {timeout} s"
                ) from None
    return items


def gpu_sharing(
    folder: Path, texts: Texts, device: str, precision: str, rows: int, token_budget: int, alone: float
) -> dict:
    """Two worker processes on one GPU (spark.task.resource.gpu.amount=0.5), each with `rows`
    rows: their combined pairs/s against one process's."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    workers = [
        context.Process(
            target=_shared_gpu_worker,
            args=(
                str(folder),
                device,
                precision,
                token_budget,
                texts.take(rows + SHARING_WARM_UP),
                ready,
                go,
                results,
            ),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    _collect(ready, workers)
    started = time.perf_counter()
    go.set()
    _collect(results, workers)
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=60)
    together = 2 * rows * len(LABELS) / seconds
    return {
        "two_tasks_pairs_per_second": together,
        "one_task_pairs_per_second": alone,
        "two_vs_one": together / alone,
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


def summary(report: dict) -> str:
    rates = report["throughput_pairs_per_second"]
    best = max((k for k in rates if k.startswith("hf_pipeline")), key=rates.get)
    loop = report["udf_loop"]["arrow_batches"]
    ceiling_rate = report["ceiling"]["plain_model_pairs_per_second"]
    lines = [
        f"device: {report['device']}; {report['half']}; {report['texts_per_contender']} new texts x {len(LABELS)} labels",
        f"best HF pipeline: {best} {rates[best]:.0f} pairs/s",
        f"spark_zsc engine: {rates['spark_zsc_engine']:.0f} pairs/s = {rates['spark_zsc_engine'] / rates[best]:.2f}x the best pipeline",
        f"UDF loop, 10,000-row batches: {loop['pairs_per_second']:.0f} pairs/s = {loop['pairs_per_second'] / rates[best]:.2f}x "
        f"the best pipeline, {loop['pairs_per_second'] / ceiling_rate:.2f}x the fixed-shape ceiling ({ceiling_rate:.0f})",
    ]
    small = report["udf_loop"]["small_batch_rows"]
    lines.append(
        f"UDF loop, batchRows {small['batch_rows']}: {small['pairs_per_second']:.0f} pairs/s; first slice "
        f"{small['first_slice_vs_later']:.2f}x the later slices' rate"
    )
    if loop.get("peak_gpu_memory_gb") is not None:
        lines.append(
            f"peak GPU memory at tokenBudget {report['token_budget']}: {loop['peak_gpu_memory_gb']:.2f} GB"
        )
    if "gpu_sharing" in report:
        lines.append(f"two tasks per GPU vs one: {report['gpu_sharing']['two_vs_one']:.2f}x")
    lines.append(
        f"fp32 vs HF pipeline: largest difference {report['correctness']['fp32_vs_hf_pipeline']['max_score_difference']:.2e}"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="CPU and a tiny model: check the script only")
    parser.add_argument(
        "--data", default=None, help="AG News test.csv (default: ../shared beside the repo, else tests/data)"
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
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--work-dir", default="/tmp/spark_zsc_gpu_check")
    args = parser.parse_args(argv)
    import torch

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run with --dry-run, or on the GPU machine")
    if args.dry_run:
        args.rows, args.loop_rows, args.small_loop_rows, args.small_batch_rows = 16, 48, 24, 8
    data = Path(args.data) if args.data else default_data()
    folder = build_model(
        Path(args.work_dir) / ("tiny" if args.dry_run else "full"), smoke=args.dry_run, data=data
    )
    texts = Texts(read_texts(data))
    budgets = sorted({args.token_budget, *((1024, 4096) if args.dry_run else (8192, 16384, 32768, 65536))})
    needed = (
        64  # correctness
        + 2 * args.rows  # pipeline and engine: warm-up and measured
        + args.loop_rows
        + args.small_loop_rows
        + 2 * args.rows * len(budgets)  # the token-budget sweep
        + (0 if args.dry_run else 2 * (2 * args.rows + SHARING_WARM_UP))  # two processes sharing the GPU
        + args.rows  # the Spark job, where pyspark is
    )
    if len(texts) < needed:  # fail before any device time is spent, not half-way
        sys.exit(
            f"{data} gives {len(texts):,} distinct texts, the check needs {needed:,}: pass --data with "
            "AG News's full test.csv (7,600 rows; the 400-row sample under tests/ is too small)"
        )
    half = "fp32" if args.dry_run else "fp16"  # no fp16 kernels worth testing on CPU
    report = {
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

    report["correctness"] = correctness(folder, texts, device, half)
    save()
    model, tokenizer = load_model(folder, device, half)
    warm, measured = texts.take(args.rows), texts.take(args.rows)
    rates = pipeline_rates(
        model, tokenizer, device, warm[:256], measured, (8, 32) if args.dry_run else (8, 32, 128, 256)
    )
    rates["spark_zsc_engine"] = engine_rate(model, tokenizer, device, warm, measured, args.token_budget)
    report["throughput_pairs_per_second"] = rates
    report["ceiling"] = ceiling(model, device, *((8, 16) if args.dry_run else (256, 64)))
    save()
    # the task's path, on a freshly made engine (its own tokenizer thread and buffers; the
    # process has met the shape ladder before, in engine_rate, as a reused Spark worker has)
    report["udf_loop"] = {
        "arrow_batches": udf_loop(
            make_engine(model, tokenizer, device, args.token_budget), texts.take(args.loop_rows), 0, device
        ),
        "small_batch_rows": udf_loop(
            make_engine(model, tokenizer, device, args.token_budget),
            texts.take(args.small_loop_rows),
            args.small_batch_rows,
            device,
        ),
    }
    save()
    report["token_budget_sweep"] = {
        budget: udf_loop(make_engine(model, tokenizer, device, budget), texts.take(args.rows * 2), 0, device)
        for budget in budgets
    }
    if not args.dry_run:
        alone = report["token_budget_sweep"][args.token_budget]["pairs_per_second"]
        save()
        report["gpu_sharing"] = gpu_sharing(
            folder, texts, device, half, args.rows * 2, args.token_budget, alone
        )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark is not installed here: the Spark part of the check is skipped")
        report["spark_job"] = "skipped: no pyspark"
    else:
        report["spark_job"] = spark_job(folder, texts.take(args.rows), gpu=device == "cuda")
    save()
    print(json.dumps(report, indent=2, default=str))
    print(summary(report))
    return report


if __name__ == "__main__":
    main()
