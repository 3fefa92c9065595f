# Databricks notebook source
# MAGIC %md
# MAGIC # Zero-shot enrichment of a support-ticket table with spark_zsc
# MAGIC
# MAGIC Tags every ticket as billing / outage / feature request with
# MAGIC `valhalla/distilbart-mnli-12-1`, without training anything. The driver downloads the model
# MAGIC once and ships it to the executors (broadcast on classic clusters, artifacts on serverless
# MAGIC and shared clusters), so executors need no hub access.

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
)
enriched = classifier.transform(tickets)

(enriched
 .withColumn("topic_label", F.col("topic.label"))
 .write.mode("overwrite").saveAsTable("support.tickets_enriched"))

display(spark.table("support.tickets_enriched").groupBy("topic_label").count())  # noqa: F821

# COMMAND ----------

# MAGIC %md ## The same from SQL

# COMMAND ----------

from spark_zsc import register_sql_function

register_sql_function(spark, "zero_shot", model="valhalla/distilbart-mnli-12-1",  # noqa: F821
                      hypothesis_template="This support ticket is about {}.")

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
# MAGIC --output-table support.tickets_enriched --skip-existing`, so each night only new tickets are classified.
