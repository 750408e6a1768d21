"""The main job through the real CLI: single runs and multiruns on a slice of the real data."""

import json
import shutil

import mlflow
import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from fmnist.data import load_split
from tests.conftest import run_cli, runs_of

SUBSET = 3000


def test_multirun_matches_scikit_learn(tmp_path, store):
    result = run_cli(["-m", f"data.subset={SUBSET}", "knn.k=1,5", "pca.alpha=3,10"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4/4 done, 0 failed" in result.stdout

    runs = runs_of(store)
    parents = [r for r in runs if r.data.tags.get("fmnist.sweep") == "true"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    assert len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    # Hydra's share of the sweep's time includes validating every job before the first one.
    costs = parents[0].data.metrics
    assert costs["sweep/validate_s"] > 0
    assert costs["sweep/hydra_s"] >= costs["sweep/validate_s"]
    assert all(r.info.status == "FINISHED" for r in runs)

    split = load_split(subset=SUBSET)
    x_train, x_eval = split.x_train / 255.0, split.x_eval / 255.0
    client = mlflow.MlflowClient(store)
    for child in children:
        k, alpha = int(child.data.params["knn.k"]), int(child.data.params["pca.alpha"])
        assert child.data.params["knn.metric"] == "l1"
        assert child.data.metrics["knn.k"] == k
        for key in ("accuracy", "f1_macro", "precision_macro", "recall_macro", "time/reduce_fit_s",
                    "time/search_s", "time/vote_s", "time/knn_s", "time/total_s", "time/wall_s"):
            assert key in child.data.metrics, key
        for tag in ("fmnist.config_hash", "fmnist.data_digest", "fmnist.protocol"):
            assert tag in child.data.tags, tag
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "confusion_matrix.csv"} <= artifacts

        pca = PCA(n_components=alpha, svd_solver="full").fit(x_train)
        reference = KNeighborsClassifier(n_neighbors=k, metric="manhattan", algorithm="brute")
        reference.fit(pca.transform(x_train), split.y_train)
        expected = float(np.mean(reference.predict(pca.transform(x_eval)) == split.y_eval))
        assert child.data.metrics["accuracy"] == pytest.approx(expected, abs=1e-12), (k, alpha)

    # Each job folder contains its own saved config and the record of its own run.
    records = sorted(tmp_path.glob("multirun/*/*/*/mlflow_run.json"))
    assert len(records) == 4
    by_id = {child.info.run_id: child for child in children}
    for record in records:
        child = by_id[json.loads(record.read_text())["run_id"]]
        saved = OmegaConf.load(record.parent / ".hydra" / "config.yaml")
        assert (saved.knn.k, saved.pca.alpha) == (int(child.data.params["knn.k"]), int(child.data.params["pca.alpha"]))
        overrides = OmegaConf.load(record.parent / ".hydra" / "overrides.yaml")
        assert f"knn.k={saved.knn.k}" in overrides
        assert f"pca.alpha={saved.pca.alpha}" in overrides


def test_single_run_logs_png_and_dataset(tmp_path, store):
    result = run_cli([f"data.subset={SUBSET}", "knn.metric=l2", "data.protocol=official"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = runs_of(store)
    assert run.info.status == "FINISHED"
    assert run.data.params["data.protocol"] == "official"
    assert run.data.tags["fmnist.protocol"] == "official"
    artifacts = {a.path for a in mlflow.MlflowClient(store).list_artifacts(run.info.run_id)}
    assert "confusion_matrix.png" in artifacts
    assert len(run.inputs.dataset_inputs) == 1


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("knn.k=0", "knn.k=0 is invalid"),
        (f"knn.k={SUBSET + 1}", f"knn.k={SUBSET + 1} is invalid"),
        ("pca.alpha=785", "pca.alpha=785 is invalid"),
        ("pca.alpha=0", "pca.alpha=0 is invalid"),
        ("knn.metric=cosine", "knn.metric='cosine' is invalid"),
        ("data.protocol=test", "data.protocol='test' is invalid"),
        ("knn.k=abc", "knn.k"),
        ("knn.kk=3", "knn.kk"),
        ("data.root=/nonexistent/folder", "data.root='/nonexistent/folder' is invalid"),
    ],
)
def test_bad_override_fails_without_runs(tmp_path, store, override, expected):
    result = run_cli([f"data.subset={SUBSET}", override], tmp_path, store)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert runs_of(store) == []


def test_bad_value_mid_sweep_stops_before_first_job(tmp_path, store):
    result = run_cli(["-m", f"data.subset={SUBSET}", "knn.k=1,3,0,5", "pca.alpha=2"], tmp_path, store)
    assert result.returncode == 2
    assert "No job started" in result.stdout + result.stderr
    assert "knn.k=0 is invalid" in result.stdout + result.stderr
    assert runs_of(store) == []


def test_sort_range_is_rejected(tmp_path, store):
    result = run_cli(["-m", f"data.subset={SUBSET}", "knn.k=sort(range(1,10,2),reverse=true)"], tmp_path, store)
    assert result.returncode == 2
    assert "sort(range(...)) returns wrong values" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert runs_of(store) == []


def test_failed_job_does_not_stop_sweep(tmp_path, store, data_root):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(data_root, corrupt)
    (corrupt / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = bytearray(__import__("gzip").decompress((data_root / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[-1] = (labels[-1] + 1) % 10
    (corrupt / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))

    result = run_cli(["-m", f"data.subset={SUBSET}", f"data.root={corrupt},{data_root}"], tmp_path, store)
    assert result.returncode == 1
    assert "1 finished, 0 skipped, 1 failed of 2 jobs" in result.stdout + result.stderr
    statuses = sorted(r.info.status for r in runs_of(store) if "mlflow.parentRunId" in r.data.tags)
    assert statuses == ["FAILED", "FINISHED"]
    failed = next(r for r in runs_of(store) if r.info.status == "FAILED" and "mlflow.parentRunId" in r.data.tags)
    artifacts = {a.path for a in mlflow.MlflowClient(store).list_artifacts(failed.info.run_id)}
    assert "traceback.txt" in artifacts


def test_rerun_skips_finished_points(tmp_path, store):
    args = ["-m", f"data.subset={SUBSET}", "knn.k=1,3", "pca.alpha=4"]
    assert run_cli(args, tmp_path, store).returncode == 0
    second = run_cli(args, tmp_path, store)
    assert second.returncode == 0
    assert "0 finished, 2 skipped, 0 failed of 2 jobs" in second.stdout + second.stderr
    children = [r for r in runs_of(store) if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2
    forced = run_cli(args + ["tracking.skip_finished=false"], tmp_path, store)
    assert "2 finished, 0 skipped" in forced.stdout + forced.stderr
