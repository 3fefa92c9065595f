"""The GPU check: one prepared run on a machine with a GPU (or --dry-run on CPU).

    bash benchmarks/gpu_check.sh            # on the GPU machine, under 8 minutes
    bash benchmarks/gpu_check.sh --dry-run  # anywhere: tiny model, CPU, checks the script itself

1. fp32 on the GPU equals CPU scores to 1e-4;
2. fp16 top labels agree with fp32, and the largest score difference;
3. throughput of the spark_zsc engine vs the HF pipeline (batch 8 and 32) on the GPU,
   distilbart-mnli-12-1 shape;
4. a local Spark job with the GPU resource settings (each task takes the GPU Spark gives it).
Writes benchmarks/results/gpu_check.json (or the --out folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import LABELS, RESULTS, build_model, read_corpus  # noqa: E402


def engine_scores(folder, texts, device, precision, token_budget):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engine import ZeroShotEngine

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype).to(device)
    engine = ZeroShotEngine(model, AutoTokenizer.from_pretrained(folder), token_budget=token_budget, device=device)
    engine.classify(texts[:8], [LABELS] * 8)  # warm-up (CUDA kernels, allocator)
    started = time.perf_counter()
    results, _ = engine.classify(texts, [LABELS] * len(texts))
    if device != "cpu":
        torch.cuda.synchronize()
    return [dict(zip(r[2], r[3])) for r in results], len(texts) * len(LABELS) / (time.perf_counter() - started)


def overlap_rates(folder, texts, device, precision):
    """pairs/s of the engine's stream over 64-row chunks, tokenizing ahead on a thread or not."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engine import ZeroShotEngine

    dtype = {"fp32": torch.float32, "fp16": torch.float16}[precision]
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype).to(device)
    engine = ZeroShotEngine(model, AutoTokenizer.from_pretrained(folder), token_budget=16384, device=device)
    chunks = [(texts[i : i + 64], [LABELS] * len(texts[i : i + 64])) for i in range(0, len(texts), 64)]
    rates = {}
    for overlap in (False, True):
        list(engine.classify_stream(iter(chunks[:1]), overlap=overlap))  # warm-up
        started = time.perf_counter()
        list(engine.classify_stream(iter(chunks), overlap=overlap))
        rates[f"overlap_{overlap}"] = len(texts) * len(LABELS) / (time.perf_counter() - started)
    return rates


def compare(a, b):
    top = sum(max(x, key=x.get) == max(y, key=y.get) for x, y in zip(a, b)) / len(a)
    return top, max(abs(x[l] - y[l]) for x, y in zip(a, b) for l in LABELS)


def pipeline_rate(folder, texts, device, batch_size):
    import torch
    from transformers import pipeline

    classifier = pipeline("zero-shot-classification", model=str(folder), device=device,
                          dtype=torch.float16 if device != "cpu" else torch.float32)
    classifier(texts[:8], candidate_labels=LABELS, batch_size=batch_size)
    started = time.perf_counter()
    classifier(texts, candidate_labels=LABELS, batch_size=batch_size)
    return len(texts) * len(LABELS) / (time.perf_counter() - started)


def spark_job(folder, texts, device, dry_run):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from spark_zsc import ZeroShotClassifier

    builder = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
    if not dry_run:
        script = Path(__file__).resolve().parent / "gpu_discovery.sh"
        builder = (builder.config("spark.driver.resource.gpu.amount", "1")
                   .config("spark.driver.resource.gpu.discoveryScript", str(script))
                   .config("spark.executor.resource.gpu.amount", "1")
                   .config("spark.task.resource.gpu.amount", "1"))
    spark = builder.getOrCreate()
    frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string")
    clf = ZeroShotClassifier(model=str(folder), inputCol="text", candidateLabels=LABELS, device=device)
    started = time.perf_counter()
    rows = clf.transform(frame).collect()
    seconds = time.perf_counter() - started
    metrics = clf.metrics()
    spark.stop()
    return {"rows": len(rows), "classified": metrics["classified"], "seconds": seconds,
            "pairs_per_second": len(texts) * len(LABELS) / seconds, "model_loads": metrics["model_loads"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU and a tiny model: check the script only")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--work-dir", default="/tmp/spark_zsc_gpu_check")
    args = parser.parse_args(argv)
    import torch

    gpu = "cpu" if args.dry_run else "cuda"
    if gpu == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run with --dry-run, or on the GPU machine")
    folder = build_model(Path(args.work_dir) / ("tiny" if args.dry_run else "full"), smoke=args.dry_run)
    texts = read_corpus(16 if args.dry_run else args.rows, 0.0)
    report = {"device": torch.cuda.get_device_name(0) if gpu == "cuda" else "cpu (dry run)", "rows": len(texts)}
    cpu_scores, cpu_rate = engine_scores(folder, texts[:32], "cpu", "fp32", 4096)
    gpu_scores, _ = engine_scores(folder, texts[:32], gpu, "fp32", 4096)
    agreement, difference = compare(cpu_scores, gpu_scores)
    report["fp32_gpu_vs_cpu"] = {"top_label_agreement": agreement, "max_score_difference": difference,
                                 "within_1e-4": difference <= 1e-4}
    half = "fp32" if args.dry_run else "fp16"  # no fp16 kernels worth testing on CPU
    fp32_scores, fp32_rate = engine_scores(folder, texts, gpu, "fp32", 16384)
    half_scores, half_rate = engine_scores(folder, texts, gpu, half, 16384)
    agreement, difference = compare(fp32_scores, half_scores)
    report["fp16_vs_fp32"] = {"precision": half, "top_label_agreement": agreement, "max_score_difference": difference}
    report["throughput_pairs_per_second"] = {
        "spark_zsc_engine_fp32": fp32_rate, f"spark_zsc_engine_{half}": half_rate, "cpu_engine_fp32": cpu_rate,
        "hf_pipeline_bs8": pipeline_rate(folder, texts, gpu, 8), "hf_pipeline_bs32": pipeline_rate(folder, texts, gpu, 32),
    }
    report["tokenize_ahead_pairs_per_second"] = overlap_rates(folder, texts, gpu, half)
    report["spark_job"] = spark_job(folder, texts, "auto" if args.dry_run else "cuda", args.dry_run)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_check_dry_run.json" if args.dry_run else "gpu_check.json"
    (out / name).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
