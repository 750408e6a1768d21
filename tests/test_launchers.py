"""Sweeps through the joblib and submitit-local launcher presets, every job tracked."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from omegaconf import OmegaConf

from hydra_plugins.fmnist_launchers import count_items, gpu_for_job
from tests.conftest import run_cli

SWEEP = ["knn.k=1,3", "pca.alpha=5", "data.subset=1000"]


def sweep_runs(store: str) -> tuple[list, list]:
    """Return the sweep's parent runs and its job runs in experiment fmnist-knn."""
    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("fmnist-knn")
    assert experiment is not None, "the sweep created no experiment"
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("fmnist.sweep") == "true"]
    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, jobs


def check_sweep(result, store: str, tmp_path: Path) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    parents, jobs = sweep_runs(store)
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"
    assert sorted(r.data.params["knn.k"] for r in jobs) == ["1", "3"]
    for run in jobs:
        assert run.info.status == "FINISHED", run.info.run_id
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.metrics["accuracy"] > 0.5
    # Each job ran with the preset's per-job thread limit.
    saved = sorted(tmp_path.glob("multirun/*/*/*/.hydra/hydra.yaml"))
    assert len(saved) == 2
    for path in saved:
        env = OmegaConf.load(path).hydra.job.env_set
        assert env.OMP_NUM_THREADS == "1"
        assert env.OPENBLAS_NUM_THREADS == "1"


@pytest.mark.slow
def test_joblib_sweep_tracks_every_job(data_root, store, tmp_path):
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SWEEP,
            f"data.root={data_root}", f"cache.dir={tmp_path}/cache"]
    result = run_cli(args, tmp_path, store, timeout=300)
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    check_sweep(result, store, tmp_path)


@pytest.mark.slow
def test_submitit_local_sweep_tracks_every_job(data_root, store, tmp_path):
    args = ["-m", "hydra/launcher=submitit_local", "hydra.sweeper.max_batch_size=2", *SWEEP,
            f"data.root={data_root}", f"cache.dir={tmp_path}/cache"]
    result = run_cli(args, tmp_path, store, timeout=300)
    check_sweep(result, store, tmp_path)
    assert list(tmp_path.glob("multirun/*/*/.submitit/*/*_result.pkl")), "submitit ran no job"


def test_gpu_for_job_cycles_through_gpus():
    assert [gpu_for_job(n, "0,1,2") for n in range(5)] == ["0", "1", "2", "0", "1"]
    assert gpu_for_job("7", 0) == "0"
    assert gpu_for_job(3, " 4, 6 ") == "6"


def test_gpu_for_job_rejects_empty_list():
    with pytest.raises(ValueError, match="gpus=''"):
        gpu_for_job(0, "")


def test_count_items():
    assert count_items("0,1,2,3") == 4
    assert count_items(0) == 1
