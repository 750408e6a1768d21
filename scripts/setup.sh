#!/usr/bin/env bash
# Create .venv and install fmnist with its test dependencies. torch is installed first at the
# version pyproject.toml pins, so pip never resolves a newer (CUDA, multi-GB) build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev,postgres]"
