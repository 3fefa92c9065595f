"""spark_zsc's logger and its one line format, on the driver (the CLI) and in executors."""

from __future__ import annotations

import logging

log = logging.getLogger("spark_zsc")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_stderr() -> None:
    """Send spark_zsc's INFO lines to stderr, once per process (where nothing else set logging up)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
