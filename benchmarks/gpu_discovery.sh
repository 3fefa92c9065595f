#!/usr/bin/env bash
# Spark GPU discovery script for a single-GPU machine (local mode in gpu_check.py).
echo '{"name": "gpu", "addresses": ["0"]}'
