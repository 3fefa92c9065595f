"""An NLI model in the form ONNX Runtime workers run, made once on the driver.

The model is exported with torch's exporter (`torch.onnx.export`, torch.export-based) from the
same forward the torch engine runs (for a one-decoder-layer BART, `bart_fast`'s), its layer norms
and activations fused by ONNX Runtime's transformer optimizer where it knows the architecture,
and for int8 quantized by ONNX Runtime's own dynamic quantizer, so that a worker never holds fp32 weights
when int8 was asked for. The result is a `ModelBundle` like any other: shipped by the chosen
distribution, written once per node, fingerprinted by its own content. It is kept in the
driver's cache folder (`$SPARK_ZSC_CACHE_DIR`) under the source weights' fingerprint, the
precision and the export's format version, so a driver converts a model once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

from ..engines.batching import model_sequence_limit
from ..engines.onnx_nli import CONFIG_FILE, LOGITS, MODEL_FILE, TOKENIZER_FILE, WEIGHTS_FILE, OnnxModelConfig
from ..errors import ConfigError
from ..log import log
from ..options import EngineOptions
from .fingerprints import cache_root, fingerprint_paths
from .model_source import NLI, ModelBundle
from .node_store import clear_stale_temporaries

EXPORT_FORMAT = 3  # raise when the export changes, so no driver reuses an older conversion
ONNX_FILES = (MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE)
OPSET = 18
# ONNX Runtime's transformer optimizer's name for each architecture whose fusions it has
# (`onnxruntime.transformers.optimizer.MODEL_TYPES`); others run as exported
FUSED_ARCHITECTURES = {"bart": "bart"}


def worker_bundles(bundles: dict, engine: EngineOptions) -> dict:
    """The bundles the workers load (kind -> bundle): under backend onnx the NLI model's ONNX
    form in the precision the tasks run, else `bundles` as they are."""
    if engine.backend != "onnx":
        return bundles
    nli = bundles[NLI]
    try:
        return {**bundles, NLI: onnx_bundle(nli, engine.precision)}
    except Exception as error:
        raise ConfigError(
            f"model {nli.name!r} could not be converted for backend=onnx ({type(error).__name__}: {error}); "
            "set backend='torch' to run it on torch"
        ) from error


def converted_folder(bundle: ModelBundle, precision: str) -> Path:
    return cache_root() / "onnx" / f"{bundle.fingerprint[:32]}-{precision}-v{EXPORT_FORMAT}"


def onnx_bundle(bundle: ModelBundle, precision: str) -> ModelBundle:
    """`bundle`'s NLI model as ONNX Runtime runs it in `precision` (fp32 or int8), converted
    now unless this driver did it before. Named as the source; fingerprinted by its own files."""
    folder = converted_folder(bundle, precision)
    if not all((folder / name).is_file() for name in ONNX_FILES):
        started = time.perf_counter()
        folder.parent.mkdir(parents=True, exist_ok=True)
        clear_stale_temporaries(folder.parent)  # conversions a killed driver left half-written
        scratch = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
        scratch.mkdir()
        try:
            _convert(Path(bundle.paths["config.json"]).parent, scratch, precision)
            try:
                os.rename(scratch, folder)  # whole or not at all; a concurrent driver's copy wins
            except OSError:
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info(
            "converted model %s to ONNX (%s) in %.1f s",
            bundle.fingerprint[:12],
            precision,
            time.perf_counter() - started,
        )
    paths = {name: str(folder / name) for name in ONNX_FILES}
    return ModelBundle(
        name=bundle.name, fingerprint=fingerprint_paths(paths), paths=paths, revision=bundle.revision
    )


def _convert(source: Path, target: Path, precision: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(source, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(source)
    input_names = ("input_ids", "attention_mask") + (
        ("token_type_ids",) if "token_type_ids" in tokenizer.model_input_names else ()
    )
    fp32 = target / MODEL_FILE if precision == "fp32" else target / "fp32" / MODEL_FILE
    fp32.parent.mkdir(exist_ok=True)
    _export(model, tokenizer, input_names, fp32)
    _fuse(fp32, model.config)
    if precision == "int8":
        _quantize(fp32, target / MODEL_FILE)
        shutil.rmtree(fp32.parent)
    tokenizer.backend_tokenizer.save(str(target / TOKENIZER_FILE))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    OnnxModelConfig(
        label2id=dict(model.config.label2id),
        num_labels=model.config.num_labels,
        max_length=model_sequence_limit(tokenizer.model_max_length, model.config),
        pad_id=int(pad_id),
        input_names=input_names,
        precision=precision,
    ).write(target)


def _export(model, tokenizer, input_names: tuple, path: Path) -> None:
    """`model`'s logits as an ONNX graph over dynamic (rows, width) inputs, the weights in one
    file beside it (`WEIGHTS_FILE`), which workers map instead of reading."""
    import torch

    from ..engines.bart_fast import last_eos_forward
    from ..engines.torch_batches import model_inputs

    forward = last_eos_forward(model)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model  # its parameters are the graph's weights

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            if forward is not None:
                return forward(input_ids, attention_mask)
            return model(**model_inputs(input_ids, attention_mask, token_type_ids)).logits

    sample = tokenizer(["a premise of a few words", "another"], ["a hypothesis", "this one"], padding=True)
    inputs = tuple(torch.tensor(sample[name]) for name in input_names)
    rows, width = torch.export.Dim("rows"), torch.export.Dim("width")
    # the exporter's notes (warnings on traced ops, "torchvision is not installed") are not the user's
    with warnings.catch_warnings(), _quiet("torch.onnx", "torch.export"):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logits(),
            inputs,
            str(path),
            input_names=list(input_names),
            output_names=[LOGITS],
            dynamic_shapes={name: {0: rows, 1: width} for name in input_names},
            opset_version=OPSET,
            dynamo=True,
            external_data=True,  # the weights in <name>.data: WEIGHTS_FILE
            verbose=False,
        )


def _fuse(path: Path, config) -> None:
    """Rewrites the graph at `path` with ONNX Runtime's fused kernels for `config`'s
    architecture (each residual add with its layer norm, each bias with its GELU): fewer
    kernels to run and fewer intermediate tensors to hold, the same arithmetic to fp32
    rounding (docs/performance.md measures the converted model)."""
    architecture = FUSED_ARCHITECTURES.get(config.model_type)
    if architecture is None:
        return
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusions = FusionOptions(architecture)
    # the embeddings stay Gathers: fused into EmbedLayerNormalization, the int8 quantizer also
    # quantizes their layer norm, which raised int8's largest score difference from fp32 1.5x
    # on distilbart's shape (benchmarks/precision.py) and 6x on the tests' tiny model
    fusions.enable_embed_layer_norm = False
    fused = path.parent / "fused"
    fused.mkdir()
    with _quiet("onnxruntime.transformers", ""):  # it logs each fusion it applies
        optimized = optimize_model(
            str(path),
            model_type=architecture,
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            optimization_options=fusions,
            opt_level=1,
        )
        optimized.save_model_to_file(
            str(fused / path.name), use_external_data_format=True, all_tensors_to_one_file=True
        )
    for name in (path.name, WEIGHTS_FILE):
        os.replace(fused / name, path.parent / name)
    fused.rmdir()


def _quantize(fp32: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 quantization (weights int8, activations quantized per batch),
    the weights written beside the graph as `WEIGHTS_FILE`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = target.parent / "int8-graph.onnx"
    with _quiet(
        ""
    ):  # its "pre-process before quantizing" hint, on the root logger, is for static quantization
        quantize_dynamic(fp32, quantized, weight_type=QuantType.QInt8)
    graph = onnx.load(str(quantized))
    onnx.save_model(
        graph, str(target), save_as_external_data=True, all_tensors_to_one_file=True, location=WEIGHTS_FILE
    )
    quantized.unlink()


@contextlib.contextmanager
def _quiet(*loggers: str):
    """The named loggers ("" the root) hold back everything below errors for the duration."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
