"""The file operations the sinks need, on a local disk or through the driver's Hadoop file
system (HDFS, object stores, anything with a Hadoop connector), behind one small interface.

A path means what it means to Spark: on classic Spark it is resolved through the session's
Hadoop configuration, so a path without a scheme is on `fs.defaultFS` (HDFS on YARN, DBFS on
Databricks, the local disk elsewhere). Paths that resolve to the local disk go through `os`
(one-step folder swaps, exclusive creates); every other one through its Hadoop file system.

On Spark Connect the client has no Hadoop file system: `file:` paths, and paths without a
scheme when the Connect server runs on this machine, are taken as this disk's; any other path
has no file operations here (None), and the sinks ask the server through Spark instead.

Object stores (S3, GCS, Azure Blob, DBFS, anything but the local disk and HDFS) rename a folder
object by object: a rename there is not a step a reader or a crash sees whole.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import time
from urllib.parse import urlparse

from py4j.protocol import Py4JJavaError

from .runtime.session import hadoop_configuration, is_connect, jvm

FILE_SYSTEMS = ("file", "hdfs", "viewfs")  # atomic folder renames; any other scheme: an object store
S3A = "org.apache.hadoop.fs.s3a.S3AFileSystem"
PRECONDITION_FAILED, CONDITIONAL_CONFLICT = 412, 409  # S3's answers to a conditional write that lost


def local_path(path: str) -> str:
    """A local path or file: URL as a path this process can open."""
    return urlparse(path).path if path.startswith("file:") else path


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

    is_object_store = False

    def exists(self, path: str) -> bool:
        return os.path.exists(local_path(path))

    def found(self, path: str) -> bool:
        """`path` exists, or is a glob that matches something (an input may be one)."""
        return bool(glob.glob(local_path(path)))

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
        self._jvm = jvm(spark)
        self._path = self._jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(path).getFileSystem(hadoop_configuration(spark))
        self.scheme = str(self._fs.getUri().getScheme())
        self.is_object_store = self.scheme not in FILE_SYSTEMS

    def exists(self, path: str) -> bool:
        return self._fs.exists(self._path(path))

    def found(self, path: str) -> bool:
        """`path` exists, or is a glob that matches something (an input may be one)."""
        return bool(self._fs.globStatus(self._path(path)))

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
        """Write a file that must not exist yet, in one step; False where it does."""
        if self._fs.getClass().getName() == S3A:
            return self._put_if_absent(path, text)
        try:
            stream = self._fs.create(self._path(path), False)  # overwrite=False: fails if it exists
        except Exception as error:  # py4j wraps FileAlreadyExistsException
            if "AlreadyExists" in str(error) or "already exists" in str(error):
                return False
            raise
        stream.write(bytearray(text.encode()))
        stream.close()
        return True

    def _put_if_absent(self, path: str, text: str) -> bool:
        """S3A's create(overwrite=false) looks, then writes: two runs can both look first. S3's
        conditional write (If-None-Match: *) lets the store itself refuse the second. S3A holds
        AWS SDK v2 from Hadoop 3.4 (Spark 4), SDK v1 before (Spark 3.5's Hadoop 3.3)."""
        key = self._fs.pathToKey(self._path(path))
        hadoop = self._jvm.org.apache.hadoop.util.VersionInfo.getVersion()
        sdk_v2 = tuple(int(n) for n in hadoop.split(".")[:2]) >= (3, 4)
        try:
            if sdk_v2:
                self._put_if_absent_sdk_v2(key, text)
            else:
                self._put_if_absent_sdk_v1(key, text)
        except Py4JJavaError as error:
            exception = error.java_exception
            status = exception.statusCode() if sdk_v2 else exception.getStatusCode()
            if status in (PRECONDITION_FAILED, CONDITIONAL_CONFLICT):
                return False
            raise
        return True

    def _put_if_absent_sdk_v2(self, key: str, text: str) -> None:
        model = self._jvm.software.amazon.awssdk.services.s3.model
        request = (
            model.PutObjectRequest.builder().bucket(self._fs.getBucket()).key(key).ifNoneMatch("*").build()
        )
        body = self._jvm.software.amazon.awssdk.core.sync.RequestBody.fromString(text)
        self._fs.getS3AInternals().getAmazonS3Client("spark_zsc writer lock").putObject(request, body)

    def _put_if_absent_sdk_v1(self, key: str, text: str) -> None:
        model = self._jvm.com.amazonaws.services.s3.model
        data = bytearray(text.encode())
        metadata = model.ObjectMetadata()
        metadata.setContentLength(len(data))
        body = self._jvm.java.io.ByteArrayInputStream(data)
        request = model.PutObjectRequest(self._fs.getBucket(), key, body, metadata)
        request.putCustomRequestHeader("If-None-Match", "*")  # SDK v1 has no field for it
        self._fs.getAmazonS3ClientForTesting("spark_zsc writer lock").putObject(request)

    def write_text(self, path: str, text: str) -> None:
        stream = self._fs.create(self._path(path), True)
        stream.write(bytearray(text.encode()))
        stream.close()

    def read_text(self, path: str):
        return self._unless_absent(lambda: self._read_all(path))

    def _read_all(self, path: str) -> str:
        stream = self._fs.open(self._path(path))
        try:
            return bytes(stream.readAllBytes()).decode()  # one call through py4j, not one a byte
        finally:
            stream.close()

    def modified_seconds(self, path: str):
        return self._unless_absent(
            lambda: self._fs.getFileStatus(self._path(path)).getModificationTime() / 1000
        )

    def _unless_absent(self, read):
        """`read()`, or None where its path is absent, also where another run removes it while
        it is read (no look first: the file can go between the look and the read). Hadoop says
        FileNotFoundException; S3A opens lazily, so it says so on the read."""
        try:
            return read()
        except Py4JJavaError as error:
            not_found = self._jvm.java.lang.Class.forName("java.io.FileNotFoundException")
            if not_found.isInstance(error.java_exception):
                return None
            raise

    def touch(self, path: str) -> None:
        if self.is_object_store:  # an object's time is its last write (S3A's setTimes does nothing)
            text = self.read_text(path)
            if text is None:  # never write back a file another run removed: it would be an empty lock
                raise FileNotFoundError(path)
            self.write_text(path, text)
        else:
            self._fs.setTimes(self._path(path), int(time.time() * 1000), -1)


def files_for(spark, path: str):
    """The file operations for `path`: local ones where it resolves to this disk, its Hadoop
    file system's elsewhere; None on Spark Connect for a path off this machine (see above)."""
    if is_connect(spark):
        scheme = urlparse(path).scheme
        here = scheme == "file" or (scheme == "" and _connect_server_is_here(spark))
        return LocalFiles() if here else None
    files = HadoopFiles(spark, path)
    return LocalFiles() if files.scheme == "file" else files


def _connect_server_is_here(spark) -> bool:
    return spark.client.host in ("localhost", "127.0.0.1", "[::1]", "::1")
