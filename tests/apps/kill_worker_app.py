"""On local[2,4] (task retries allowed): classify while SIGKILLing one of this app's own
Python workers mid-task, then again without faults. Writes both outputs and what was killed.

    python kill_worker_app.py MODEL OUT_DIR
"""

import json
import os
import signal
import sys
import threading
import time

import psutil
from pyspark.sql import SparkSession

from spark_zsc import ZeroShotClassifier

model, out_dir = sys.argv[1:3]
LABELS = ["finance", "sports", "billing", "outage", "feature request"]
BASE = [
    "The central bank cut rates.",
    "Our team won the final!",
    "My invoice is wrong.",
    "The app crashes on start.",
    "Power is out downtown.",
]
texts = [f"{t} Ticket {i}." for i in range(2400) for t in BASE]

spark = SparkSession.builder.master("local[2,4]").config("spark.ui.enabled", "false").getOrCreate()
frame = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(6)
killed = []


def python_workers():
    """This app's Python workers: the processes pyspark.daemon forked (same command line)."""
    daemons = []
    for process in psutil.Process().children(recursive=True):
        try:  # processes come and go while we look
            if "pyspark.daemon" in " ".join(process.cmdline()):
                daemons.append((process, process.ppid()))
        except psutil.Error:
            continue
    pids = {p.pid for p, _ in daemons}
    return [p for p, parent in daemons if parent in pids]


def kill_one_worker_mid_task():
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not killed:
        for worker in python_workers():
            try:
                # a worker with the model loaded: above what pandas and pyarrow alone hold (an onnx
                # worker with the tiny model holds about 130 MB, a torch one 600 MB)
                busy = worker.cpu_percent(interval=0.3) > 50 and worker.memory_info().rss > 100 * 2**20
            except psutil.Error:
                continue
            cache = os.environ["SPARK_ZSC_CACHE_DIR"]
            if busy and os.path.isdir(cache) and os.listdir(cache):  # classifying, the model loaded
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)
                return
        time.sleep(0.1)


killer = threading.Thread(target=kill_one_worker_mid_task)
killer.start()
clf = ZeroShotClassifier(model=model, inputCol="text", candidateLabels=LABELS)
clf.transform(frame).write.mode("overwrite").parquet(os.path.join(out_dir, "faulty"))
killer.join()
clf.transform(frame.repartition(3)).write.mode("overwrite").parquet(os.path.join(out_dir, "clean"))
json.dump({"killed": killed, "rows": len(texts)}, open(os.path.join(out_dir, "kill.json"), "w"))
spark.stop()
