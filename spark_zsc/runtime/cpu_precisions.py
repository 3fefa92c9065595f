"""What bf16 and int8 need on a CPU.

bf16: torch runs bf16 matrix products through oneDNN, fast only where the CPU has bf16
instructions (x86: AVX512-BF16 on Intel Cooper Lake and AMD Zen 4 onwards, AMX-BF16 on Intel
Sapphire Rapids onwards; Arm: the BF16 extension, AWS Graviton 3 and 4). Elsewhere torch
emulates them, slower than fp32 itself, so bf16 is refused there. The instructions
are read from the flags Linux lists in /proc/cpuinfo, where Spark's executors run; a system
without that file lists none, and bf16 is refused on its CPU.

int8: dynamic quantization of the Linear layers (weights int8, activations quantized per
batch), faster than fp32 even without int8 dot-product instructions
(`python benchmarks/precision.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

# the flag as /proc/cpuinfo spells it (x86 "flags", Arm "Features") -> the instruction set's name
BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16", "bf16": "Arm BF16"}
CPUINFO = Path("/proc/cpuinfo")


def bf16_instructions(cpuinfo: str) -> list[str]:
    """The bf16 instruction sets a /proc/cpuinfo text lists, by name."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return [name for flag, name in BF16_FLAGS.items() if flag in flags]


def this_cpu_bf16_instructions() -> list[str]:
    """The bf16 instruction sets of the CPU this process runs on (none where it cannot tell)."""
    try:
        return bf16_instructions(CPUINFO.read_text())
    except OSError:  # not Linux
        return []


def cpu_bf16_refusal() -> Optional[str]:
    """Why bf16 is refused on the CPU this process runs on; None where it runs."""
    if this_cpu_bf16_instructions():
        return None
    return (
        "precision=bf16 on CPU needs a CPU that computes bf16 natively (AVX512-BF16 or AMX-BF16 on "
        "x86, BF16 on Arm, as listed in /proc/cpuinfo); this one does not, and emulated bf16 is "
        "slower than fp32: use fp32, or int8 for speed"
    )


def quantized_int8(model):
    """`model` with its Linear layers quantized to int8 dynamically (a new model: the quantized
    weights are this worker's own copy).

    torch deprecates `torch.ao.quantization.quantize_dynamic` in favour of torchao, but
    torchao's equivalent (`quantize_` with `Int8DynamicActivationInt8WeightConfig`) is built to
    run under torch.compile, which compiles again for each new batch shape; run eagerly, as a
    worker would, it is far slower than fp32 (`python benchmarks/precision.py` measures both). Until torch removes
    it, the deprecated call is the fast one, and this is the only place that makes it."""
    import warnings

    import torch

    with warnings.catch_warnings():  # the deprecations, once per worker, in every executor's log
        warnings.filterwarnings("ignore", message="(?s).*deprecated")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
