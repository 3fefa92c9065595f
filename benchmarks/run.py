"""spark_zsc benchmark: every contender on the same data, model and cores, in one run.

    python benchmarks/run.py                 # distilbart-mnli-12-1 shape, about 8 minutes on 2 cores
    python benchmarks/run.py --smoke         # a tiny model and a few rows: checks the harness runs
    python benchmarks/run.py --backends      # (e) alone: writes backends.json and backends.md

Measures (a) the HF pipeline in-process at batch_size 1 and 8, an ideal in-process loop
(length-sorted pairs in token-budget batches, plain model call), (b) the spark_zsc
engine in-process, (c) the Databricks recipe on Spark (HF pipeline captured in a pandas
UDF, batch_size 8), (d) spark_zsc on Spark with backend torch, first and second action, by
default and with dedupe="input" (repeated texts found across partitions), and (e) the backends
side by side (torch and onnx, fp32 and int8), cold (a first action on a fresh session and
cache: for onnx, the driver's export included; and for onnx again on a driver that converted
the model before, as a scheduled job's later runs) and warm (the second action). Writes
benchmarks/results/benchmark.json and benchmark.md. Weights are random (no hub access
here); a model of the same shape costs exactly the same to run.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import os
import pickle
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd  # module level: the pandas UDF's type hints are resolved against these globals

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "ag_news" / "test.csv"  # the full corpus, beside the repo
SAMPLE = REPO / "tests" / "data" / "ag_news_sample.csv"  # 400 rows of it, committed: enough for --smoke
RESULTS = REPO / "benchmarks" / "results"
LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def default_data() -> Path:
    """The full corpus if it is beside the repo, else the committed sample."""
    return DATA if DATA.exists() else SAMPLE


def corpus(data: Path | None = None) -> list[str]:
    """AG News texts ("title. body") from `data` (default: `default_data()`)."""
    with open(data or default_data(), newline="", encoding="utf-8") as handle:
        return [f"{title}. {body}" for _, title, body in csv.reader(handle)]


def read_corpus(rows: int, duplicate_share: float, seed: int = 0, data: Path | None = None) -> list[str]:
    texts = corpus(data)
    rng = random.Random(seed)
    unique = rng.sample(texts, rows - int(rows * duplicate_share))
    duplicates = [rng.choice(unique) for _ in range(rows - len(unique))]  # as real tables repeat rows
    sample = unique + duplicates
    rng.shuffle(sample)
    return sample


def build_model(folder: Path, smoke: bool, data: Path | None = None) -> Path:
    from spark_zsc.testing import DISTILBART_MNLI_12_1_SHAPE, DISTILBART_VOCABULARY, build_random_nli_model

    if (folder / "model.safetensors").exists():
        return folder
    texts = corpus(data)
    if smoke:
        return build_random_nli_model(folder, texts[:300], vocab_size=2000)
    # a realistic tokenizer: a byte-level BPE of 30k tokens trained on the corpus itself
    return build_random_nli_model(
        folder,
        texts,
        vocab_size=30_000,
        shape=DISTILBART_MNLI_12_1_SHAPE,
        model_max_length=1024,
        init_std=0.02,
        embedding_rows=DISTILBART_VOCABULARY,  # weights of distilbart's size (890 MB)
    )


def onnx_folder(folder: Path, precision: str) -> Path:
    """The model in `folder` as backend onnx runs it in `precision`, converted here as the driver
    converts it (once: the conversion is kept in the cache folder)."""
    from spark_zsc.engines.onnx_nli import MODEL_FILE
    from spark_zsc.runtime.model_source import load_bundle
    from spark_zsc.runtime.onnx_export import onnx_bundle

    return Path(onnx_bundle(load_bundle(str(folder)), precision).paths[MODEL_FILE]).parent


def cpu_description() -> dict:
    """This machine's CPU model and the bf16 instruction sets it has (the runtime's reading)."""
    from spark_zsc.runtime.cpu_precisions import CPUINFO, this_cpu_bf16_instructions

    try:
        cpuinfo = CPUINFO.read_text()
    except OSError:  # not Linux
        cpuinfo = ""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    return {"model": names[0] if names else "unknown", "bf16_instructions": this_cpu_bf16_instructions()}


def matmul_peak_gflops(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    started, runs = time.perf_counter(), 10
    for _ in range(runs):
        a @ b
    return 2 * 2048**3 * runs / (time.perf_counter() - started) / 1e9


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def as_dicts(results) -> list[dict]:
    return [dict(zip(r[2], r[3])) for r in results]


def top_two_gap(scores: dict) -> float:
    first, second = sorted(scores.values(), reverse=True)[:2]
    return first - second


def compare(lower: list[dict], reference: list[dict]) -> dict:
    """The largest score difference, and top-label agreement counted only on rows whose
    reference top two labels are further apart than twice that difference: a near-tie may
    flip under any rounding, which says nothing about the precision (random weights give
    many)."""
    difference = max(abs(x[l] - y[l]) for x, y in zip(lower, reference) for l in y)
    decided = [(x, y) for x, y in zip(lower, reference) if top_two_gap(y) > 2 * difference]
    return {
        "max_score_difference": difference,
        "decided_rows": len(decided),
        "rows": len(reference),
        "top_label_agreement": (
            sum(max(x, key=x.get) == max(y, key=y.get) for x, y in decided) / len(decided)
            if decided
            else None
        ),
    }


def non_embedding_parameters(model) -> int:
    embeddings = {
        id(p) for m in model.modules() if type(m).__name__.endswith("Embedding") for p in m.parameters()
    }
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def in_process(folder: Path, texts: list[str], threads: int, token_budget: int) -> dict:
    """(a) the HF pipeline, the ideal loop and (b) the spark_zsc engine, in this process."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from spark_zsc.engines.batching import plan_batches
    from spark_zsc.engines.nli import ZeroShotEngine

    torch.set_num_threads(threads)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    pairs = len(texts) * len(LABELS)
    results = {"non_embedding_parameters": non_embedding_parameters(model)}

    classifier = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device="cpu")
    for batch_size in (1, 8):
        _, seconds = timed(
            lambda size=batch_size: classifier(texts, candidate_labels=LABELS, batch_size=size)
        )
        results[f"hf_pipeline_bs{batch_size}"] = {"pairs_per_second": pairs / seconds, "seconds": seconds}

    # the ideal loop: every pair tokenized by the tokenizer, sorted by length, token-budget batches
    encoded = [
        tokenizer(t, f"This example is {l}.", truncation="only_first")["input_ids"]
        for t in texts
        for l in LABELS
    ]
    lengths = [len(ids) for ids in encoded]

    def ideal():
        with torch.inference_mode():
            for batch in plan_batches(lengths, token_budget, max_padding=1.0):
                width = lengths[batch[0]]
                ids = torch.full((len(batch), width), tokenizer.pad_token_id)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    ids[row, : lengths[i]] = torch.tensor(encoded[i])
                    mask[row, : lengths[i]] = 1
                model(input_ids=ids, attention_mask=mask)

    _, seconds = timed(ideal)
    results["ideal_loop"] = {
        "pairs_per_second": pairs / seconds,
        "tokens_per_second": sum(lengths) / seconds,
        "seconds": seconds,
        "tokens": sum(lengths),
    }

    engine = ZeroShotEngine(model, tokenizer, token_budget=token_budget)
    (_, stats), seconds = timed(lambda: engine.classify(texts, [LABELS] * len(texts)))
    results["engine"] = {
        "pairs_per_second": pairs / seconds,
        "seconds": seconds,
        "forward_pairs": stats.forward_pairs,
        "tokens_per_second": stats.tokens / seconds,
        "padding_share": stats.padded_tokens / (stats.tokens + stats.padded_tokens),
        "forward_share": stats.forward_seconds / seconds,
    }
    results["tokens_per_pair"] = sum(lengths) / len(lengths)
    words = sum(len(t.split()) for t in texts)
    results["tokens_per_word"] = sum(len(tokenizer.tokenize(t)) for t in texts) / words
    return results


def python_workers() -> list:
    import psutil

    return [
        p for p in psutil.process_iter(["cmdline"]) if "pyspark.daemon" in " ".join(p.info["cmdline"] or [])
    ]


def worker_memory(weights_path: str) -> list[dict]:
    """PSS of each Python worker, and the PSS of its mappings of the weights file (shared pages count once
    in the sum over workers). The pyspark daemon forks workers: the ones that loaded a model are bigger."""
    out = []
    for process in python_workers():
        try:
            total = process.memory_full_info()
            weights = sum(m.pss for m in process.memory_maps(grouped=True) if m.path == weights_path)
        except Exception:  # a worker that exited meanwhile
            continue
        if weights:  # the workers that loaded the model; the daemon itself has none
            status = open(f"/proc/{process.pid}/status").read().splitlines()
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
            out.append(
                {
                    "pid": process.pid,
                    "rss_mb": total.rss / 2**20,
                    "pss_mb": total.pss / 2**20,
                    "peak_rss_mb": peak_kb / 1024,
                    "weights_pss_mb": weights / 2**20,
                }
            )
    return out


def on_spark(
    folder: Path, texts: list[str], partitions: int, token_budget: int, only_backends: bool = False
) -> dict:
    """(c) the Databricks recipe and (d) spark_zsc, each on a fresh local[2] session (cold
    Python workers: neither inherits the other's imports or memory) and, for spark_zsc, a
    cold cache (no node-local copy, no file digest: a machine that never saw the model)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import pandas_udf

    from spark_zsc import ZeroShotClassifier
    from spark_zsc.runtime import model_source
    from spark_zsc.runtime.distribution import PathModel, ship
    from spark_zsc.runtime.fingerprints import cache_root
    from spark_zsc.runtime.model_source import load_bundle

    def session():
        cold_cache = tempfile.mkdtemp(prefix="zsc-bench-cache-")
        atexit.register(shutil.rmtree, cold_cache, True)  # a converted model each: about 0.85 GB
        os.environ["SPARK_ZSC_CACHE_DIR"] = cold_cache  # the driver's, and through executorEnv the workers'
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.executorEnv.SPARK_ZSC_CACHE_DIR", cold_cache)
            .config("spark.driver.memory", "6g")
            .config("spark.sql.shuffle.partitions", str(partitions))  # dedupe="input" keeps the input's
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        frame = (
            spark.createDataFrame(list(enumerate(texts)), "id long, text string")
            .repartition(partitions)
            .cache()
        )
        frame.count()
        return spark, frame

    spark = frame = None  # each section starts a session of its own
    pairs = len(texts) * len(LABELS)
    results = {"partitions": partitions}

    def run(df):
        return timed(lambda: df.write.format("noop").mode("overwrite").save())[1]

    def first_action(
        distribution: str,
        dedupe: str = "batch",
        backend: str = "torch",
        precision: str = "auto",
        budget: int = token_budget,
    ):
        """A new classifier's first action: resolve, fingerprint, (convert,) ship and load the
        weights, classify. These sections measure torch unless told: (e) sets the backends side by side."""
        model_source._bundles.clear()  # as in a new driver process: no model checked or packed yet
        clf = ZeroShotClassifier(
            model=str(folder),
            inputCol="text",
            candidateLabels=LABELS,
            tokenBudget=budget,
            distribution=distribution,
            dedupe=dedupe,
            backend=backend,
            precision=precision,
        )
        started = time.perf_counter()
        out = clf.transform(frame)
        run(out)
        return clf, out, time.perf_counter() - started  # transform() (resolve + ship) counted in

    def backends_side_by_side() -> dict:
        """(e) each backend in each CPU precision, on a fresh session with a cold cache: the
        first action resolves, converts (onnx: the export, on the driver), ships and loads. Each
        backend batches as it does by default (tokenBudget 0), as a user's job would."""
        nonlocal spark, frame  # the session `first_action` runs in
        backends = {}
        for precision in ("fp32", "int8"):
            for backend in ("torch", "onnx"):
                spark, frame = session()
                clf, out, first = first_action("auto", backend=backend, precision=precision, budget=0)
                second = run(out)
                measured = backends[f"{backend} {precision}"] = {
                    "first_action": {"pairs_per_second": pairs / first, "seconds": first},
                    "second_action": {"pairs_per_second": pairs / second, "seconds": second},
                    "model_load_seconds": clf.metrics()["model_load_seconds"],
                }
                spark.stop()
                if backend == "onnx":  # again cold, but on a driver that converted the model before
                    converted = cache_root() / "onnx"
                    spark, frame = session()
                    shutil.copytree(converted, cache_root() / "onnx")
                    _, _, first = first_action("auto", backend=backend, precision=precision, budget=0)
                    measured["first_action_converted_before"] = {
                        "pairs_per_second": pairs / first,
                        "seconds": first,
                    }
                    spark.stop()
        return backends

    if only_backends:
        return {"partitions": partitions, "backends": backends_side_by_side()}
    spark, frame = session()

    # (d') the first action when the weights travel by broadcast, as on a multi-node cluster
    _, _, first_broadcast = first_action("broadcast")
    spark.stop()
    spark, frame = session()

    # (d) spark_zsc as it runs by default here (auto: a local master reads the model's own folder)
    clf, out, first = first_action("auto")
    bundle = load_bundle(str(folder))  # cached by now: the same bundle the classifier shipped
    handle = ship(spark, bundle)
    weights_file = (
        os.path.realpath(bundle.paths["model.safetensors"])
        if isinstance(handle, PathModel)
        else str(cache_root() / handle.fingerprint / "model.safetensors")
    )
    weight_bytes = sum(len(b) for n, b in bundle.files.items() if n.endswith(".safetensors"))
    # the broadcast alone, timed again on the side (the classifier's one is cached and reused)
    extra, broadcast_seconds = timed(lambda: spark.sparkContext.broadcast(bundle.files))
    extra.destroy()
    after_first = clf.metrics()
    second = run(out)
    metrics = clf.metrics()
    second_forward = metrics["forward_seconds"] - after_first["forward_seconds"]
    second_tokens = metrics["tokens"] - after_first["tokens"]
    second_padding = metrics["padded_tokens"] - after_first["padded_tokens"]
    slots = spark.sparkContext.defaultParallelism
    results["spark_zsc"] = {
        "distribution": "path" if isinstance(handle, PathModel) else "broadcast",
        "first_action": {"pairs_per_second": pairs / first, "seconds": first},
        "first_action_broadcast": {"pairs_per_second": pairs / first_broadcast, "seconds": first_broadcast},
        "second_action": {
            "pairs_per_second": pairs / second,
            "seconds": second,
            "tokens_per_second": second_tokens / second,
            "padding_share": second_padding / (second_tokens + second_padding),
            "forward_share_of_task_time": second_forward / (second * slots),
        },
        "model_loads": metrics["model_loads"],
        "model_load_seconds": metrics["model_load_seconds"],
        "broadcast_seconds": broadcast_seconds,
        "weight_bytes": weight_bytes,
        "broadcast_bytes": len(pickle.dumps(bundle.files, protocol=pickle.HIGHEST_PROTOCOL)),
        "forward_pairs_per_action": (metrics["forward_pairs"] - after_first["forward_pairs"]),
        "worker_memory": worker_memory(weights_file),
    }
    results["spark_zsc_precisions"] = {
        precision: warm_at_precision(frame, run, folder, token_budget, precision, second)
        for precision in ("bf16", "int8")
    }
    spark.stop()

    # (d'') the same with dedupe="input": one shuffle on the text, each distinct text scored once
    spark, frame = session()
    clf, out, first = first_action("auto", dedupe="input")
    after_first = clf.metrics()
    second = run(out)
    results["spark_zsc_dedupe_input"] = {
        "first_action": {"pairs_per_second": pairs / first, "seconds": first},
        "second_action": {"pairs_per_second": pairs / second, "seconds": second},
        "forward_pairs_per_action": clf.metrics()["forward_pairs"] - after_first["forward_pairs"],
    }
    spark.stop()

    results["backends"] = backends_side_by_side()

    # (c) Databricks' recipe: the HF pipeline built on the driver, captured in the UDF closure
    spark, frame = session()
    from transformers import pipeline

    recipe_pipeline = pipeline("zero-shot-classification", model=str(folder), device="cpu")

    @pandas_udf("string")
    def recipe(batch: pd.Series) -> pd.Series:
        out = recipe_pipeline(batch.tolist(), candidate_labels=LABELS, batch_size=8)
        return pd.Series([r["labels"][0] for r in out])

    seconds = run(frame.select("id", recipe("text").alias("label")))
    results["databricks_recipe"] = {"pairs_per_second": pairs / seconds, "seconds": seconds}

    spark.stop()
    return results


def warm_at_precision(
    frame, run, folder: Path, token_budget: int, precision: str, fp32_seconds: float
) -> dict:
    """spark_zsc's second action at `precision` against fp32's (`fp32_seconds`) in the same
    session, or why the session refused it (bf16 where this CPU has no bf16 instructions)."""
    from spark_zsc import ConfigError, ZeroShotClassifier

    clf = ZeroShotClassifier(
        model=str(folder),
        inputCol="text",
        candidateLabels=LABELS,
        tokenBudget=token_budget,
        precision=precision,
        backend="torch",
    )
    try:
        out = clf.transform(frame)
    except ConfigError as refusal:
        return {"refused": str(refusal)}
    run(out)  # the first action loads the model in this precision
    seconds = run(out)
    return {"seconds": seconds, "speedup_vs_fp32": fp32_seconds / seconds}


def warm_ratio(warm: dict) -> str:
    return f"{warm['speedup_vs_fp32']:.2f}x" if "refused" not in warm else f"refused here: {warm['refused']}"


def report(results: dict) -> str:
    r, s, d = results, results["spark"]["spark_zsc"], results["spark"]["spark_zsc_dedupe_input"]
    s_precisions = results["spark"]["spark_zsc_precisions"]
    ideal = r["in_process"]["ideal_loop"]["pairs_per_second"]
    recipe = r["spark"]["databricks_recipe"]["pairs_per_second"]
    memory = s["worker_memory"]
    rows = [
        ("HF pipeline, batch_size=1 (in-process)", r["in_process"]["hf_pipeline_bs1"]["pairs_per_second"]),
        ("HF pipeline, batch_size=8 (in-process)", r["in_process"]["hf_pipeline_bs8"]["pairs_per_second"]),
        ("ideal loop: sorted pairs, token budget, plain model call", ideal),
        ("spark_zsc engine (in-process)", r["in_process"]["engine"]["pairs_per_second"]),
        ("Databricks recipe on Spark (pipeline in a pandas UDF, batch 8)", recipe),
        (
            "spark_zsc on Spark (torch), first action (auto: the model's folder + load)",
            s["first_action"]["pairs_per_second"],
        ),
        (
            "spark_zsc on Spark (torch), first action by broadcast (as on a multi-node cluster)",
            s["first_action_broadcast"]["pairs_per_second"],
        ),
        ("spark_zsc on Spark (torch), second action", s["second_action"]["pairs_per_second"]),
        (
            'spark_zsc on Spark (torch), dedupe="input", first action (auto)',
            d["first_action"]["pairs_per_second"],
        ),
        ('spark_zsc on Spark (torch), dedupe="input", second action', d["second_action"]["pairs_per_second"]),
    ]
    lines = [
        f"Model: {r['model']}; {r['rows']} AG News rows ({r['duplicate_share']:.0%} duplicates) x {len(LABELS)} labels; "
        f"{r['threads']} cores ({r['cpu']['model']}; bf16 instructions: "
        f"{', '.join(r['cpu']['bf16_instructions']) or 'none'}), local[2]; {r['in_process']['tokens_per_pair']:.1f} tokens a pair, "
        f"{r['in_process']['tokens_per_word']:.2f} tokens a word.",
        "",
        "| contender | pairs/s | vs ideal loop |",
        "| --- | ---: | ---: |",
        *[f"| {name} | {value:.2f} | {value / ideal:.2f}x |" for name, value in rows],
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| spark_zsc first action vs Databricks recipe | {s['first_action']['pairs_per_second'] / recipe:.2f}x |",
        f"| spark_zsc first action by broadcast vs Databricks recipe | {s['first_action_broadcast']['pairs_per_second'] / recipe:.2f}x |",
        f'| spark_zsc first action, dedupe="input", vs Databricks recipe | {d["first_action"]["pairs_per_second"] / recipe:.2f}x |',
        f'| spark_zsc second action vs Databricks recipe: default / dedupe="input" | '
        f"{s['second_action']['pairs_per_second'] / recipe:.2f}x / {d['second_action']['pairs_per_second'] / recipe:.2f}x |",
        f"| spark_zsc second action vs ideal loop | {s['second_action']['pairs_per_second'] / ideal:.2f}x |",
        f'| pairs the model ran per action: default / dedupe="input" (engine in-process) | '
        f"{s['forward_pairs_per_action']} / {d['forward_pairs_per_action']} ({r['in_process']['engine']['forward_pairs']}) |",
        f"| padding share of forward tokens (second action) | {s['second_action']['padding_share']:.1%} |",
        f"| forward share of task time (second action) | {s['second_action']['forward_share_of_task_time']:.1%} |",
        f"| model loads (2 Python workers, {r['spark']['partitions']} partitions, 2 actions) | {s['model_loads']} |",
        f"| broadcast size / weight bytes | {s['broadcast_bytes'] / s['weight_bytes']:.4f} ({s['weight_bytes'] / 1e6:.0f} MB) |",
        f"| broadcast time | {s['broadcast_seconds']:.2f} s |",
        f"| worker PSS / peak RSS, each (MB) | {', '.join(format(m['pss_mb'], '.0f') + ' / ' + format(m['peak_rss_mb'], '.0f') for m in memory)} |",
        f"| weights' PSS summed over workers / weight size | {sum(m['weights_pss_mb'] for m in memory) * 2**20 / s['weight_bytes']:.2f} |",
        *[
            f"| spark_zsc on Spark, second action, {precision} vs fp32 | {warm_ratio(warm)} |"
            for precision, warm in s_precisions.items()
        ],
        f"| matmul peak (2048x2048 fp32, {r['threads']} threads) | {r['matmul_peak_gflops']:.0f} GFLOP/s |",
        f"| achieved by the ideal loop | {r['ideal_gflops']:.0f} GFLOP/s ({r['ideal_gflops'] / r['matmul_peak_gflops']:.0%} of peak) |",
        f"| achieved by spark_zsc, second action (full-model FLOPs of the pairs asked for) | "
        f"{r['spark_zsc_effective_gflops']:.0f} GFLOP/s ({r['spark_zsc_effective_gflops'] / r['matmul_peak_gflops']:.0%} of peak) |",
    ]
    return "\n".join(lines + ["", *backends_table(results["spark"]["backends"])])


def backends_report(results: dict) -> str:
    r = results
    return "\n".join(
        [
            f"Model: {r['model']}; {r['rows']} AG News rows ({r['duplicate_share']:.0%} duplicates) x {len(LABELS)} "
            f"labels; {r['threads']} cores ({r['cpu']['model']}), local[2], one fresh session a row.",
            "",
            *backends_table(r["spark"]["backends"]),
        ]
    )


def backends_table(backends: dict) -> list[str]:
    """(e): pairs/s of each backend x precision, cold (a first action on a fresh session and
    cache) and warm (its second action), and onnx against torch in the same precision."""
    lines = [
        "| backend, precision | first action (cold) pairs/s | first action, converted before | "
        "second action (warm) pairs/s | onnx vs torch: cold / converted before / warm |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, run in backends.items():
        backend, precision = name.split()
        ratio, converted = "", ""
        if backend == "onnx":
            torch_run = backends[f"torch {precision}"]
            ratio = " / ".join(
                f"{run[action]['pairs_per_second'] / torch_run[reference]['pairs_per_second']:.2f}x"
                for action, reference in (
                    ("first_action", "first_action"),
                    ("first_action_converted_before", "first_action"),
                    ("second_action", "second_action"),
                )
            )
            converted = f"{run['first_action_converted_before']['pairs_per_second']:.2f}"
        lines.append(
            f"| {name} | {run['first_action']['pairs_per_second']:.2f} | {converted} | "
            f"{run['second_action']['pairs_per_second']:.2f} | {ratio} |"
        )
    return lines


def benchmark_arguments(description: str) -> argparse.ArgumentParser:
    """The options every distilbart-shape benchmark takes: --smoke, --rows, --work-dir, --out, --data."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny model and rows: check the harness, measure nothing"
    )
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "spark_zsc_bench"))
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="AG News test.csv (default: ../shared beside the repo, else the sample under tests/)",
    )
    return parser


def benchmark_model(args: argparse.Namespace) -> Path:
    """The model `benchmark_arguments`' options ask for, built once under --work-dir."""
    name = "tiny" if args.smoke else "distilbart-mnli-12-1-shape-50265"  # with the real vocabulary's rows
    return build_model(Path(args.work_dir) / name, args.smoke, args.data)


def main(argv=None) -> dict:
    parser = benchmark_arguments(__doc__)
    parser.add_argument("--duplicate-share", type=float, default=0.25)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--token-budget", type=int, default=4096)
    parser.add_argument("--backends", action="store_true", help="only (e): writes backends.{json,md}")
    args = parser.parse_args(argv)
    rows = 12 if args.smoke else args.rows
    folder = benchmark_model(args)
    texts = read_corpus(rows, args.duplicate_share, data=args.data)
    threads = 2
    results = {
        "model": "tiny random BART" if args.smoke else "random weights, distilbart-mnli-12-1 shape",
        "rows": rows,
        "duplicate_share": args.duplicate_share,
        "threads": threads,
        "cpu": cpu_description(),
    }
    if args.backends:
        results["spark"] = on_spark(folder, texts, args.partitions, args.token_budget, only_backends=True)
        name = "backends" + ("-smoke" if args.smoke else "")
        write_results(Path(args.out), name, results, backends_report(results))
        return results
    results["matmul_peak_gflops"] = matmul_peak_gflops(threads)
    results["in_process"] = in_process(folder, texts, threads, args.token_budget)
    ideal = results["in_process"]["ideal_loop"]
    results["ideal_gflops"] = (
        2 * results["in_process"]["non_embedding_parameters"] * ideal["tokens_per_second"] / 1e9
    )
    results["spark"] = on_spark(folder, texts, args.partitions, args.token_budget)
    asked_tokens_per_second = (
        results["spark"]["spark_zsc"]["second_action"]["pairs_per_second"]
        * results["in_process"]["tokens_per_pair"]
    )
    results["spark_zsc_effective_gflops"] = (
        2 * results["in_process"]["non_embedding_parameters"] * asked_tokens_per_second / 1e9
    )
    write_results(Path(args.out), "smoke" if args.smoke else "benchmark", results, report(results))
    return results


def write_results(out: Path, name: str, results: dict, table: str) -> None:
    """`<name>.json` and the Markdown table `<name>.md` under `out`, and the table on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    (out / f"{name}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
