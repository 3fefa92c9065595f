"""What bf16 and int8 cost and gain on this machine's CPU, against fp32, in one run.

    python benchmarks/precision.py           # about 12 minutes on 2 cores
    python benchmarks/precision.py --smoke   # a tiny model and a few rows: checks the harness runs

(a) Speed and scores on distilbart-mnli-12-1's shape (random weights: the same arithmetic
as the real model), the spark_zsc engine in this process on AG News pairs: fp32, bf16,
int8 as the workers make it (`torch.ao` dynamic quantization), int8 by torchao's
replacement for it, run eagerly as a worker would (where torchao is installed), and backend
onnx's fp32 and int8 (ONNX Runtime, the model converted as the driver converts it). Each against
fp32: pairs/s as a ratio, the largest score difference, and top-label agreement counted only
where fp32's top two labels are further apart than twice that difference (random weights
give many near-ties, which any rounding flips).
(b) Accuracy on a real model, the packaged all-MiniLM-L6-v2 (the embedding strategy), on
labelled AG News rows: accuracy and macro-F1 per precision from the `evaluate` job (a
local[2] session), and from the engine in this process on the same rows. On a CPU without
bf16 instructions the job refuses bf16 (torch would emulate it); the in-process run still
measures its accuracy, emulated: the same roundings, slower.

Writes benchmarks/results/precision.json and precision.md.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402 (the sibling benchmark script)
    LABELS,
    as_dicts,
    benchmark_arguments,
    benchmark_model,
    compare,
    cpu_description,
    default_data,
    onnx_folder,
    read_corpus,
    timed,
    write_results,
)

THREADS = 2
WARM_UP_ROWS = 8
SLICE_ROWS = 8  # rows a timed engine call classifies (32 pairs): every precision alike
GOLD = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}  # AG News's class numbers


def torchao_int8(model):
    """torchao's replacement for dynamic int8 (int8 weights, activations quantized per
    batch), run eagerly; None where torchao is not installed."""
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError:
        return None
    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return model


def timed_in_slices(engine, texts: list[str], seconds_limit: float) -> tuple[list[dict], float]:
    """Scores of `texts` classified SLICE_ROWS at a time until `seconds_limit` has passed (a
    precision torch runs slowly here is measured on fewer rows), and the seconds they took."""
    scores: list[dict] = []
    seconds = 0.0
    while len(scores) < len(texts) and (not scores or seconds < seconds_limit):
        batch = texts[len(scores) : len(scores) + SLICE_ROWS]
        (rows, _), took = timed(lambda batch=batch: engine.classify(batch, [LABELS] * len(batch)))
        scores += as_dicts(rows)
        seconds += took
    return scores, seconds


def nli_precisions(
    folder: Path, texts: list[str], warm_up: list[str], token_budget: int, limit: float
) -> dict:
    """(a): each precision's engine warmed on `warm_up`, then timed on `texts` (or as many
    slices of them as `limit` seconds allow)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engines.nli import ZeroShotEngine
    from spark_zsc.engines.onnx_nli import OnnxModel, OnnxZeroShotEngine
    from spark_zsc.runtime.cpu_precisions import quantized_int8

    torch.set_num_threads(THREADS)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def fp32_model():
        return AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def on_torch(make):
        def engine():
            model = make()
            return None if model is None else ZeroShotEngine(model, tokenizer, token_budget=token_budget)

        return engine

    def on_onnx(precision: str):
        return lambda: OnnxZeroShotEngine(
            OnnxModel.load(onnx_folder(folder, precision), THREADS), token_budget=token_budget
        )

    engines = {
        "fp32": on_torch(fp32_model),
        "bf16": on_torch(lambda: fp32_model().to(torch.bfloat16)),
        "int8": on_torch(lambda: quantized_int8(fp32_model())),
        "int8 (torchao, eager)": on_torch(lambda: torchao_int8(fp32_model())),
        "fp32 (onnx)": on_onnx("fp32"),
        "int8 (onnx)": on_onnx("int8"),
    }
    results: dict = {}
    reference: list[dict] = []
    for name, make in engines.items():
        engine = make()
        if engine is None:
            results[name] = {"skipped": "torchao is not installed (pip install torchao)"}
            continue
        engine.classify(warm_up, [LABELS] * len(warm_up))
        scores, seconds = timed_in_slices(engine, texts, float("inf") if name == "fp32" else limit)
        reference = reference or scores
        rate = len(scores) * len(LABELS) / seconds
        results[name] = {
            "rows": len(scores),
            "pairs_per_second": rate,
            "speedup_vs_fp32": rate / results["fp32"]["pairs_per_second"] if results else 1.0,
            "seconds": seconds,
            **compare(scores, reference[: len(scores)]),
        }
    return results


def labelled_rows(data: Path, rows: int, seed: int = 0) -> list[tuple[str, str]]:
    """`rows` (text, gold label) pairs drawn from AG News's test.csv."""
    with open(data, newline="", encoding="utf-8") as handle:
        labelled = [(f"{title}. {body}", GOLD[gold]) for gold, title, body in csv.reader(handle)]
    return random.Random(seed).sample(labelled, min(rows, len(labelled)))  # the 400-row sample has fewer


def evaluate_job(labelled: list[tuple[str, str]], work: Path, precisions: list[str]) -> dict:
    """(b) by the `evaluate` job, one run per precision in one local[2] session."""
    import os

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from spark_zsc import ConfigError
    from spark_zsc.jobs.commands import build_job_options
    from spark_zsc.jobs.evaluate.job import run_evaluate

    table = work / "labelled.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "gold"), *labelled])
    spark = SparkSession.builder.master(f"local[{THREADS}]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    try:
        for precision in precisions:
            flags = dict(
                input=str(table),
                input_format="csv",
                text_col="text",
                gold_col="gold",
                labels=[LABELS],
                strategy="embedding",
                precision=precision,
                report=str(work / f"report-{precision}"),
            )
            try:
                run = run_evaluate(spark, build_job_options(flags, "evaluate")).runs[0]
            except ConfigError as refusal:
                results[precision] = {"refused": str(refusal)}
                continue
            results[precision] = {"accuracy": run["accuracy"], "macro_f1": run["macro_f1"]}
    finally:
        spark.stop()
    return results


def embedding_in_process(labelled: list[tuple[str, str]], precisions: list[str]) -> dict:
    """(b) by the engine in this process, on the same rows, with evaluate's metrics."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from spark_zsc.engines.embedding import EmbeddingEngine
    from spark_zsc.jobs.evaluate.metrics import Cell, metrics_from_cells
    from spark_zsc.runtime.cpu_precisions import quantized_int8
    from spark_zsc.runtime.model_source import resolve_model_folder

    torch.set_num_threads(THREADS)
    folder = resolve_model_folder("sentence-transformers/all-MiniLM-L6-v2")  # the packaged copy
    tokenizer = AutoTokenizer.from_pretrained(folder)
    convert = {"fp32": lambda m: m, "bf16": lambda m: m.to(torch.bfloat16), "int8": quantized_int8}
    texts = [text for text, _ in labelled]
    results = {}
    for precision in precisions:
        engine = EmbeddingEngine(convert[precision](AutoModel.from_pretrained(folder).eval()), tokenizer)
        rows, _ = engine.classify(texts, [LABELS] * len(texts))
        cells = [
            Cell(LABELS.index(gold), LABELS.index(row[0]), None, 1) for row, (_, gold) in zip(rows, labelled)
        ]
        metrics = metrics_from_cells(LABELS, cells)
        results[precision] = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    return results


def report(results: dict) -> str:
    nli, job, engine = results["nli"], results["evaluate_job"], results["embedding_in_process"]
    cpu = results["cpu"]

    def agreement(run: dict) -> str:
        share = run["top_label_agreement"]
        return "n/a" if share is None else f"{share:.1%} of {run['decided_rows']}"

    def job_cell(run: dict) -> str:
        return "refused" if "refused" in run else f"{run['accuracy']:.4f} / {run['macro_f1']:.4f}"

    refusals = {run["refused"] for run in job.values() if "refused" in run}
    return "\n".join(
        [
            f"CPU: {cpu['model']}, {THREADS} threads; bf16 instructions: "
            f"{', '.join(cpu['bf16_instructions']) or 'none (bf16 is emulated by torch, and refused by spark_zsc)'}.",
            "",
            f"(a) {results['nli_model']}, the engine in-process, up to {results['rows']} AG News rows x {len(LABELS)} "
            f"labels, {SLICE_ROWS} rows a call; a precision but fp32 stops after the slice that passes "
            f"{results['seconds_per_precision']:.0f} s:",
            "",
            "| precision | rows | pairs/s | vs fp32 | largest score difference | top label as fp32's (decided rows) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *[
                f"| {name} | skipped: {run['skipped']} | | | | |"
                if "skipped" in run
                else f"| {name} | {run['rows']} | {run['pairs_per_second']:.2f} | {run['speedup_vs_fp32']:.2f}x | "
                f"{run['max_score_difference']:.2e} | {agreement(run)} |"
                for name, run in nli.items()
            ],
            "",
            f"(b) all-MiniLM-L6-v2 (embedding strategy), {results['labelled_rows']} labelled AG News rows, "
            'labels World, Sports, Business, Sci/Tech, template "This example is {}.":',
            "",
            "| precision | evaluate job: accuracy / macro-F1 | in-process: accuracy / macro-F1 |",
            "| --- | ---: | ---: |",
            *[
                f"| {precision} | {job_cell(job[precision])} | {run['accuracy']:.4f} / {run['macro_f1']:.4f} |"
                for precision, run in engine.items()
            ],
            *([""] + [f"Refused by the job: {refusal}" for refusal in sorted(refusals)] if refusals else []),
        ]
    )


def main(argv=None) -> dict:
    parser = benchmark_arguments(__doc__)
    parser.add_argument("--labelled-rows", type=int, default=2000, help="rows for (b); --rows: for (a)")
    parser.add_argument("--token-budget", type=int, default=4096)
    parser.add_argument(
        "--seconds",
        type=float,
        default=90,
        help="time for each precision but fp32 in (a): a slow one runs fewer rows",
    )
    args = parser.parse_args(argv)
    rows, labelled_count = (12, 40) if args.smoke else (args.rows, args.labelled_rows)
    folder = benchmark_model(args)
    texts = read_corpus(rows + WARM_UP_ROWS, 0.0, data=args.data)
    precisions = ["fp32", "bf16", "int8"]
    labelled = labelled_rows(args.data or default_data(), labelled_count)
    work = Path(tempfile.mkdtemp(prefix="zsc-precision-"))
    results = {
        "cpu": cpu_description(),
        "nli_model": "tiny random BART" if args.smoke else "random weights, distilbart-mnli-12-1 shape",
        "rows": rows,
        "seconds_per_precision": args.seconds,
        "nli": nli_precisions(
            folder, texts[WARM_UP_ROWS:], texts[:WARM_UP_ROWS], args.token_budget, args.seconds
        ),
        "labelled_rows": len(labelled),
        "evaluate_job": evaluate_job(labelled, work, precisions),
        "embedding_in_process": embedding_in_process(labelled, precisions),
    }
    write_results(Path(args.out), "precision-smoke" if args.smoke else "precision", results, report(results))
    return results


if __name__ == "__main__":
    main()
