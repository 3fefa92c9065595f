"""Many labels: peak worker memory with a whole Arrow batch at once, and with the pair budget.

    python benchmarks/many_labels.py             # about 5 minutes on 2 cores
    python benchmarks/many_labels.py --dry-run   # seconds: small shapes, results not written

Each run is the pandas UDF's loop (`classify_frames`) in a process of its own, over one
Arrow batch of --rows distinct AG News titles scored against 20, 200 and 2,000 fixed labels:
either the whole batch in one slice (batchRows = the batch's rows, what the default did
before the pair budget) or sliced by the default pairBudget. A run's figure is its peak
RSS (the kernel's high-water mark) less its RSS once the model is loaded and the batch read:
the memory the batch itself takes. The model is a random BART smaller still than the
tests' (`MICRO_SHAPE`: d_model 8, one layer each side), run with tokenBudget 32768 so that
millions of pairs take minutes: its activations, bounded by tokenBudget apart, are a few MB.
What is measured is what the worker holds per pair (token ids and indices of the pairs,
logits, each row's ranked labels and scores), which a real model's worker holds alike.
Results go to benchmarks/results/many_labels.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, corpus, write_results  # noqa: E402 (the sibling benchmark script)

LABEL_COUNTS = (20, 200, 2_000)
MICRO_SHAPE = dict(
    d_model=8,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=1,
    decoder_attention_heads=1,
    encoder_ffn_dim=16,
    decoder_ffn_dim=16,
    max_position_embeddings=64,
)
TOKEN_BUDGET = 32_768
MODES = ("whole batch", "pair budget")


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def one_run(model: str, rows: int, labels: int, mode: str) -> dict:
    """Classify one batch in this process; what it took, as a dict."""
    import time

    import pandas as pd
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from spark_zsc.engines.batch_loop import DEFAULT_PAIR_BUDGET, classify_frames
    from spark_zsc.engines.nli import ZeroShotEngine

    torch.set_num_threads(1)  # as a task with spark.task.cpus=1
    engine = ZeroShotEngine(
        AutoModelForSequenceClassification.from_pretrained(model),
        AutoTokenizer.from_pretrained(model),
        token_budget=TOKEN_BUDGET,
    )
    titles = [text.split(". ")[0] for text in corpus()]  # short texts: the pairs' count is what is measured
    batch = pd.Series([f"{titles[i % len(titles)]} (#{i})" for i in range(rows)])  # every text distinct
    candidates = [f"label number {i}" for i in range(labels)]
    slices = []
    before = _rss_mb()
    started = time.perf_counter()
    [frame] = classify_frames(
        engine,
        [batch],
        fixed_labels=candidates,
        hypothesis_template="This example is {}.",
        multi_label=False,
        batch_rows=rows if mode == "whole batch" else 0,
        count=lambda stats: slices.append(stats["pairs"]),
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert len(frame) == rows
    return {
        "labels": labels,
        "mode": mode,
        "rows": rows,
        "pairs": sum(slices),
        "slices": len(slices),
        "largest_slice_pairs": max(slices),
        "pair_budget": DEFAULT_PAIR_BUDGET if mode == "pair budget" else None,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "batch_mb": round(peak - before, 1),
        "seconds": round(seconds, 1),
    }


def report(results: dict) -> str:
    lines = [
        f"One Arrow batch of {results['rows']:,} texts, {results['model']}, one torch thread; "
        f"`{results['command']}`",
        "",
        "| labels | pairs | slicing | slices | largest slice (pairs) | peak RSS MB | of it for the batch MB | s |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        slicing = (
            "whole batch (before)"
            if run["mode"] == "whole batch"
            else f"pairBudget {run['pair_budget']:,} (default)"
        )
        lines.append(
            f"| {run['labels']:,} | {run['pairs']:,} | {slicing} | {run['slices']} | "
            f"{run['largest_slice_pairs']:,} | {run['peak_rss_mb']:,.0f} | {run['batch_mb']:,.0f} | "
            f"{run['seconds']:,.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500, help="rows in the Arrow batch")
    parser.add_argument("--dry-run", action="store_true", help="20 rows, 2 and 20 labels, nothing written")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--run", nargs=4, metavar=("MODEL", "ROWS", "LABELS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:  # one measurement, in the process of its own the parent started
        model, rows, labels, mode = args.run
        print(json.dumps(one_run(model, int(rows), int(labels), mode)))
        return {}

    from spark_zsc.testing import build_random_nli_model

    rows, label_counts = (20, (2, 20)) if args.dry_run else (args.rows, LABEL_COUNTS)
    with tempfile.TemporaryDirectory() as scratch:
        model = str(
            build_random_nli_model(
                Path(scratch) / "micro", corpus()[:300], vocab_size=2000, shape=MICRO_SHAPE
            )
        )
        runs = []
        for labels in label_counts:
            for mode in MODES:
                child = [sys.executable, __file__, "--run", model, str(rows), str(labels), mode]
                done = subprocess.run(child, capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.splitlines()[-1]))
                print(json.dumps(runs[-1]), flush=True)
    command = "python benchmarks/many_labels.py" + ("" if rows == 500 else f" --rows {rows}")
    model_name = f"random BART, MICRO_SHAPE, tokenBudget {TOKEN_BUDGET}"
    results = {"rows": rows, "command": command, "model": model_name, "runs": runs}
    if args.dry_run:
        print(report(results))
    else:
        write_results(args.out, "many_labels", results, report(results))
    return results


if __name__ == "__main__":
    main()
