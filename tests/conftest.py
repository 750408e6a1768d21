"""Shared fixtures: the real Fashion-MNIST files, a private tracking store, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist.data.locate import SYSTEM_DIR, complete

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The official files from Debian's dataset-fashion-mnist package (or FMNIST_DATA)."""
    root = Path(os.environ.get("FMNIST_DATA") or SYSTEM_DIR)
    if not complete(root):
        pytest.fail(f"Fashion-MNIST not found in {root}: apt-get install -y dataset-fashion-mnist, or set FMNIST_DATA")
    return root


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh embedded tracking store (SQLite) for one test."""
    return f"sqlite:///{tmp_path}/mlruns/mlflow.db"


def runs_of(store_uri: str) -> list:
    """Return every run in every experiment of a tracking store (none if it has no experiment)."""
    import mlflow

    client = mlflow.MlflowClient(store_uri)
    experiments = client.search_experiments()
    if not experiments:
        return []
    return client.search_runs([e.experiment_id for e in experiments], max_results=5000)


def run_cli(args: list[str], cwd: Path, store_uri: str | None = None, module: str = "fmnist.train",
            env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m <module> args`` in ``cwd`` and return the finished process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    if store_uri:
        args = args + [f"tracking.uri={store_uri}"]
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=timeout,
    )
