"""The file operations the sinks need, on a local disk or through the driver's Hadoop file
system (HDFS, object stores, anything with a Hadoop connector), behind one small interface.

Local paths (no scheme, or `file:`) go through `os`, so that they work on Spark Connect too
(no JVM on the client; the server shares this disk when it runs here). Any other path needs
classic Spark's JVM.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time

from ..jobs.options import is_local_path, local_path
from ..runtime.distribution import is_connect


def sibling(path: str, name: str) -> str:
    """`name` in the folder that holds `path`."""
    parent = path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else "."
    return f"{parent}/{name}"


def parent(path: str) -> str:
    return sibling(path, "").rstrip("/") or "/"


def base_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


class LocalFiles:
    """Paths on this machine's disk."""

    def exists(self, path: str) -> bool:
        return os.path.exists(local_path(path))

    def rename(self, source: str, target: str) -> bool:
        """False where `source` is gone (another process moved it first)."""
        try:
            os.rename(local_path(source), local_path(target))
            return True
        except FileNotFoundError:
            return False

    def delete(self, path: str) -> None:
        target = local_path(path)
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.lexists(target):
            os.remove(target)

    def matching(self, folder: str, pattern: str) -> list[str]:
        """Paths in `folder` whose names match the glob `pattern`."""
        return [
            f"{folder.rstrip('/')}/{n}" for n in self.list_names(folder) if fnmatch.fnmatchcase(n, pattern)
        ]

    def list_names(self, folder: str) -> list[str]:
        folder = local_path(folder)
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def create_new(self, path: str, text: str) -> bool:
        """Write a file that must not exist yet, in one step; False where it does."""
        os.makedirs(os.path.dirname(local_path(path)) or ".", exist_ok=True)
        try:
            descriptor = os.open(local_path(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        return True

    def write_text(self, path: str, text: str) -> None:
        with open(local_path(path), "w", encoding="utf-8") as handle:
            handle.write(text)

    def read_text(self, path: str):
        try:
            with open(local_path(path), encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def modified_seconds(self, path: str):
        try:
            return os.stat(local_path(path)).st_mtime
        except FileNotFoundError:
            return None

    def touch(self, path: str) -> None:
        os.utime(local_path(path))


class HadoopFiles:
    """Paths through the driver's Hadoop file system (classic Spark only)."""

    def __init__(self, spark, path: str):
        self._path = spark._jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(path).getFileSystem(spark._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return self._fs.exists(self._path(path))

    def rename(self, source: str, target: str) -> bool:
        return bool(self._fs.rename(self._path(source), self._path(target)))

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def matching(self, folder: str, pattern: str) -> list[str]:
        statuses = self._fs.globStatus(self._path(f"{folder.rstrip('/')}/{pattern}")) or []
        return sorted(str(s.getPath()) for s in statuses)

    def list_names(self, folder: str) -> list[str]:
        if not self.exists(folder):
            return []
        return sorted(str(s.getPath().getName()) for s in self._fs.listStatus(self._path(folder)))

    def create_new(self, path: str, text: str) -> bool:
        try:
            stream = self._fs.create(self._path(path), False)  # overwrite=False: fails if it exists
        except Exception as error:  # py4j wraps FileAlreadyExistsException
            if "AlreadyExists" in str(error) or "already exists" in str(error):
                return False
            raise
        stream.write(bytearray(text.encode()))
        stream.close()
        return True

    def write_text(self, path: str, text: str) -> None:
        stream = self._fs.create(self._path(path), True)
        stream.write(bytearray(text.encode()))
        stream.close()

    def read_text(self, path: str):
        if not self.exists(path):
            return None
        stream = self._fs.open(self._path(path))
        try:
            jvm_bytes = self._fs.getFileStatus(self._path(path)).getLen()
            return bytes(_read_all(stream, jvm_bytes)).decode()
        finally:
            stream.close()

    def modified_seconds(self, path: str):
        if not self.exists(path):
            return None
        return self._fs.getFileStatus(self._path(path)).getModificationTime() / 1000

    def touch(self, path: str) -> None:
        self._fs.setTimes(self._path(path), int(time.time() * 1000), -1)


def _read_all(stream, length: int) -> bytearray:
    """Read a Hadoop input stream of `length` bytes through py4j, byte by byte in small files."""
    data = bytearray()
    while len(data) < length:
        byte = stream.read()
        if byte < 0:
            break
        data.append(byte)
    return data


def files_for(spark, path: str):
    """The file operations for `path`: local ones where it is on this disk, Hadoop's on
    classic Spark, None on Spark Connect for a path elsewhere (no JVM on the client)."""
    if is_local_path(path):
        return LocalFiles()
    return None if is_connect(spark) else HadoopFiles(spark, path)
