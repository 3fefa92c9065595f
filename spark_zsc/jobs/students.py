"""A student that `spark-zsc distill` wrote, loaded for a job that runs it (classify, evaluate)."""

from __future__ import annotations

from typing import Optional

from pyspark.sql import SparkSession

from ..errors import ConfigError
from ..paths import files_for
from ..spark.distilled_model import DistilledClassifierModel


def load_student(spark: SparkSession, folder: str, defer_below: Optional[float]) -> DistilledClassifierModel:
    """The student in `folder`, deferring to its teacher under `defer_below` (None: as it was
    saved), with no lineage column until the job asks for one."""
    files = files_for(spark, folder)  # None on Spark Connect off this machine: the load says
    if files is not None and not files.exists(f"{folder.rstrip('/')}/metadata"):
        raise ConfigError(f"--student {folder!r} holds no student: give the folder spark-zsc distill wrote")
    student = DistilledClassifierModel.load(folder)
    student.clear(student.lineageCol)
    if defer_below is not None:
        student.setDeferBelow(defer_below)
    return student
