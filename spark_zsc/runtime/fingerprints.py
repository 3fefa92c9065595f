"""Content fingerprints of model files, each file hashed once per version.

A model is named everywhere by a sha256 over its files' names and contents. Hashing 890 MB
of weights takes a second or more, and a job used to pay it on the driver every run and on
every worker load; now a file's digest is kept under the cache root, keyed by its real
path and its `file_version`, and computed again only when that changes. The version holds
the inode and the status-change time besides the size and modification time: a copy that
keeps size and time (`cp -p`, `rsync -a`, an unpacked archive; a fine-tune of the same
architecture has exactly the same size) still writes the file (a new ctime) or puts a new
one in its place (a new inode), and neither can be set back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path

_CHUNK = 16 * 2**20


def cache_root() -> Path:
    """Where spark_zsc keeps files on each machine: $SPARK_ZSC_CACHE_DIR, else the temp folder."""
    root = Path(os.environ.get("SPARK_ZSC_CACHE_DIR") or Path(tempfile.gettempdir()) / "spark_zsc_models")
    root.mkdir(parents=True, exist_ok=True)
    return root


def fingerprint_digests(digests: dict) -> str:
    """sha256 over file names and their contents' sha256 (raw bytes), independent of order."""
    total = hashlib.sha256()
    for name in sorted(digests):
        total.update(name.encode() + b"\0" + digests[name])
    return total.hexdigest()


def fingerprint_files(files: dict) -> str:
    """The fingerprint of files given as name -> bytes."""
    return fingerprint_digests({name: hashlib.sha256(data).digest() for name, data in files.items()})


def fingerprint_paths(paths: dict) -> str:
    """The fingerprint of files given as name -> path, equal to `fingerprint_files` of their bytes."""
    return fingerprint_digests({name: file_digest(path) for name, path in paths.items()})


def file_version(path) -> list:
    """What changes whenever a file's content may have: any write changes its ctime, a file
    put in its place has another inode (size and mtime alone are kept by `cp -p`)."""
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]


def file_digest(path) -> bytes:
    """sha256 of a file's content, from the digest cache when the file has not changed."""
    real = os.path.realpath(path)
    entry = cache_root() / "digests" / f"{hashlib.sha256(real.encode()).hexdigest()[:32]}.json"
    before = file_version(real)
    try:
        cached = json.loads(entry.read_text())
        if cached["path"] == real and cached["version"] == before:
            return bytes.fromhex(cached["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    if file_version(real) == before:  # not changed while it was read: safe to remember
        entry.parent.mkdir(exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps({"path": real, "version": before, "sha256": digest.hexdigest()}))
        os.replace(tmp, entry)  # atomic: concurrent workers never read half an entry
    return digest.digest()
