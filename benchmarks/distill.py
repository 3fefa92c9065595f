"""A distilled student beside its teacher: accuracy on AG News, and cost on Spark, in one run.

    python benchmarks/distill.py            # the real all-MiniLM-L6-v2; distilbart-mnli-12-1's shape for cost
    python benchmarks/distill.py --smoke    # tiny models and a few rows: checks the harness, measures nothing

Accuracy: AG News (test.csv beside the repo, 7,600 rows), shuffled; a student is fitted on
--fit-rows of it and scored on the next --score-rows against their gold labels. Its teacher is
the embedding strategy with the real all-MiniLM-L6-v2 (the zero-shot model this machine has
offline), the labels World, Sports, Business, Sci/Tech read as "world politics", "sports",
"business" and "science and technology". Reported, on the scored rows: the teacher's accuracy
and macro-F1; the student's, fitted on the teacher's labels alone and with --examples
gold-labelled rows joined, and its agreement with the teacher; and a Spark ML logistic
regression on the same embeddings of those gold rows alone. The fit's own report (agreement on
its held-out rows, the share kept, the cascade's trade-off) is kept beside them.

Cost, on Spark (local[2]), each the second of two actions (the first loads the models): rows/s
of a student against the NLI teacher with distilbart-mnli-12-1's shape (random weights: the real
model's cost), at 4 and 20 labels. The fit's own cost for 1 M rows is projected from those
rates: the teacher labelling sampleRows rows, plus the student's fit beyond its teacher
(measured: a fit with the cheap embedding teacher, an upper bound), plus the student over 1 M
rows; against the teacher over 1 M rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shortlist import TOPICS  # noqa: E402

from run import LABELS, RESULTS, build_model, default_data, write_results  # noqa: E402 (sibling script)

DESCRIPTIONS = {
    "World": "world politics",
    "Sports": "sports",
    "Business": "business",
    "Sci/Tech": "science and technology",
}
COST_LABELS = (4, 20)
PROJECTED_ROWS = 1_000_000


def gold_corpus(data: Path, seed: int) -> list[tuple[str, str]]:
    """(text, gold label) of every AG News row, shuffled."""
    with open(data, newline="", encoding="utf-8") as handle:
        rows = [(f"{title}. {body}", LABELS[int(index) - 1]) for index, title, body in csv.reader(handle)]
    random.Random(seed).shuffle(rows)
    return rows


def accuracy_and_macro_f1(gold: list[str], predicted: list) -> dict:
    right = sum(g == p for g, p in zip(gold, predicted))
    f1s = []
    for label in LABELS:
        true_positive = sum(g == p == label for g, p in zip(gold, predicted))
        predicted_as = sum(p == label for p in predicted)
        actual = sum(g == label for g in gold)
        precision = true_positive / predicted_as if predicted_as else 0.0
        recall = true_positive / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"accuracy": right / len(gold), "macro_f1": sum(f1s) / len(f1s)}


def session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master("local[2]")
        .appName("spark_zsc distill benchmark")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )


def labels_of(frame, column: str = "zsc") -> list:
    """Each row's top label, in the frame's `id` order."""
    return [row.label for row in frame.select("id", f"{column}.label").orderBy("id").collect()]


def accuracy(spark, encoder: str, rows: list, fit_rows: int, score_rows: int, examples: int) -> dict:
    from spark_zsc import DistilledClassifier, ZeroShotClassifier

    fit, scored = rows[:fit_rows], rows[fit_rows : fit_rows + score_rows]
    gold = [label for _, label in scored]
    to_score = spark.createDataFrame(
        [(i, text) for i, (text, _) in enumerate(scored)], "id long, text string"
    )
    teacher = ZeroShotClassifier(
        strategy="embedding", embeddingModel=encoder, inputCol="text", labelDescriptions=DESCRIPTIONS
    )
    teacher_labels = labels_of(teacher.transform(to_score))
    results = {"rows_fitted_on": len(fit), "rows_scored": len(scored), "examples": examples}
    results["teacher"] = accuracy_and_macro_f1(gold, teacher_labels)
    # the gold labels of the first `examples` rows of the fit set; the rest are the teacher's to label
    fit_frame = spark.createDataFrame(
        [(text, label if i < examples else None) for i, (text, label) in enumerate(fit)],
        "text string, gold string",
    )
    for name, gold_col in (("student", None), (f"student_with_{examples}_examples", "gold")):
        distiller = DistilledClassifier(
            teacher=teacher, embeddingModel=encoder, sampleRows=len(fit), minAgreement=0.0
        )
        if gold_col:
            distiller.setLabelCol(gold_col)
        started = time.perf_counter()
        student = distiller.fit(fit_frame.drop("gold") if gold_col is None else fit_frame)
        seconds = time.perf_counter() - started
        student_labels = labels_of(student.transform(to_score))
        results[name] = {
            **accuracy_and_macro_f1(gold, student_labels),
            "agreement_with_teacher": sum(s == t for s, t in zip(student_labels, teacher_labels)) / len(gold),
            "fit_seconds": seconds,
            "fit_report": student.report(),
        }
    results[f"{examples}_examples_alone"] = accuracy_and_macro_f1(
        gold, examples_alone(spark, encoder, fit[:examples], to_score)
    )
    return results


def examples_alone(spark, encoder: str, examples: list, to_score) -> list:
    """A Spark ML multinomial logistic regression on the student's embeddings of the gold examples
    alone, as the student trains (same encoder, same regularization), its labels for `to_score`."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from spark_zsc.runtime.distribution import ship_models
    from spark_zsc.spark.distilled_model import student_config
    from spark_zsc.spark.driver import models_for
    from spark_zsc.spark.student_udf import build_embed_udf

    config = student_config(spark, {"embeddingModel": encoder})
    embed = build_embed_udf(
        ship_models(spark, models_for(config)), config.engine, config.strategy_options, LABELS
    )

    def features(frame):
        return frame.withColumn("features", array_to_vector(embed(F.col("text").cast("binary"))))

    labelled = spark.createDataFrame(
        [(text, float(LABELS.index(label))) for text, label in examples], "text string, target double"
    )
    model = LogisticRegression(family="multinomial", labelCol="target", regParam=0.01, maxIter=100).fit(
        features(labelled)
    )
    predicted = model.transform(features(to_score)).select("id", "prediction").orderBy("id").collect()
    return [LABELS[int(row.prediction)] for row in predicted]


def rows_per_second(transformer, warm_up, timed) -> float:
    """Rows/s over `timed`'s top labels, once an action over `warm_up` loaded the models. Every
    timed text is new to the workers: their embedding caches cannot answer it."""
    for frame in (warm_up, timed):
        started = time.perf_counter()
        transformer.transform(frame).select("zsc.label").write.format("noop").mode("overwrite").save()
    return timed.count() / (time.perf_counter() - started)


def cost(spark, encoder: str, nli_model: str, texts: list[str], teacher_rows: int, student_rows: int) -> dict:
    from spark_zsc import DistilledClassifier, ZeroShotClassifier

    def frame(rows: int, tag: str):
        """`rows` corpus texts, each made distinct from every text any worker has seen (the
        accuracy runs embedded the whole corpus) by a suffix naming `tag` and its row."""
        chosen = [f"{texts[i % len(texts)]} ({tag} {i})" for i in range(rows)]
        return spark.createDataFrame(list(enumerate(chosen)), "id long, text string").repartition(2).cache()

    measured = {}
    for count in COST_LABELS:
        labels = TOPICS[:count]
        fit_frame = frame(student_rows, f"fit {count}")
        cheap_teacher = ZeroShotClassifier(
            strategy="embedding", embeddingModel=encoder, inputCol="text", candidateLabels=labels
        )
        started = time.perf_counter()
        student = DistilledClassifier(
            teacher=cheap_teacher,
            embeddingModel=encoder,
            sampleRows=min(student_rows, 2000),
            minAgreement=0.0,
        ).fit(fit_frame)
        fit_seconds = time.perf_counter() - started
        nli = ZeroShotClassifier(model=nli_model, inputCol="text", candidateLabels=labels)
        student_rate = rows_per_second(student, fit_frame, frame(student_rows, f"student {count}"))
        teacher_rate = rows_per_second(
            nli, frame(teacher_rows, f"teacher warm-up {count}"), frame(teacher_rows, f"teacher {count}")
        )
        sample_rows = DistilledClassifier().getOrDefault("sampleRows")
        distilled = sample_rows / teacher_rate + fit_seconds + PROJECTED_ROWS / student_rate
        measured[f"{count}_labels"] = {
            "student_rows_per_second": student_rate,
            "teacher_rows_per_second": teacher_rate,
            "student_vs_teacher": student_rate / teacher_rate,
            "student_fit_seconds_with_a_cheap_teacher": fit_seconds,
            "projected_seconds_for_1m_rows": {
                "teacher": PROJECTED_ROWS / teacher_rate,
                "distilled": distilled,
            },
        }
    return measured


def report(results: dict) -> str:
    accuracy_ = results["accuracy"]
    examples = accuracy_["examples"]
    lines = [
        f"AG News: fitted on {accuracy_['rows_fitted_on']:,} rows, scored on {accuracy_['rows_scored']:,}",
        "",
        "| | accuracy | macro-F1 | agreement with the teacher |",
        "|---|---:|---:|---:|",
    ]
    for name in ("teacher", "student", f"student_with_{examples}_examples", f"{examples}_examples_alone"):
        row = accuracy_[name]
        agreement = row.get("agreement_with_teacher")
        lines.append(
            f"| {name.replace('_', ' ')} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | "
            + (f"{agreement:.3f} |" if agreement is not None else "— |")
        )
    lines += [
        "",
        "| labels | student rows/s | teacher rows/s | student vs teacher | 1 M rows: teacher / distilled (s) |",
    ]
    lines.append("|---:|---:|---:|---:|---:|")
    for name, row in results["cost"].items():
        projected = row["projected_seconds_for_1m_rows"]
        lines.append(
            f"| {name.split('_')[0]} | {row['student_rows_per_second']:.1f} | {row['teacher_rows_per_second']:.2f} | "
            f"{row['student_vs_teacher']:.1f}x | {projected['teacher']:,.0f} / {projected['distilled']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny models, a few rows: check the harness")
    parser.add_argument("--fit-rows", type=int, default=3000)
    parser.add_argument("--score-rows", type=int, default=4600)
    parser.add_argument("--examples", type=int, default=64, help="gold-labelled rows joined to the fit")
    parser.add_argument("--teacher-rows", type=int, default=48, help="rows the NLI teacher is timed on")
    parser.add_argument("--student-rows", type=int, default=4000, help="rows the student is timed on")
    parser.add_argument("--data", type=Path, default=None, help="AG News test.csv (default as run.py's)")
    parser.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "spark_zsc_bench"))
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.smoke:
        args.fit_rows, args.score_rows, args.examples = 120, 60, 16
        args.teacher_rows, args.student_rows = 8, 60
    from spark_zsc.options import DEFAULT_EMBEDDING_MODEL
    from spark_zsc.runtime.model_source import load_bundle
    from spark_zsc.testing import build_random_sentence_encoder

    work = Path(args.work_dir)
    data = args.data or default_data()
    rows = gold_corpus(data, seed=0)
    if args.smoke:
        encoder = str(
            build_random_sentence_encoder(work / "tiny_encoder", [t for t, _ in rows[:300]], vocab_size=400)
        )
    else:
        load_bundle(DEFAULT_EMBEDDING_MODEL, "embedding")  # the checks users get; says how to install it
        encoder = DEFAULT_EMBEDDING_MODEL
    nli_model = str(
        build_model(work / ("tiny" if args.smoke else "distilbart-mnli-12-1-shape"), args.smoke, data)
    )
    spark = session()
    try:
        results = {
            "encoder": "tiny random encoder" if args.smoke else DEFAULT_EMBEDDING_MODEL,
            "teacher_for_cost": "tiny random BART"
            if args.smoke
            else "random weights, distilbart-mnli-12-1 shape",
            "accuracy": accuracy(spark, encoder, rows, args.fit_rows, args.score_rows, args.examples),
            "cost": cost(
                spark, encoder, nli_model, [t for t, _ in rows], args.teacher_rows, args.student_rows
            ),
        }
    finally:
        spark.stop()
    write_results(Path(args.out), "distill-smoke" if args.smoke else "distill", results, report(results))
    return results


if __name__ == "__main__":
    main()
