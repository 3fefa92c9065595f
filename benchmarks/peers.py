"""spark_zsc beside what a user would pick instead: the same rows, model, labels and cores.

    make bench-peers                               # the peers' environment and jars, then this
    .venv-peers/bin/python benchmarks/peers.py     # about 20 minutes on 2 cores
    .venv-peers/bin/python benchmarks/peers.py --smoke   # a tiny model and a few rows

Every contender runs in a process of its own, cold, on 2 cores, and is timed from before its
runtime starts (a Spark session, Ray, Daft) to the last label in hand, its model's loading
included; each is used as its documentation shows:

- spark_zsc: `ZeroShotClassifier` on local[2], default settings;
- Daft: `daft.functions.classify_text` (the HF zero-shot pipeline in a Daft UDF) with no batch
  size given (the pipeline then runs one pair at a time), with 8, 16, 32 and 64 (the default
  its options declare), and the best of those again;
- Ray Data: `map_batches` with an actor pool holding the HF pipeline (Ray's batch-inference
  recipe): two actors of one CPU each, as Spark's two task slots, the pipeline at Daft's best
  batch size;
- Spark NLP: `BartForZeroShotClassification`, the same weights exported to ONNX and imported
  by `loadSavedModel` (once, untimed, then saved), loaded with `load` and run after its
  `DocumentAssembler` and `Tokenizer` on local[2], given the filled-in hypothesis template as
  its candidate labels (it has no template of its own). Untimed, `check_spark_nlp` recomputes
  its scores with the model in torch, on the input Spark NLP builds.

The model is distilbart-mnli-12-1's shape with random weights (no hub here; the same
arithmetic as the real model). Writes benchmarks/results/peers.json and peers.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402 (the sibling benchmark script)
    LABELS,
    benchmark_arguments,
    benchmark_model,
    cpu_description,
    read_corpus,
    write_results,
)

REPO = Path(__file__).resolve().parent.parent
SPARK_NLP_JARS = REPO / ".cache" / "jars" / "peers"  # make bench-peers puts them there
CORES = 2
TEMPLATE = "This example is {}."
DAFT_SWEEP = (8, 16, 32, 64)


# ---- the contenders, each run in a process of its own: texts in, top labels and seconds out


def run_spark_zsc(model: str, texts: list[str], batch_size: int) -> list[str]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from spark_zsc import ZeroShotClassifier

    spark = SparkSession.builder.master(f"local[{CORES}]").config("spark.ui.enabled", "false").getOrCreate()
    frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(CORES)
    clf = ZeroShotClassifier(model=model, inputCol="text", candidateLabels=LABELS)
    rows = clf.transform(frame).select("id", "zsc.label").collect()
    return [label for _, label in sorted(rows)]


def run_daft(model: str, texts: list[str], batch_size: int) -> list[str]:
    import daft
    from daft.functions import classify_text

    options = {"batch_size": batch_size} if batch_size else {}
    frame = daft.from_pydict({"id": list(range(len(texts))), "text": texts})
    frame = frame.with_column(
        "label", classify_text(daft.col("text"), LABELS, provider="transformers", model=model, **options)
    )
    rows = frame.sort("id").to_pydict()
    return rows["label"]


class RayZeroShot:
    """Ray Data's batch-inference recipe: an actor holds the pipeline, batches stream through."""

    def __init__(self, model: str, batch_size: int):
        import torch
        from transformers import pipeline

        torch.set_num_threads(1)  # one CPU per actor
        self.pipeline = pipeline("zero-shot-classification", model=model, device="cpu")
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        results = self.pipeline(
            list(batch["text"]),
            candidate_labels=LABELS,
            hypothesis_template=TEMPLATE,
            batch_size=self.batch_size,
        )
        return {"id": batch["id"], "label": [r["labels"][0] for r in results]}


def run_ray(model: str, texts: list[str], batch_size: int) -> list[str]:
    import ray

    if not ray.is_initialized():  # a second job of the application finds Ray running
        ray.init(num_cpus=CORES, include_dashboard=False, log_to_driver=False)
    dataset = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    labelled = dataset.map_batches(
        RayZeroShot,
        fn_constructor_args=(model, batch_size),
        compute=ray.data.ActorPoolStrategy(size=CORES),
        num_cpus=1,
        batch_size=16,
    )
    rows = labelled.take_all()
    return [row["label"] for row in sorted(rows, key=lambda row: row["id"])]


def spark_nlp_session(cores: int = CORES):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.jars", ",".join(str(jar) for jar in sorted(SPARK_NLP_JARS.glob("*.jar"))))
        .getOrCreate()
    )


def spark_nlp_classify(spark, model: str, texts: list[str], candidates: list[str], batch_size: int = 8):
    """Spark NLP's zero-shot pipeline over `texts`: each row's class annotation (top label and
    its scores by candidate), in the rows' order."""
    from pyspark.ml import Pipeline
    from sparknlp.annotator import BartForZeroShotClassification, Tokenizer
    from sparknlp.base import DocumentAssembler

    frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(CORES)
    classifier = (
        BartForZeroShotClassification.load(model)
        .setInputCols(["document", "token"])
        .setOutputCol("class")
        .setCandidateLabels(candidates)
        .setBatchSize(batch_size)
    )
    stages = [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        Tokenizer().setInputCols(["document"]).setOutputCol("token"),
        classifier,
    ]
    rows = Pipeline(stages=stages).fit(frame).transform(frame).select("id", "class").collect()
    return [annotations[0] if annotations else None for _, annotations in sorted(rows)]


def run_spark_nlp(model: str, texts: list[str], batch_size: int) -> list[str]:
    """`model` here is the Spark NLP model folder `prepare_spark_nlp` saved. Spark NLP has no
    hypothesis template: its candidate labels are its hypotheses, so it is given the filled-in
    template, which makes its pairs as many and as long as everyone else's."""
    hypotheses = {TEMPLATE.format(label): label for label in LABELS}
    classes = spark_nlp_classify(spark_nlp_session(), model, texts, list(hypotheses), batch_size or 8)
    return [hypotheses[annotation.result] if annotation else None for annotation in classes]


CONTENDERS = {"spark_zsc": run_spark_zsc, "daft": run_daft, "ray": run_ray, "spark_nlp": run_spark_nlp}


def contender_process(name: str, model: str, texts_file: str, batch_size: int, out: str, again: bool) -> None:
    """One contender's run, cold; with `again`, the same job once more in this process, as
    a second job of the same application would run (what each keeps between jobs counts)."""
    texts = json.loads(Path(texts_file).read_text())
    started = time.perf_counter()
    labels = CONTENDERS[name](model, texts, batch_size)
    result = {"seconds": time.perf_counter() - started, "labels": labels}
    if again:
        started = time.perf_counter()
        CONTENDERS[name](model, texts, batch_size)
        result["again_seconds"] = time.perf_counter() - started
    Path(out).write_text(json.dumps(result))


# ---- preparing Spark NLP's copy of the model (untimed: a user imports once and saves)


def prepare_spark_nlp(folder: Path, work: Path) -> Path:
    """The HF model exported to ONNX with the assets Spark NLP reads, imported by
    `loadSavedModel` and saved as a Spark NLP model; its folder."""
    saved = work / "spark-nlp-model"
    if saved.exists():
        return saved
    export = work / "onnx-export"
    (export / "assets").mkdir(parents=True, exist_ok=True)
    export_onnx(folder, export / "model.onnx")
    vocab = json.loads((folder / "vocab.json").read_text())
    (export / "assets" / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n")
    (export / "assets" / "merges.txt").write_text((folder / "merges.txt").read_text())
    config = json.loads((folder / "config.json").read_text())
    id2label = {int(i): label for i, label in config["id2label"].items()}
    (export / "assets" / "labels.txt").write_text("\n".join(id2label[i] for i in sorted(id2label)) + "\n")
    script = (
        "import sys; sys.path.insert(0, sys.argv[3]); import peers;"
        "from sparknlp.annotator import BartForZeroShotClassification;"
        "model = BartForZeroShotClassification.loadSavedModel(sys.argv[1], peers.spark_nlp_session());"
        "model.write().overwrite().save(sys.argv[2])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(export), str(saved), str(Path(__file__).parent)], check=True
    )
    return saved


# ---- checking Spark NLP's copy: its scores are the model's, on the input it builds


def check_spark_nlp(folder: Path, saved: Path, work: Path) -> dict:
    """Spark NLP's scores beside the model's own on the token ids Spark NLP's encoding gives.

    It builds `<s> premise </s> label </s>` (no hypothesis template, one separator where the HF
    pipeline has two) and encodes candidate labels word by word against the vocabulary. On a
    premise and labels made of words the vocabulary holds whole (with and without the leading
    space mark), those ids are known without its tokenizer, so its scores can be recomputed
    with the model in torch: equal scores mean the import is right (weights, vocabulary, the
    entailment logit), and that its labels differ from the HF pipeline's by its encoding only."""
    out = work / "spark-nlp-check.json"
    command = [sys.executable, __file__, "--check-spark-nlp", str(folder), str(saved), "--result", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"checking its scores: {last_error_line(finished.stderr)}")
    return json.loads(out.read_text())


def spark_nlp_check_process(folder: Path, saved: str, out: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    vocab = json.loads((folder / "vocab.json").read_text())
    # words the vocabulary holds whole, as a text's first word and after a space (the mark
    # byte-level BPE gives a word's leading space): the benchmark's labels where they are
    whole = [word for word in [*LABELS, *vocab] if word.isalpha() and f"\u0120{word}" in vocab]
    labels = list(dict.fromkeys(whole))[: len(LABELS)]
    premise = labels[:3]
    annotation = spark_nlp_classify(spark_nlp_session(1), saved, [" ".join(premise)], labels)[0]
    ids = [vocab[premise[0]]] + [vocab[f"\u0120{word}"] for word in premise[1:]]
    config = json.loads((folder / "config.json").read_text())
    start, end = config["bos_token_id"], config["eos_token_id"]
    entailment = next(i for name, i in config["label2id"].items() if name.lower().startswith("entail"))
    pairs = torch.tensor([[start, *ids, end, vocab[label], end] for label in labels])
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        scores = model(input_ids=pairs).logits[:, entailment].softmax(0).tolist()
    difference = max(abs(float(annotation.metadata[label]) - score) for label, score in zip(labels, scores))
    result = {"premise": " ".join(premise), "labels": labels, "max_score_difference": difference}
    Path(out).write_text(json.dumps(result))


def export_onnx(folder: Path, path: Path) -> None:
    """The NLI model as ONNX with the inputs and output Spark NLP feeds and reads."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    # a real pair: BART's head reads each row at its last end-of-sequence token
    example = AutoTokenizer.from_pretrained(folder)(
        ["A premise.", "Another, longer premise."],
        ["A hypothesis.", "A hypothesis."],
        padding=True,
        return_tensors="pt",
    )

    class Logits(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Logits(model),
        (example["input_ids"], example["attention_mask"]),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
        dynamo=False,
    )


# ---- the run


def timed_contender(
    name: str, model: Path, texts_file: Path, work: Path, batch_size: int = 0, again: bool = True
) -> dict:
    out = work / f"{name}-{batch_size}-{again}.json"
    command = [
        sys.executable,
        __file__,
        "--contender",
        name,
        "--model",
        str(model),
        "--texts",
        str(texts_file),
    ]
    command += ["--batch-size", str(batch_size), "--result", str(out), *(["--again"] if again else [])]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        return {"failed": last_error_line(finished.stderr)}
    return json.loads(out.read_text())


def last_error_line(stderr: str) -> str:
    """The line that names what failed (a JVM's log lines may follow it)."""
    errors = [line for line in stderr.splitlines() if "Error" in line or "Exception" in line]
    return (errors or stderr.strip().splitlines() or ["no output"])[-1]


def main(argv=None) -> dict:
    parser = benchmark_arguments(__doc__)
    parser.add_argument("--contender", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--again", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check-spark-nlp", nargs=2, metavar=("FOLDER", "SAVED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.contender:  # one contender, in its own process
        contender_process(args.contender, args.model, args.texts, args.batch_size, args.result, args.again)
        return {}
    if args.check_spark_nlp:
        spark_nlp_check_process(Path(args.check_spark_nlp[0]), args.check_spark_nlp[1], args.result)
        return {}

    rows = 12 if args.smoke else args.rows
    folder = benchmark_model(args)
    work = Path(tempfile.mkdtemp(prefix="zsc-peers-"))
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(read_corpus(rows, 0.0, data=args.data)))
    runs = {"spark_zsc": timed_contender("spark_zsc", folder, texts_file, work)}
    runs["daft, no batch size"] = timed_contender("daft", folder, texts_file, work, again=False)
    sweep = {
        size: timed_contender("daft", folder, texts_file, work, size, again=False) for size in DAFT_SWEEP
    }
    timed_sweep = {size: run for size, run in sweep.items() if "seconds" in run}
    best = min(timed_sweep, key=lambda size: timed_sweep[size]["seconds"]) if timed_sweep else 64
    runs.update({f"daft, batch_size {size}": run for size, run in sweep.items()})
    runs[f"daft, batch_size {best} (the sweep's best), and again"] = timed_contender(
        "daft", folder, texts_file, work, best
    )
    runs[f"Ray Data, 2 actors, pipeline batch_size {best}"] = timed_contender(
        "ray", folder, texts_file, work, best
    )
    spark_nlp_check: dict = {}
    try:
        spark_nlp_model = prepare_spark_nlp(folder, Path(args.work_dir) / folder.name)
        spark_nlp_check = check_spark_nlp(folder, spark_nlp_model, work)
        runs["Spark NLP, batch size 8"] = timed_contender("spark_nlp", spark_nlp_model, texts_file, work)
    except Exception as error:  # noqa: BLE001 (what failed is the result)
        runs["Spark NLP, batch size 8"] = {"failed": f"preparing its model: {type(error).__name__}: {error}"}
    results = {
        "cpu": cpu_description(),
        "model": "tiny random BART" if args.smoke else "random weights, distilbart-mnli-12-1 shape",
        "rows": rows,
        "labels": LABELS,
        "daft_best_batch_size": best,
        "runs": runs,
        "spark_nlp_check": spark_nlp_check,
    }
    write_results(Path(args.out), "peers-smoke" if args.smoke else "peers", results, report(results))
    return results


def report(results: dict) -> str:
    runs, pairs = results["runs"], results["rows"] * len(LABELS)
    reference = runs["spark_zsc"]
    lines = [
        f"{results['model']}; {results['rows']} AG News rows x {len(LABELS)} labels; {CORES} cores "
        f"({results['cpu']['model']}); each contender cold, in its own process, its start-up and model load "
        "timed in; then, where a second timing is given, the same job again in that process.",
        "",
        "| contender | seconds | pairs/s | vs spark_zsc | the same job again: seconds | pairs/s | vs spark_zsc "
        "| top label as spark_zsc's |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def timing(run: dict, key: str) -> str:
        if key not in run:
            return " | | "
        ratio = f"{reference[key] / run[key]:.2f}x" if key in reference else "n/a"
        return f"{run[key]:.1f} | {pairs / run[key]:.2f} | {ratio}"

    for name, run in runs.items():
        if "failed" in run:
            lines.append(f"| {name} | failed: {run['failed']} | | | | | | |")
            continue
        same = sum(a == b for a, b in zip(run["labels"], reference.get("labels", []))) / len(run["labels"])
        lines.append(f"| {name} | {timing(run, 'seconds')} | {timing(run, 'again_seconds')} | {same:.0%} |")
    check = results.get("spark_nlp_check")
    if check:
        lines += [
            "",
            f'Spark NLP runs the same model: on the premise "{check["premise"]}" and the labels '
            f"{', '.join(check['labels'])} (words the vocabulary holds whole, whose ids are known "
            "without its tokenizers), its scores equal the model's, computed in torch on the input it "
            f"builds, `<s> premise </s> label </s>`, within {check['max_score_difference']:.1e}. Its top labels differ from the HF pipeline's "
            "because that input does: it has no hypothesis template (it was given the filled-in "
            "template as its candidate labels, so that its pairs are as many and as long as the "
            "others'), one separator where the pipeline has two, and it encodes candidate labels word "
            "by word against the vocabulary (`<unk>` for a word the vocabulary does not hold whole).",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
