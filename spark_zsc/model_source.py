"""Where a model comes from: resolve a hub id or folder, check it, pack it, fingerprint it.

Runs on the driver only. The result, a `ModelBundle`, is the exact set of files an
executor needs (config, safetensors weights, tokenizer files) as bytes, plus a sha256
fingerprint of their content that names the model everywhere downstream: in the worker
cache, in the node-local copy, in logs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .options import ConfigError

log = logging.getLogger("spark_zsc")

CONFIG_FILE = "config.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = "pytorch_model.bin"
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "merges.txt",
        "vocab.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "spm.model",
        "tokenizer.model",
    }
)
HUB_PATTERNS = [CONFIG_FILE, "*.safetensors", SAFETENSORS_INDEX, *sorted(TOKENIZER_FILES)]


@dataclass(frozen=True)
class ModelBundle:
    """A model as bytes: what the driver ships and what each node writes down once."""

    name: str
    files: dict  # file name -> bytes
    fingerprint: str
    paths: dict  # file name -> the driver's path it was read from

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.files.values())


def fingerprint_files(files: dict) -> str:
    """sha256 over file names and contents, independent of order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _looks_like_path(model: str) -> bool:
    return model.startswith((os.sep, ".", "~")) or os.path.exists(model) or model.count("/") > 1


def resolve_model_folder(model: str) -> Path:
    """A local folder holding the model: the folder given, or the hub snapshot (cache first)."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a hub id or a local folder; got {model!r}")
    if os.path.isdir(os.path.expanduser(model)):
        return Path(os.path.expanduser(model)).resolve()
    if _looks_like_path(model):
        raise ConfigError(f"model folder {model!r} does not exist: pass an existing folder or a hub id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(model, allow_patterns=HUB_PATTERNS, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    except ValueError as error:  # not a valid repo id
        raise ConfigError(f"model {model!r} is neither a local folder nor a valid hub id ({error})") from None
    try:
        started = time.perf_counter()
        folder = Path(snapshot_download(model, allow_patterns=HUB_PATTERNS + [PICKLE_WEIGHTS]))
        log.info("downloaded %s from the hub in %.1f s", model, time.perf_counter() - started)
        return folder
    except RepositoryNotFoundError:
        raise ConfigError(f"model {model!r} was not found on the Hugging Face hub: check the id, or pass a local folder") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise ConfigError(
            f"could not reach the Hugging Face hub to download {model!r} ({type(error).__name__}). "
            "On a machine with access, run `huggingface-cli download "
            f"{model} --local-dir /some/folder` (or huggingface_hub.snapshot_download) and pass "
            "model='/some/folder'; executors never need the hub"
        ) from None


def _check_nli_config(folder: Path, name: str) -> None:
    from .engine import entailment_and_contradiction_ids

    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"model {name!r} has no {CONFIG_FILE} in {folder}: is it a transformers model folder?")
    config = json.loads(config_path.read_text())
    try:
        entailment_and_contradiction_ids(config.get("label2id") or {})
    except ValueError as error:
        raise ConfigError(f"model {name!r}: {error}") from None


def _check_tokenizer(folder: Path, name: str) -> None:
    """Load the tokenizer once here so that a broken one fails on the driver, not in tasks."""
    from transformers import AutoTokenizer

    from .pairs import PairEncoder

    try:
        PairEncoder(AutoTokenizer.from_pretrained(folder), max_length=512)
    except Exception as error:  # any failure here would fail every task later
        raise ConfigError(f"model {name!r}: its tokenizer cannot be used ({error})") from None


def _weight_files(folder: Path, name: str) -> list[Path]:
    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [index, *(folder / s for s in shards)]
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    if (folder / PICKLE_WEIGHTS).is_file():
        return [_convert_pickle_checkpoint(folder)]
    raise ConfigError(f"model {name!r} has no weights in {folder} (model.safetensors or {PICKLE_WEIGHTS})")


def _convert_pickle_checkpoint(folder: Path) -> Path:
    """safetensors weights for a folder that only has pytorch_model.bin, made once on the driver.

    The pickle is read with torch's weights-only loader (transformers uses it), so no code
    in it runs; executors only ever receive the safetensors result.
    """
    from transformers import AutoModelForSequenceClassification

    source = folder / PICKLE_WEIGHTS
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = Path(os.environ.get("SPARK_ZSC_CONVERTED_DIR", Path.home() / ".cache" / "spark_zsc" / "converted")) / key
    converted = target / "model.safetensors"
    if not converted.is_file():
        started = time.perf_counter()
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, use_safetensors=False, trust_remote_code=False
            )
        except Exception as error:  # e.g. a pickle that is more than tensors
            raise ConfigError(
                f"{source} cannot be loaded with torch's weights-only loader ({type(error).__name__}: "
                f"{str(error)[:300]}); only plain tensor checkpoints are accepted, or provide model.safetensors"
            ) from None
        tmp = target.with_name(f"{key}.tmp-{os.getpid()}")
        model.save_pretrained(tmp, safe_serialization=True)
        if target.exists():  # another driver thread converted it meanwhile
            shutil.rmtree(tmp)
        else:
            tmp.replace(target)
        log.info("converted %s to safetensors in %.1f s", source, time.perf_counter() - started)
    return converted


_bundles: dict = {}
_bundles_lock = threading.Lock()


def load_bundle(model: str) -> ModelBundle:
    """Resolve, check and pack a model; cached on the driver by folder and file versions."""
    started = time.perf_counter()
    folder = resolve_model_folder(model)
    _check_nli_config(folder, model)
    paths = [folder / CONFIG_FILE, *_weight_files(folder, model)]
    paths += sorted(p for p in folder.iterdir() if p.name in TOKENIZER_FILES)
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    with _bundles_lock:
        if key in _bundles:  # the same files, perhaps asked for under another name
            return dataclasses.replace(_bundles[key], name=model)
    _check_tokenizer(folder, model)
    files = {p.name: p.read_bytes() for p in paths}
    bundle = ModelBundle(name=model, files=files, fingerprint=fingerprint_files(files),
                         paths={p.name: str(p) for p in paths})
    log.info(
        "model %s resolved to %s: %.1f MB, fingerprint %s, in %.1f s",
        model, folder, bundle.size / 1e6, bundle.fingerprint[:12], time.perf_counter() - started,
    )
    with _bundles_lock:
        _bundles.clear()  # keep one model's bytes in driver memory, not every model ever used
        _bundles[key] = bundle
    return bundle
