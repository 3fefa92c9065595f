"""A job that failed because a Python worker hit a memory limit: what to set instead.

Every concurrent task's Python worker holds the model, so a worker's memory is the model's plus
the runtime's. Platforms stop one that outgrows its limit in their own words, and the job only
sees the words: Databricks serverless (`UDF_PYSPARK_USER_CODE_ERROR.MEMORY_LIMIT_SERVERLESS`,
"exceeded the limit of 1024 megabytes"), a kernel's OOM killer or a container's limit (Spark's
"Python worker exited unexpectedly (crashed)", YARN's "exceeding physical memory limits",
Kubernetes' "OOMKilled"), or `spark.executor.pyspark.memory` (Python's MemoryError).
"""

from __future__ import annotations

import re
from typing import Optional

from ..options import JOB, spelled

# what each platform says when a Python worker outgrew its memory, or was killed for it
MEMORY_LIMIT_SIGNS = re.compile(
    r"MEMORY_LIMIT"
    r"|exceeded the limit of \d+ megabytes"
    r"|Python worker exited unexpectedly"
    r"|exceeding (physical |virtual )?memory limits"
    r"|OOMKilled"
    r"|\bMemoryError\b"
    r"|exit code 137"
)
ONNX_INT8_PEAK = "0.43 to 0.46 GB with distilbart-mnli-12-1 (4 to 20 labels)"  # benchmarks/worker_memory.py


def memory_limit_advice(error: BaseException, options) -> Optional[str]:
    """What to change when `error` says a Python worker ran out of memory (None otherwise),
    for a job run with `options`, in the job's own flags."""
    text = f"{type(error).__name__}: {error}"
    if not MEMORY_LIMIT_SIGNS.search(text):
        return None
    backend, precision = spelled("backend", JOB), spelled("precision", JOB)
    budget = spelled("token_budget", JOB)
    if options.precision == "int8" and options.backend != "torch":
        change = (
            f"it already ran the leanest worker ({backend} onnx, {precision} int8): lower {budget} "
            "(e.g. 512) to shrink each batch, or give each Python worker more memory (fewer task slots "
            "per executor, or a larger spark.executor.pyspark.memory)"
        )
    else:
        change = (
            f"set {backend} onnx {precision} int8: a worker then imports neither torch nor transformers "
            f"and peaks at {ONNX_INT8_PEAK}, within Databricks serverless's 1 GB"
        )
    return f"a Python worker ran out of memory or was killed for it (each worker holds the model): {change}"
