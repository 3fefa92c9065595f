"""How a model's bytes reach executors, chosen on the driver.

- `broadcast` (classic Spark, the default): the bundle's files go out as one Spark
  broadcast; a worker reads it lazily, and only when its node has no verified copy yet.
- `artifacts` (Spark Connect, which has no SparkContext and so no broadcast): the
  bundle is written as one zip file and added with `spark.addArtifacts(..., file=True)`;
  executors read it through `SparkFiles`.
- `path`: for clusters that already hold the model on every node or on shared storage;
  executors load the model from the driver's folder after checking its files against the
  fingerprint. Nothing is shipped or copied.
- `auto`: `artifacts` on Spark Connect; `path` where the executors are this very machine
  (a `local[...]` master, as on a single-node cluster) and the model's files sit in one
  folder, since shipping bytes to the same disk they came from is pure cost; `broadcast`
  otherwise.
"""

from __future__ import annotations

import os
import threading
import time

from ..errors import ConfigError
from ..log import log
from ..options import StrategyOptions
from .model_source import ModelBundle, load_bundle
from .session import is_connect


class BroadcastModel:
    """A picklable handle, captured in the UDF closure: the fingerprint travels in every task,
    the bytes only where a worker asks for them."""

    def __init__(self, broadcast, fingerprint: str, size: int):
        self._broadcast = broadcast
        self.fingerprint = fingerprint
        self.size = size

    def fetch_files(self) -> dict:
        # Read the broadcast file without keeping the value: `.value` would hold every byte
        # of the weights in this worker for its whole life, next to the mapped copy it loads.
        path = getattr(self._broadcast, "_path", None)
        if path is not None and getattr(self._broadcast, "_sc", None) is None:
            return self._broadcast.load_from_path(path)
        return self._broadcast.value


class PathModel:
    """A handle for models every executor can read at the same path."""

    def __init__(self, folder: str, paths: dict, fingerprint: str, size: int):
        self._folder = folder
        self._paths = dict(paths)
        self.fingerprint = fingerprint
        self.size = size

    def verified_folder(self):
        """The model's folder, once its files are checked against the fingerprint (through the
        digest cache: on the driver's machine, or once per node and file version)."""
        from pathlib import Path

        from .node_store import verify_paths

        verify_paths(self._paths, self.fingerprint)
        return Path(self._folder)


class ArtifactModel:
    """A handle for a bundle shipped as a Spark Connect file artifact."""

    def __init__(self, file_name: str, fingerprint: str, size: int):
        self.file_name = file_name
        self.fingerprint = fingerprint
        self.size = size

    def fetch_files(self) -> dict:
        import zipfile

        from pyspark import SparkFiles

        with zipfile.ZipFile(SparkFiles.get(self.file_name)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}


def executors_share_this_machine(spark) -> bool:
    """A `local` master: every task runs in a worker of this machine, reading its disk."""
    return spark.sparkContext.master.startswith("local")


def choose_distribution(spark, bundle: ModelBundle, distribution: str) -> str:
    """The route `auto` stands for with this session and model (the module docstring says why)."""
    if distribution != "auto":
        return distribution
    if is_connect(spark):
        return "artifacts"
    return "path" if bundle.folder is not None and executors_share_this_machine(spark) else "broadcast"


def _ship_artifact(spark, bundle: ModelBundle) -> ArtifactModel:
    import tempfile
    import zipfile

    name = f"spark_zsc-{bundle.fingerprint[:24]}.zip"
    path = os.path.join(tempfile.mkdtemp(prefix="spark_zsc-artifact-"), name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for file_name, data in bundle.files.items():
            archive.writestr(file_name, data)
    spark.addArtifacts(path, file=True)
    os.remove(path)  # the session holds its own copy now
    return ArtifactModel(name, bundle.fingerprint, bundle.size)


_shipped: dict = {}
_shipped_lock = threading.Lock()


def ship(spark, bundle: ModelBundle, distribution: str = "auto"):
    """A handle executors load `bundle` through: a broadcast made once per Spark
    application (later calls reuse it), or the model's own paths."""
    if distribution == "path":
        root = os.path.realpath(bundle.name)
        outside = [path for path in bundle.paths.values() if os.path.dirname(os.path.realpath(path)) != root]
        if not os.path.isabs(bundle.name) or outside:
            raise ConfigError(
                "distribution='path' needs model to be an absolute folder path that every executor can read, "
                f"holding safetensors weights itself (got {bundle.name!r}); use distribution='broadcast' otherwise"
            )
    distribution = choose_distribution(spark, bundle, distribution)
    if distribution == "path":
        log.info(
            "model %s: executors load it from %s (distribution path)", bundle.fingerprint[:12], bundle.folder
        )
        return PathModel(bundle.folder, bundle.paths, bundle.fingerprint, bundle.size)
    connect = is_connect(spark)
    if connect and distribution == "broadcast":
        raise ConfigError(
            "distribution='broadcast' needs a SparkContext; on Spark Connect use 'artifacts' (or 'auto')"
        )
    session_id = spark.session_id if connect else spark.sparkContext.applicationId
    key = (session_id, distribution, bundle.fingerprint)
    with _shipped_lock:
        handle = _shipped.get(key)
        if handle is None:
            started = time.perf_counter()
            if distribution == "artifacts":
                handle = _ship_artifact(spark, bundle)
            else:
                handle = BroadcastModel(
                    spark.sparkContext.broadcast(bundle.files), bundle.fingerprint, bundle.size
                )
            _shipped[key] = handle
            log.info(
                "shipped model %s (%.1f MB) by %s in %.1f s",
                bundle.fingerprint[:12],
                bundle.size / 1e6,
                distribution,
                time.perf_counter() - started,
            )
    return handle


def load_models(strategy: StrategyOptions, *, model: str, embedding_model: str) -> dict:
    """Resolve, check and pack every model `strategy` runs: kind ('nli', 'embedding') -> bundle."""
    names = strategy.model_names(model, embedding_model)
    return {kind: load_bundle(name, kind) for kind, name in names.items()}


def ship_models(spark, bundles: dict, distribution: str = "auto") -> dict:
    """A handle per bundle (kind -> handle) that executors load the model through."""
    return {kind: ship(spark, bundle, distribution) for kind, bundle in bundles.items()}
