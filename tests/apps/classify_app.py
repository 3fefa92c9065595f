"""The classifier and the SQL function on a session of another kind, results as JSON.

python classify_app.py MODEL OUT.json TEXTS.json LABELS.json remote:local[2]
python classify_app.py MODEL OUT.json TEXTS.json LABELS.json master:spark://127.0.0.1:7077
"""

import json
import sys

from pyspark.sql import SparkSession

from spark_zsc import ConfigError, DistilledClassifier, ZeroShotClassifier, register_sql_function
from spark_zsc.spark.metrics import MetricsUnavailable

model, out_path, texts_path, labels_path, where = sys.argv[1:6]
texts, labels = json.load(open(texts_path)), json.load(open(labels_path))
kind, _, url = where.partition(":")
spark = (
    SparkSession.builder.remote(url) if kind == "remote" else SparkSession.builder.master(url)
).getOrCreate()
assert type(spark).__module__.startswith("pyspark.sql.connect") == (kind == "remote"), type(spark)

frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(3)
clf = ZeroShotClassifier(model=model, inputCol="text", candidateLabels=labels)
results = {str(r.id): (r.zsc.asDict() if r.zsc else None) for r in clf.transform(frame).collect()}
try:
    clf.metrics()
    metrics_message = None
except MetricsUnavailable as error:
    metrics_message = str(error)

# the same, every copy of a text brought into one partition first (one shuffle on the text)
grouped = ZeroShotClassifier(model=model, inputCol="text", candidateLabels=labels, dedupe="input")
deduped = {str(r.id): (r.zsc.asDict() if r.zsc else None) for r in grouped.transform(frame).collect()}

register_sql_function(spark, "zero_shot", model=model)
frame.createOrReplaceTempView("texts")
array = ", ".join("'" + label + "'" for label in labels)
sql = {  # where Spark has no SQL functions (3.5) a row not classified is a struct of nulls
    str(r.id): (r.z.asDict() if r.z is not None and r.z.labels is not None else None)
    for r in spark.sql(f"SELECT id, zero_shot(text, array({array})) AS z FROM texts").collect()
}
metrics = None if metrics_message else clf.metrics()
# a student is trained and saved with Spark ML's classic API: refused on Connect before any work
distill_refusal = None
if kind == "remote":
    try:
        DistilledClassifier(teacher=clf).fit(frame)
    except ConfigError as error:
        distill_refusal = str(error)
json.dump(
    {
        "classifier": results,
        "classifier_dedupe_input": deduped,
        "sql": sql,
        "metrics_message": metrics_message,
        "metrics": metrics,
        "distill_refusal": distill_refusal,
    },
    open(out_path, "w"),
)
spark.stop()
