# Databricks notebook source
# MAGIC %md
# MAGIC # Zero-shot enrichment of a support-ticket table with spark_zsc
# MAGIC
# MAGIC Tags every ticket as billing / outage / feature request with
# MAGIC `valhalla/distilbart-mnli-12-1`, without training anything. The driver downloads the model
# MAGIC once and ships it to the executors (broadcast on classic clusters, artifacts on serverless
# MAGIC and shared clusters), so executors need no hub access.
# MAGIC
# MAGIC **Serverless compute** gives a Python UDF 1 GB (past it the task fails with
# MAGIC `UDF_PYSPARK_USER_CODE_ERROR.MEMORY_LIMIT_SERVERLESS`). `backend="onnx", precision="int8"` fits:
# MAGIC the driver exports the model to ONNX and quantizes it once, and each worker runs it on ONNX
# MAGIC Runtime without importing torch or transformers, peaking at 0.43 GB with 4 labels and
# MAGIC 0.46 GB with 20 (`benchmarks/worker_memory.py`). int8 moves scores slightly against fp32
# MAGIC (`benchmarks/precision.py` reports how much); fp32 on ONNX Runtime (`precision="fp32"`) gives
# MAGIC the HF pipeline's scores and peaks at 0.95 GB with 20 labels: within the limit, with little
# MAGIC room to spare.

# COMMAND ----------

# MAGIC %pip install spark-zsc

# COMMAND ----------

dbutils.library.restartPython()  # noqa: F821 - Databricks provides dbutils

# COMMAND ----------

# MAGIC %md ## Enrich a table

# COMMAND ----------

from pyspark.sql import functions as F

from spark_zsc import ZeroShotClassifier

tickets = spark.table("support.raw_tickets")  # noqa: F821 - Databricks provides spark

classifier = ZeroShotClassifier(
    model="valhalla/distilbart-mnli-12-1",
    inputCol="body",
    outputCol="topic",
    candidateLabels=["billing", "outage", "feature request"],
    hypothesisTemplate="This support ticket is about {}.",
    backend="onnx",  # no torch in the workers
    precision="int8",  # a worker of 0.43 to 0.46 GB: within serverless's 1 GB per UDF
)
enriched = classifier.transform(tickets)

(
    enriched.withColumn("topic_label", F.col("topic.label"))
    .write.mode("overwrite")
    .saveAsTable("support.tickets_enriched")
)

display(spark.table("support.tickets_enriched").groupBy("topic_label").count())

# COMMAND ----------

# MAGIC %md
# MAGIC ## Keep it enriched as tickets arrive: Structured Streaming
# MAGIC
# MAGIC A scheduled run of this cell classifies exactly the tickets that arrived since the last run:
# MAGIC Spark's checkpoint records what was read and written (the Auto Loader pattern). The model is
# MAGIC loaded once per Python worker and kept across micro-batches. `availableNow` takes what is there
# MAGIC and stops; `processingTime="5 minutes"` keeps the stream running.

# COMMAND ----------

dbutils.widgets.text("checkpoint", "/Volumes/main/support/checkpoints/tickets_enriched_stream")

query = (
    classifier.transform(spark.readStream.table("support.raw_tickets"))
    .withColumn("topic_label", F.col("topic.label"))
    .writeStream.option("checkpointLocation", dbutils.widgets.get("checkpoint"))
    .trigger(availableNow=True)
    .toTable("support.tickets_enriched_stream")
)
query.awaitTermination()
display(spark.table("support.tickets_enriched_stream").groupBy("topic_label").count())

# COMMAND ----------

# MAGIC %md ## The same from SQL

# COMMAND ----------

from spark_zsc import register_sql_function

register_sql_function(
    spark,
    "zero_shot",
    model="valhalla/distilbart-mnli-12-1",
    hypothesis_template="This support ticket is about {}.",
    backend="onnx",
    precision="int8",  # as above: within serverless's 1 GB per UDF
)

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT ticket_id,
# MAGIC        zero_shot(body, array('billing', 'outage', 'feature request')).label AS topic,
# MAGIC        zero_shot(body, array('billing', 'outage', 'feature request')).score AS confidence
# MAGIC FROM support.raw_tickets
# MAGIC LIMIT 20

# COMMAND ----------

# MAGIC %md
# MAGIC ## As a scheduled job
# MAGIC
# MAGIC A Databricks job can run the CLI's entry point (`jobs/classify.py`) as a Python script task with
# MAGIC `--input-table support.raw_tickets --text-col body --id-col ticket_id --labels "billing,outage,feature request"
# MAGIC --output-table support.tickets_enriched --skip-existing --backend onnx --precision int8`, so each night only
# MAGIC new tickets are classified (on serverless job compute too). A run whose Python worker is stopped for memory
# MAGIC exits with status 4 and names the setting that fits.

# COMMAND ----------

# MAGIC %md
# MAGIC ## Choosing the labels, and many labels cheaply
# MAGIC
# MAGIC Before a large run, measure which label wording and template work on tickets whose team is known
# MAGIC (`jobs/evaluate.py` as a Python script task writes a report folder with tables and plots):
# MAGIC `--input-table support.labelled_tickets --text-col body --gold-col team
# MAGIC --gold-map "BIL=billing,OPS=outage,PM=feature request" --labels "billing,outage,feature request"
# MAGIC --labels "a billing question,a service outage,a product idea" --template "This support ticket is about {}."
# MAGIC --template "{}" --report /dbfs/reports/ticket_labels`.
# MAGIC
# MAGIC With dozens of labels, `shortlist=5` runs NLI only on each row's five labels closest by sentence
# MAGIC embedding; `strategy="embedding"` skips NLI altogether (cheaper, usually less accurate).

# COMMAND ----------

many_labels = ZeroShotClassifier(
    model="valhalla/distilbart-mnli-12-1",
    inputCol="body",
    outputCol="topic",
    shortlist=5,
    candidateLabels=[row.label for row in spark.table("support.label_catalog").collect()],
)
display(
    many_labels.transform(spark.table("support.raw_tickets")).select(
        "ticket_id", "topic.label", "topic.score"
    )
)
