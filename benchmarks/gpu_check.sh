#!/usr/bin/env bash
# The prepared GPU check (see benchmarks/gpu_check.py). Runs from the repo as it stands: the
# repo root goes on PYTHONPATH, so spark_zsc need not be installed (the GPU machine has torch,
# transformers, tokenizers, pandas, pyarrow and numpy; no pyspark). PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -u benchmarks/gpu_check.py "$@"  # -u: lines as they come, even if cut short
