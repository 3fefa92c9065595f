"""One writer per output: a lock file beside the output, taken before a run reads or cleans up
anything there, held (refreshed by a heartbeat) until its write is in place.

Scheduler retries and overlapping runs are how outputs get corrupted: a second run's clean-up
deleting the first run's version in progress, two appends adding the same rows. The lock is
created in one step that fails where it exists (`O_EXCL` locally, `create(overwrite=false)`
through Hadoop), so of two runs one holds it and the other is refused with the holder's
host, process and start time.

A run killed while holding it leaves the file behind. It is stale, and taken over, when its
holder's process is gone (same host) or its heartbeat stopped more than `STALE_SECONDS` ago
(another host). Taking over needs a mark beside the lock named after the dead run, created
in the same one step as a lock: of the runs that found that run's lock dead, one creates the
mark and removes the lock, and only while the lock still holds that run; a later one finds a
live holder and is refused. (Not a rename: an object store renames by copy and delete, so two
runs could both "rename" one file and one of them then delete the other's new lock.)
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Optional

from ..errors import OutputBusy
from ..log import log
from ..paths import base_name, sibling

HEARTBEAT_SECONDS = 10
STALE_SECONDS = 120  # a dozen missed heartbeats: that run's driver is gone
LOCK_MARK = ".spark_zsc_lock"  # not ".spark_zsc-": hidden versions are removed by that prefix


def lock_path(output: str) -> str:
    """The lock of `output`: a hidden file beside it (readers of the output never see it)."""
    return sibling(output, f".{base_name(output)}{LOCK_MARK}")


def _process_start(pid: int):
    """A process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, start) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


class WriterLock:
    """`with WriterLock(files, output, "--output '/data/out'"):` holds the output's lock."""

    def __init__(self, files, output: str, what: str):
        self.files, self.path, self.what = files, lock_path(output), what
        pid = os.getpid()
        self.owner = {
            "run": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "pid": pid,
            "process_start": _process_start(pid),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self._stop = threading.Event()
        self._heartbeat: Optional[threading.Thread] = None

    def __enter__(self) -> "WriterLock":
        self._acquire()
        self._heartbeat = threading.Thread(target=self._beat, name="spark_zsc-lock", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if self._holder() == self.owner:  # never remove a lock another run took over
            self.files.delete(self.path)

    def _acquire(self) -> None:
        text = json.dumps(self.owner)
        if self.files.create_new(self.path, text):
            return
        holder = self._holder()
        if holder is not None and not self._stale(holder):
            raise OutputBusy(
                f"{self.what} is being written by another spark_zsc run (host {holder.get('host')}, "
                f"process {holder.get('pid')}, since {holder.get('since')}): let it finish and run again. "
                f"If that run is dead on another machine, its lock {self.path} expires {STALE_SECONDS} s "
                "after its last heartbeat (or delete it)"
            )
        if holder is not None:  # None: released since it was found
            self._take_over(holder)
        if not self.files.create_new(self.path, text):
            raise OutputBusy(f"{self.what}: another spark_zsc run took its lock first; run again after it")

    def _take_over(self, dead: dict) -> None:
        """Remove the lock `dead` left, unless another run took it over first (see above)."""
        mark = f"{self.path}.taken-{dead.get('run', 'unreadable')}"
        if not self.files.create_new(mark, json.dumps(self.owner)):
            raise OutputBusy(
                f"{self.what}: another spark_zsc run is taking over the lock a dead run left; run again "
                f"after it (if no run is, delete {mark})"
            )
        try:
            if self._holder() == dead:
                log.warning(
                    "taking over %s, left by a run that ended without releasing it: %s", self.path, dead
                )
                self.files.delete(self.path)
        finally:
            self.files.delete(mark)

    def _holder(self):
        try:
            return json.loads(self.files.read_text(self.path) or "null")
        except ValueError:  # half-written by a run killed while creating it
            return {}

    def _stale(self, holder: dict) -> bool:
        if holder.get("host") == self.owner["host"] and isinstance(holder.get("pid"), int):
            return not _alive(holder["pid"], holder.get("process_start"))
        modified = self.files.modified_seconds(self.path)
        return modified is None or time.time() - modified > STALE_SECONDS

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.files.touch(self.path)
            except Exception as error:  # a heartbeat lost is a lock that may expire: say so
                log.warning("could not refresh %s: %s", self.path, error)
