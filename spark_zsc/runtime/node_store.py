"""The node-local copy of a model: written once per node from what the driver shipped.

Every Python worker on a node loads the model from the same files, so the weights can
be memory-mapped and their pages shared instead of copied into each worker. Writers
race safely: each writes a private temporary folder and renames it into place (atomic
on one file system); a worker killed mid-write leaves only a temporary folder that is
never read. A folder is used only when its content matches the fingerprint: checked in
full before it is written, and afterwards against the manifest of file versions (size,
modification time, inode, status-change time) the writer left, which any truncation, edit,
replacement or missing file breaks (hashing 890 MB on every worker load was a second or
more each time).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable

from ..errors import FingerprintMismatch
from ..log import log
from .fingerprints import cache_root, file_version, fingerprint_files, fingerprint_paths

COMPLETE_MARKER = ".spark_zsc_complete"  # the manifest: fingerprint, and each file's version
STALE_TEMP_SECONDS = 3600


def _file_versions(folder: Path) -> dict:
    return {p.name: file_version(p) for p in folder.iterdir() if p.is_file() and p.name != COMPLETE_MARKER}


def _verified(folder: Path, fingerprint: str) -> bool:
    """Whether `folder` is a whole copy written by `_write`: its manifest names this
    fingerprint and exactly the files there, at their versions."""
    try:
        manifest = json.loads((folder / COMPLETE_MARKER).read_text())
        return manifest["fingerprint"] == fingerprint and manifest["files"] == _file_versions(folder)
    except (OSError, ValueError, KeyError, TypeError):  # no copy, an older marker, a damaged one
        return False


def model_folder(handle) -> Path:
    """The folder this worker loads `handle`'s model from: a folder the handle verifies
    itself (the path route), else the node-local copy."""
    verified_folder = getattr(handle, "verified_folder", None)
    if verified_folder is not None:
        return verified_folder()
    return local_model_folder(handle.fingerprint, handle.fetch_files)


def verify_paths(paths: dict, fingerprint: str) -> None:
    """Raise unless the files at `paths` (name -> path) have `fingerprint`."""
    found = fingerprint_paths(paths)
    if found != fingerprint:
        raise FingerprintMismatch(
            f"the model files at {sorted(set(os.path.dirname(p) for p in paths.values()))} have fingerprint "
            f"{found[:12]}, expected {fingerprint[:12]}: they changed after the job started"
        )


def clear_stale_temporaries(root: Path) -> None:
    """Remove `.tmp-*` folders under `root` that a process killed while writing left behind."""
    for leftover in root.glob(".tmp-*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            pass


def local_model_folder(fingerprint: str, fetch_files: Callable[[], dict]) -> Path:
    """The node-local folder of the model `fingerprint`, written from `fetch_files()` if needed.

    `fetch_files` is only called when this node has no verified copy yet (reading a
    broadcast costs a transfer), and what it returns is checked against the fingerprint
    before it is written.
    """
    root = cache_root()
    folder = root / fingerprint
    if _verified(folder, fingerprint):
        return folder
    # One writer per node at a time: the others wait here and then find the copy made.
    # The lock is released by the kernel if its holder dies, so a killed writer blocks nobody.
    with open(root / f".lock-{fingerprint[:16]}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _verified(folder, fingerprint):
            return folder
        _write(root, folder, fingerprint, fetch_files())
    return folder


def _write(root: Path, folder: Path, fingerprint: str, files: dict) -> None:
    received = fingerprint_files(files)
    if received != fingerprint:
        raise FingerprintMismatch(
            f"the model received on this executor has fingerprint {received[:12]}, expected "
            f"{fingerprint[:12]}: the shipped weights were altered or truncated in transit"
        )
    clear_stale_temporaries(root)
    tmp = root / f".tmp-{fingerprint[:12]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    (tmp / COMPLETE_MARKER).write_text(json.dumps({"fingerprint": fingerprint, "files": _file_versions(tmp)}))
    if folder.exists() and not _verified(folder, fingerprint):
        # A damaged copy (edited or cut by hand): set it aside rather than trust it.
        try:
            shutil.rmtree(folder.rename(root / f".tmp-damaged-{uuid.uuid4().hex[:8]}"), ignore_errors=True)
        except OSError:  # another worker moved it first
            pass
    try:
        tmp.rename(folder)
    except OSError:  # another process (without our lock: an older version) renamed its copy first
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote model %s to %s", fingerprint[:12], folder)
