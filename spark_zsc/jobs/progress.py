"""The classify job's progress line, on the driver while it writes: rows done (of the total
when known), rows/s and pairs/s over the last interval, model loads, tasks and an ETA.

Rows, pairs and model loads come from the classifier's accumulator, which the driver merges
as each task ends: they move in steps of a task's rows. Spark's status tracker adds the tasks
done and running in the active stages. Spark Connect has neither: there the line says so and
shows the elapsed time only; the summary comes at the end.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Callable, Optional

from ..log import log
from ..runtime.session import is_connect
from .options import ClassifyConfig

TERMINAL_SECONDS = 5.0  # a line this often on a terminal
LOG_SECONDS = 60.0  # and this often in a log, which keeps every line


def shows_progress_line(options) -> bool:
    """Whether the job prints its own progress line on the terminal (Spark's console bar
    would garble it)."""
    return (
        isinstance(options, ClassifyConfig)
        and not options.no_progress
        and not options.estimate
        and sys.stderr.isatty()
    )


def progress_for(spark, options: ClassifyConfig, classifier, total_rows: Optional[int]):
    """A context reporting progress while the job runs: to stderr on a terminal, else to the
    log; nothing under --no-progress."""
    if options.no_progress:
        return contextlib.nullcontext()
    if sys.stderr.isatty():
        return ProgressReporter(spark, classifier, total_rows, TERMINAL_SECONDS, _to_terminal)
    return ProgressReporter(spark, classifier, total_rows, LOG_SECONDS, log.info)


def _to_terminal(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ProgressReporter:
    """A daemon thread that emits a progress line every `interval` seconds while the
    context it is used as runs."""

    def __init__(
        self, spark, classifier, total_rows: Optional[int], interval: float, emit: Callable[[str], None]
    ):
        self._spark, self._classifier, self._total = spark, classifier, total_rows
        self._interval, self._emit = interval, emit
        self._connect = is_connect(spark)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spark_zsc-progress", daemon=True)

    def __enter__(self) -> "ProgressReporter":
        self._started = self._last_time = time.monotonic()
        self._last_rows = self._last_pairs = 0
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)  # a daemon: a status call stuck past this never holds the job up

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._emit(self.line())
            except Exception as error:  # reading progress must never fail the job
                log.warning("progress: no more progress lines (%s: %s)", type(error).__name__, error)
                return

    def line(self) -> str:
        """The progress line now; the interval's rates run from the previous call."""
        now = time.monotonic()
        if self._connect:
            return format_connect_progress(now - self._started)
        # metrics() copies the accumulator's dict whole, safe while Spark merges task updates into it
        metrics = self._classifier.metrics()
        seconds = max(now - self._last_time, 1e-9)
        rows, pairs = metrics["rows"], metrics["pairs"]
        line = format_progress(
            rows,
            self._total,
            rows_per_second=(rows - self._last_rows) / seconds,
            pairs_per_second=(pairs - self._last_pairs) / seconds,
            model_loads=metrics["model_loads"],
            eta=eta_seconds(rows, self._total, now - self._started),
            tasks=self._tasks(),
        )
        self._last_time, self._last_rows, self._last_pairs = now, rows, pairs
        return line

    def _tasks(self) -> Optional[tuple[int, int, int]]:
        """(done, all, running) tasks of the active stages; None between stages."""
        tracker = self._spark.sparkContext.statusTracker()
        stages = [tracker.getStageInfo(stage) for stage in tracker.getActiveStageIds()]
        stages = [stage for stage in stages if stage is not None]  # a stage may end in between
        if not stages:
            return None
        return (
            sum(stage.numCompletedTasks for stage in stages),
            sum(stage.numTasks for stage in stages),
            sum(stage.numActiveTasks for stage in stages),
        )


def eta_seconds(rows_done: int, total_rows: Optional[int], elapsed: float) -> Optional[float]:
    """Seconds left at the average rate since the job started (steadier than one interval's,
    as rows arrive a task at a time); None without a total or before any row is done."""
    if not total_rows or rows_done <= 0 or elapsed <= 0:
        return None
    return max(total_rows - rows_done, 0) * elapsed / rows_done


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def format_progress(
    rows_done: int,
    total_rows: Optional[int],
    *,
    rows_per_second: float,
    pairs_per_second: float,
    model_loads: int,
    eta: Optional[float],
    tasks: Optional[tuple[int, int, int]] = None,
) -> str:
    done = (
        f"{rows_done:,} of {total_rows:,} rows ({100 * rows_done / total_rows:.0f}%)"
        if total_rows
        else f"{rows_done:,} rows"
    )
    parts = [
        done,
        f"{rows_per_second:,.1f} rows/s",
        f"{pairs_per_second:,.1f} pairs/s",
        f"{model_loads} model load{'' if model_loads == 1 else 's'}",
    ]
    if tasks is not None:
        parts.append(f"tasks {tasks[0]:,}/{tasks[1]:,} ({tasks[2]:,} running)")
    parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA unknown")
    return "progress: " + ", ".join(parts)


def format_connect_progress(elapsed: float) -> str:
    return (
        f"progress: {format_duration(elapsed)} elapsed; Spark Connect shows no task progress to the client, "
        "the summary comes at the end"
    )
