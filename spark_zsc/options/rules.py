"""Every rule that ties classifier options together, in one place. Each takes the values
keyed as the option table keys them (a config, or anything with those attributes) and the
face that gave them, so that its error spells the options as the user did."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..errors import ConfigError
from .declaration import PARAM
from .table import ONNX_PRECISIONS, spelled


def check_engine(values: Any) -> None:
    """A precision the device and the backend run (whether a CPU computes bf16 natively is the
    devices' to say)."""
    if values.device == "cpu" and values.precision == "fp16":
        raise ConfigError("precision=fp16 needs a GPU; on CPU use fp32, or bf16 or int8 for speed")
    if values.device == "cuda" and values.precision == "int8":
        raise ConfigError("precision=int8 is for CPUs; on a GPU use fp16 or bf16")
    if values.backend == "onnx":
        if values.device == "cuda":
            raise ConfigError("backend=onnx runs on CPUs; on a GPU use backend=torch (or auto)")
        if values.precision not in ONNX_PRECISIONS + ("auto",):
            raise ConfigError(
                f"backend=onnx runs fp32 or int8, not {values.precision}: use one of those, or backend=torch"
            )


def check_backend(values: Any) -> None:
    """The onnx backend runs NLI models alone (a shortlist also runs a sentence encoder, on
    torch), from the model the driver converted (the path route ships nothing)."""
    if values.backend != "onnx":
        return
    if values.strategy != "nli" or values.shortlist:
        raise ConfigError(
            "backend=onnx runs the NLI model alone; strategy=embedding and shortlist run a sentence "
            "encoder on torch: use backend=torch (or auto) with them"
        )
    if values.distribution == "path":
        raise ConfigError(
            "distribution=path has executors read the model's own folder, but backend=onnx ships the model "
            "the driver converted: use distribution auto or broadcast, or backend=torch"
        )


def check_strategy(values: Any) -> None:
    """A shortlist is NLI's."""
    if values.shortlist is not None and values.strategy != "nli":
        raise ConfigError(
            "shortlist ranks labels by embeddings and runs NLI on the top k: use it with strategy='nli'"
        )


def check_scoring(values: Any, labels: Optional[Sequence[str]], face: str = PARAM) -> None:
    """What a label means: otherLabel needs minScore; with fixed `labels` (None: they come per
    row), otherLabel is none of them and every description describes one."""
    other, descriptions = values.other_label, values.label_descriptions or {}
    if other is not None and values.min_score is None:
        raise ConfigError(
            f"{spelled('other_label', face)} names the rows under {spelled('min_score', face)}: "
            f"set {spelled('min_score', face)} too, or drop {spelled('other_label', face)}"
        )
    if labels is None:
        return
    if other in labels:
        raise ConfigError(
            f"{spelled('other_label', face)} {other!r} is one of the candidate labels: choose a name that is "
            "not, so that 'none of these' stays apart from a real label"
        )
    strangers = [label for label in descriptions if label not in labels]
    if strangers:
        raise ConfigError(
            f"{spelled('label_descriptions', face)} describes {', '.join(map(repr, strangers))}, not among "
            f"the candidate labels ({', '.join(labels)}): fix the name or drop the description"
        )


def check_label_count(values: Any, labels: Optional[Sequence[str]]) -> None:
    """A shortlist longer than the fixed labels would shortlist nothing."""
    if values.shortlist and labels is not None and values.shortlist > len(labels):
        raise ConfigError(
            f"shortlist {values.shortlist} is more than the {len(labels)} candidate labels: use at most "
            f"{len(labels)} (equal runs NLI on every label), or drop shortlist"
        )


def check_labels(values: Any, labels: Optional[Sequence[str]], face: str = PARAM) -> None:
    """The rules that need the label set: what the labels mean, and a shortlist they fill."""
    check_scoring(values, labels, face)
    check_label_count(values, labels)
