#!/usr/bin/env bash
# The prepared GPU check (see benchmarks/gpu_check.py). Needs the project installed
# (pip install -e .) and, on the GPU machine, a CUDA build of torch. PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
