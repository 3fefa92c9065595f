"""backend onnx: what auto picks, what the driver converts (once), and a worker without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from spark_zsc.options import PARAM, ClassifierConfig
from spark_zsc.runtime.devices import resolve_backend
from spark_zsc.runtime.model_source import load_bundle
from spark_zsc.runtime.onnx_export import onnx_bundle

from helpers import LABELS, TEXTS

pytestmark = pytest.mark.any_line  # no Spark


@pytest.mark.parametrize(
    "params,precision,on_gpu,expected",
    [
        (dict(), "fp32", False, "onnx"),
        (dict(), "int8", False, "onnx"),
        (dict(), "bf16", False, "torch"),  # ONNX Runtime's CPU kernels: fp32 and int8
        (dict(), "fp16", True, "torch"),  # tasks on GPUs
        (dict(), "fp32", True, "torch"),
        (dict(strategy="embedding"), "fp32", False, "torch"),  # sentence encoders run on torch
        (dict(shortlist=2), "fp32", False, "torch"),
        (dict(distribution="path"), "fp32", False, "torch"),  # executors load the model's own files
        (dict(backend="torch"), "fp32", False, "torch"),
        (dict(backend="onnx"), "int8", False, "onnx"),
    ],
)
def test_auto_picks_onnx_where_it_runs_and_torch_elsewhere(params, precision, on_gpu, expected):
    config = ClassifierConfig.of(params, PARAM)
    assert resolve_backend(config, precision, on_gpu) == expected


def test_the_driver_converts_once_and_int8_ships_no_fp32_weights(tiny_model, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path))
    source = load_bundle(tiny_model)
    fp32, int8 = onnx_bundle(source, "fp32"), onnx_bundle(source, "int8")
    assert fp32.name == int8.name == source.name and len({fp32.fingerprint, int8.fingerprint}) == 2
    assert (
        set(fp32.paths)
        == set(int8.paths)
        == {
            "model.onnx",
            "model.onnx.data",
            "tokenizer.json",
            "spark_zsc_onnx.json",
        }
    )
    fp32_weights, int8_weights = (Path(b.paths["model.onnx.data"]).stat().st_size for b in (fp32, int8))
    assert int8_weights < 0.45 * fp32_weights  # int8 weights only (the embeddings' rows too)
    for bundle in (fp32, int8):  # ONNX Runtime's fused kernels, which its optimizer knows for BART
        graph = onnx.load(bundle.paths["model.onnx"], load_external_data=False)
        assert {"SkipLayerNormalization", "BiasGelu"} <= {node.op_type for node in graph.graph.node}
    converted = Path(fp32.paths["model.onnx"]).stat().st_mtime_ns
    again = onnx_bundle(load_bundle(tiny_model), "fp32")  # a later classifier on this driver
    assert again.fingerprint == fp32.fingerprint
    assert Path(again.paths["model.onnx"]).stat().st_mtime_ns == converted  # not converted again


WORKER = """
import json, sys
from spark_zsc.options import PARAM, ClassifierConfig
from spark_zsc.runtime.distribution import PathModel
from spark_zsc.runtime.worker import engine_for
folder, fingerprint, paths, texts, labels = json.loads(sys.argv[1])
config = ClassifierConfig.of({"backend": "onnx", "precision": "fp32"}, PARAM)
models = {"nli": PathModel(folder, paths, fingerprint, 0)}
engine, _ = engine_for(models, config.engine, config.strategy_options)
results, _ = engine.classify(texts, [labels] * len(texts))
imported = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print(json.dumps({"results": results, "imported": imported, "token_budget": engine.token_budget}))
"""


def test_an_onnx_worker_scores_as_the_pipeline_without_importing_torch(tiny_model, hf_pipeline, tmp_path):
    """What a Python worker does for a task (in a fresh interpreter, as a worker is): the
    converted model found, loaded and run, with neither torch nor transformers imported, in
    batches of 1,024 tokens unless told (4,096 on torch: ONNX Runtime is as fast in smaller
    batches, and a distilbart worker peaks 0.23 GB lower, benchmarks/worker_memory.py)."""
    bundle = onnx_bundle(load_bundle(tiny_model), "fp32")
    folder = str(Path(bundle.paths["model.onnx"]).parent)
    spec = json.dumps([folder, bundle.fingerprint, bundle.paths, TEXTS[:4], LABELS])
    done = subprocess.run([sys.executable, "-c", WORKER, spec], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == []
    assert report["token_budget"] == 1024
    for text, (_, _, labels, scores) in zip(TEXTS[:4], report["results"]):
        reference = hf_pipeline(text, candidate_labels=LABELS)
        assert labels == reference["labels"] and scores == pytest.approx(reference["scores"], abs=1e-5)
