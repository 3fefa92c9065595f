"""Safe loading: safetensors only on executors, weights-only conversion of pickles on the
driver, fingerprints checked, the node-local copy written atomically."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from spark_zsc import ConfigError, ZeroShotClassifier
from spark_zsc.errors import FingerprintMismatch
from spark_zsc.runtime.fingerprints import fingerprint_files
from spark_zsc.runtime.model_source import load_bundle
from spark_zsc.runtime.node_store import COMPLETE_MARKER, local_model_folder
from spark_zsc.testing import build_random_nli_model

from helpers import LABELS, SENTENCES, TEXTS, assert_same_result


def _frame(spark, texts=TEXTS):
    return spark.createDataFrame(list(enumerate(texts)), "id long, text string")


def _pickle_only_copy(source, target):
    """The hub's old layout: pytorch_model.bin (a pickle) instead of model.safetensors."""
    from safetensors.torch import load_file

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    torch.save(
        load_file(os.path.join(source, "model.safetensors")), os.path.join(target, "pytorch_model.bin")
    )
    return str(target)


def test_a_pickle_checkpoint_is_converted_on_the_driver(
    spark, tiny_model, hf_pipeline, tmp_path, monkeypatch
):
    monkeypatch.setenv("SPARK_ZSC_CONVERTED_DIR", str(tmp_path / "converted"))
    folder = _pickle_only_copy(tiny_model, tmp_path / "pickled")
    bundle = load_bundle(folder)
    assert (
        "model.safetensors" in bundle.files and "pytorch_model.bin" not in bundle.files
    )  # executors get safetensors
    results = {
        r.id: r.zsc
        for r in ZeroShotClassifier(model=folder, inputCol="text", candidateLabels=LABELS)
        .transform(_frame(spark))
        .collect()
    }
    for i, text in enumerate(TEXTS):
        assert_same_result(hf_pipeline(text, candidate_labels=LABELS), results[i].asDict())


class _Payload:
    def __reduce__(self):
        return (subprocess.call, (["touch", os.environ["PAYLOAD_MARKER"]],))


def test_a_pickle_that_runs_code_is_refused_and_never_runs(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_ZSC_CONVERTED_DIR", str(tmp_path / "converted"))
    marker = tmp_path / "payload_ran"
    monkeypatch.setenv("PAYLOAD_MARKER", str(marker))
    folder = tmp_path / "hostile"
    shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    torch.save({"model.shared.weight": _Payload()}, folder / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="weights-only loader"):
        load_bundle(str(folder))
    assert not marker.exists()


def test_fingerprints_depend_on_content_not_order():
    a = {"config.json": b"{}", "model.safetensors": b"\x00\x01"}
    b = dict(reversed(list(a.items())))
    assert fingerprint_files(a) == fingerprint_files(b)
    assert fingerprint_files(a) != fingerprint_files({**a, "model.safetensors": b"\x00\x02"})


def test_node_copy_refuses_altered_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path))
    files = {"config.json": b"{}", "model.safetensors": b"weights"}
    with pytest.raises(FingerprintMismatch, match="altered or truncated"):
        local_model_folder(fingerprint_files(files), lambda: {**files, "model.safetensors": b"weigh"})
    assert not (tmp_path / fingerprint_files(files)).exists()


def test_node_copy_is_rewritten_when_torn_and_reused_when_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path))
    files = {"config.json": b"{}", "model.safetensors": b"weights" * 1000}
    fingerprint = fingerprint_files(files)
    # what a worker killed mid-write would leave, and a folder cut short by hand
    (tmp_path / f".tmp-{fingerprint[:12]}-123-abc").mkdir()
    (tmp_path / f".tmp-{fingerprint[:12]}-123-abc" / "model.safetensors").write_bytes(b"wei")
    torn = tmp_path / fingerprint
    torn.mkdir()
    (torn / "config.json").write_bytes(b"{}")
    (torn / "model.safetensors").write_bytes(b"weights")
    (torn / COMPLETE_MARKER).write_text(fingerprint)
    fetches = []
    folder = local_model_folder(fingerprint, lambda: fetches.append(1) or files)
    assert fetches == [1] and (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert (
        local_model_folder(fingerprint, lambda: pytest.fail("a whole copy must not be fetched again"))
        == folder
    )


def test_distribution_path_reads_the_model_on_executors(spark, tmp_path, tiny_model, hf_pipeline):
    folder = str(tmp_path / "shared_model")
    shutil.copytree(tiny_model, folder)
    clf = ZeroShotClassifier(model=folder, inputCol="text", candidateLabels=LABELS, distribution="path")
    results = {r.id: r.zsc for r in clf.transform(_frame(spark)).collect()}
    for i, text in enumerate(TEXTS):
        assert_same_result(hf_pipeline(text, candidate_labels=LABELS), results[i].asDict())


def test_distribution_path_fails_the_task_when_the_files_changed(spark, tmp_path):
    folder = build_random_nli_model(tmp_path / "changing", SENTENCES, vocab_size=350, seed=21)
    out = ZeroShotClassifier(
        model=str(folder), inputCol="text", candidateLabels=LABELS, distribution="path"
    ).transform(_frame(spark, TEXTS[:2]))
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    with pytest.raises(Exception, match="fingerprint"):
        out.collect()


@pytest.mark.parametrize(
    "model,distribution,message",
    [
        ("relative/folder/model", "path", "does not exist"),
        (None, "path", "absolute folder path"),
        (None, "carrier-pigeon", "distribution must be one of"),
    ],
)
def test_bad_distribution_options(spark, tiny_model, model, distribution, message):
    clf = ZeroShotClassifier(
        model=model or os.path.relpath(tiny_model),
        inputCol="text",
        candidateLabels=LABELS,
        distribution=distribution,
    )
    with pytest.raises(ConfigError, match=message):
        clf.transform(_frame(spark, TEXTS[:1]))


def _replace_keeping_size_and_time(path, content: bytes, how: str) -> None:
    """Put `content` (of the same size) at `path` and set its old modification time back, as
    `cp -p` does (`how="copy"`: the file rewritten) or `rsync -a` (`"rename"`: a new file
    renamed over it)."""
    stat = os.stat(path)
    assert len(content) == stat.st_size
    time.sleep(0.02)  # later than the write it replaces, by more than a coarse file clock's tick (10 ms)
    if how == "copy":
        with open(path, "wb") as handle:
            handle.write(content)
    else:
        staged = f"{path}.staged"
        with open(staged, "wb") as handle:
            handle.write(content)
        os.replace(staged, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("how", ["copy", "rename"])
def test_a_file_is_hashed_once_per_version(tmp_path, monkeypatch, how):
    """Fingerprints come from a digest cache: an unchanged file is not read again (shown by
    altering its cached digest), and a file replaced by one of the same size and time is."""
    import hashlib
    import json

    from spark_zsc.runtime.fingerprints import fingerprint_paths

    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights-1")
    paths = {"model.safetensors": str(weights)}
    assert fingerprint_paths(paths) == fingerprint_files({"model.safetensors": b"weights-1"})
    [entry] = (tmp_path / "cache" / "digests").iterdir()
    entry.write_text(
        json.dumps({**json.loads(entry.read_text()), "sha256": hashlib.sha256(b"cached").hexdigest()})
    )
    assert fingerprint_paths(paths) == fingerprint_files({"model.safetensors": b"cached"})  # not read again
    _replace_keeping_size_and_time(weights, b"weights-2", how)
    assert fingerprint_paths(paths) == fingerprint_files({"model.safetensors": b"weights-2"})


@pytest.mark.parametrize("how", ["copy", "rename"])
def test_node_copy_is_trusted_only_while_its_files_are_the_ones_written(tmp_path, monkeypatch, how):
    monkeypatch.setenv("SPARK_ZSC_CACHE_DIR", str(tmp_path))
    files = {"config.json": b"{}", "model.safetensors": b"weights" * 1000}
    fingerprint = fingerprint_files(files)
    folder = local_model_folder(fingerprint, lambda: files)
    assert (
        local_model_folder(fingerprint, lambda: pytest.fail("a copy whose manifest holds is not fetched"))
        == folder
    )
    weights = folder / "model.safetensors"
    fetches = []
    _replace_keeping_size_and_time(weights, b"W" * len(files["model.safetensors"]), how)
    assert local_model_folder(fingerprint, lambda: fetches.append(1) or files) == folder and fetches == [1]
    assert weights.read_bytes() == files["model.safetensors"]
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: no longer trusted
    assert local_model_folder(fingerprint, lambda: fetches.append(2) or files) == folder and fetches == [1, 2]
    (folder / "extra.bin").write_bytes(b"?")  # a file the writer did not leave
    assert local_model_folder(fingerprint, lambda: fetches.append(3) or files) == folder and fetches == [
        1,
        2,
        3,
    ]


@pytest.mark.parametrize(
    "layout,weights,how",
    [
        ("safetensors", "model.safetensors", "copy"),
        ("safetensors", "model.safetensors", "rename"),
        ("pickle", "pytorch_model.bin", "copy"),
    ],
)
def test_weights_replaced_by_a_same_size_fine_tune_are_named_in_lineage(
    spark, tmp_path, monkeypatch, layout, weights, how
):
    """A fine-tune of the same architecture has exactly the same size; copied in with its old
    time kept, lineage must name it, as it names the same folder copied where no cache has been."""
    monkeypatch.setenv("SPARK_ZSC_CONVERTED_DIR", str(tmp_path / "converted"))
    folder, tuned = (
        build_random_nli_model(tmp_path / name, SENTENCES, vocab_size=330, seed=seed)
        for name, seed in (("model", 41), ("tuned", 42))
    )
    if layout == "pickle":
        folder, tuned = (_pickle_only_copy(f, f"{f}-pickled") for f in (folder, tuned))
    frame = spark.createDataFrame([("x",)], "text string")

    def model_sha256(model):
        clf = ZeroShotClassifier(model=str(model), inputCol="text", candidateLabels=LABELS, lineageCol="meta")
        return clf.lineage(frame).fields["model_sha256"]

    before = model_sha256(folder)
    _replace_keeping_size_and_time(Path(folder, weights), Path(tuned, weights).read_bytes(), how)
    after = model_sha256(folder)
    assert after != before and after == model_sha256(shutil.copytree(folder, tmp_path / "fresh_copy"))
    assert after == model_sha256(tuned)


def test_a_folder_with_whole_and_sharded_weights_ships_what_from_pretrained_loads(spark, tmp_path):
    """from_pretrained prefers model.safetensors to a sharded index in the same folder: the
    fingerprint covers exactly those files, and every route loads the same weights."""
    from transformers import AutoModelForSequenceClassification, pipeline

    folder = build_random_nli_model(tmp_path / "model", SENTENCES, vocab_size=330, seed=41)
    loaded_files = {p.name: p.read_bytes() for p in folder.iterdir()}
    other = build_random_nli_model(tmp_path / "other", SENTENCES, vocab_size=330, seed=42)
    AutoModelForSequenceClassification.from_pretrained(other).save_pretrained(
        tmp_path / "sharded", max_shard_size="100KB"
    )
    for shard in (tmp_path / "sharded").glob("model*.safetensors*"):
        shutil.copy(shard, folder)
    assert (folder / "model.safetensors.index.json").is_file()
    assert load_bundle(str(folder)).fingerprint == fingerprint_files(loaded_files)
    reference = pipeline("zero-shot-classification", model=str(folder))
    for distribution in ("path", "broadcast"):
        clf = ZeroShotClassifier(
            model=str(folder), inputCol="text", candidateLabels=LABELS, distribution=distribution
        )
        results = {r.id: r.zsc for r in clf.transform(_frame(spark, TEXTS[:3])).collect()}
        for i, text in enumerate(TEXTS[:3]):
            assert_same_result(reference(text, candidate_labels=LABELS), results[i].asDict())


def test_auto_loads_from_the_model_folder_on_a_local_master(spark, tmp_path, monkeypatch):
    """local[...]: executors read the driver's disk, so nothing is broadcast or copied; a
    model whose files are in two folders (a converted pickle) is broadcast instead."""
    from transformers import pipeline

    from spark_zsc.runtime.distribution import BroadcastModel, PathModel, ship
    from spark_zsc.runtime.fingerprints import cache_root

    folder = build_random_nli_model(tmp_path / "local_model", SENTENCES, vocab_size=330, seed=41)
    reference = pipeline("zero-shot-classification", model=str(folder))
    clf = ZeroShotClassifier(model=str(folder), inputCol="text", candidateLabels=LABELS)
    results = {r.id: r.zsc for r in clf.transform(_frame(spark)).collect()}
    for i, text in enumerate(TEXTS):
        assert_same_result(reference(text, candidate_labels=LABELS), results[i].asDict())
    bundle = load_bundle(str(folder))
    assert isinstance(ship(spark, bundle), PathModel)
    assert not (cache_root() / bundle.fingerprint).exists()  # no node-local copy was written
    monkeypatch.setenv("SPARK_ZSC_CONVERTED_DIR", str(tmp_path / "converted"))
    pickled = load_bundle(_pickle_only_copy(str(folder), tmp_path / "pickled"))
    assert pickled.folder is None and isinstance(ship(spark, pickled), BroadcastModel)
