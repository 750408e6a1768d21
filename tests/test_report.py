"""Sweep reports: built from real sweeps through the CLI and from runs made with the client."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from fmnist.report.build import build_report, report_after_sweep
from fmnist.report.store import SweepNotFoundError
from tests.conftest import run_cli

KNN_FILES = ["index.html", "runs.csv", "summary.csv", "knn_quality.png", "knn_times.png", "knn_pareto.png",
             "knn_top10.csv", "knn_pareto.csv", "knn_accuracy_grid.csv"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, data_root):
    """A real 2 x 2 PCA + kNN sweep on 2,000 training images, reported automatically."""
    folder = tmp_path_factory.mktemp("sweep")
    store = f"sqlite:///{folder}/mlruns/mlflow.db"
    result = run_cli(["-m", "knn.k=1,3", "pca.alpha=2,4", "data.subset=2000", f"data.root={data_root}",
                      f"hydra.sweep.dir={folder}/multirun"], folder, store)
    assert result.returncode == 0, result.stdout + result.stderr
    client = mlflow.MlflowClient(store)
    parent = client.search_runs([client.get_experiment_by_name("fmnist-knn").experiment_id],
                                filter_string="tags.`fmnist.sweep` = 'true'")[0]
    return {"folder": folder, "store": store, "client": client, "parent": parent.info.run_id}


def metrics_by_point(client, parent_id) -> dict[tuple[int, int], dict[str, float]]:
    runs = client.search_runs([client.get_run(parent_id).info.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")
    return {(int(run.data.params["knn.k"]), int(run.data.params["pca.alpha"])): run.data.metrics for run in runs}


def test_sweep_end_writes_report(sweep):
    assert (sweep["folder"] / "multirun" / "report" / "index.html").is_file()
    logged = {item.path for item in sweep["client"].list_artifacts(sweep["parent"], "report")}
    for name in KNN_FILES:
        assert f"report/{name}" in logged


def test_report_cli_knn_grid(sweep, tmp_path):
    out = tmp_path / "report"
    result = run_cli([f"sweep={sweep['parent']}", f"out={out}", "log_artifacts=false"], sweep["folder"],
                     sweep["store"], module="fmnist.report")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in KNN_FILES:
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 3
    assert "accuracy against classification time" in page

    runs = metrics_by_point(sweep["client"], sweep["parent"])
    assert len(runs) == 4
    top = pd.read_csv(out / "knn_top10.csv")
    assert len(top) == 4
    for row in top.itertuples():
        logged = runs[(int(row._1), int(row._2))]
        assert row.accuracy == logged["accuracy"]
        assert row.f1_macro == logged["f1_macro"]
    grid = pd.read_csv(out / "knn_accuracy_grid.csv").set_index("k \\ alpha")
    for (k, alpha), logged in runs.items():
        assert grid.loc[k, str(alpha)] == logged["accuracy"]
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[0, "accuracy"] == max(m["accuracy"] for m in runs.values())


def test_report_cli_latest(sweep, tmp_path):
    result = run_cli(["sweep=latest", f"out={tmp_path}", "log_artifacts=false"], sweep["folder"], sweep["store"],
                     module="fmnist.report")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sweep["parent"] in (tmp_path / "index.html").read_text()


def test_report_cli_unknown_sweep(sweep, tmp_path):
    result = run_cli(["sweep=0123456789abcdef0123456789abcdef", f"out={tmp_path}"], sweep["folder"], sweep["store"],
                     module="fmnist.report")
    assert result.returncode == 2
    assert "sweep='0123456789abcdef0123456789abcdef' not found" in result.stdout + result.stderr
    assert not (tmp_path / "index.html").exists()


def test_report_rejects_child_run_id(sweep, tmp_path):
    child = next(iter(sweep["client"].search_runs(
        [sweep["client"].get_run(sweep["parent"]).info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{sweep['parent']}'")))
    with pytest.raises(SweepNotFoundError, match="not a sweep's parent run"):
        build_report(sweep["client"], child.info.run_id, tmp_path)


def test_sweep_report_disabled(tmp_path, data_root, store):
    result = run_cli(["-m", "knn.k=1", "pca.alpha=2", "data.subset=500", "report.auto=false",
                      f"data.root={data_root}", f"hydra.sweep.dir={tmp_path}/multirun"], tmp_path, store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "multirun" / "report").exists()


def test_report_failure_is_a_warning(sweep, tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert report_after_sweep(sweep["client"], sweep["parent"], blocked / "report") is None
    assert "Sweep report for parent run" in caplog.text


# --- sweeps made with the client, for failed runs and the other pipelines -------------------

def make_sweep(client, pipeline: str) -> str:
    # Artifacts beside the store, not in ./mlruns of the folder pytest runs from.
    store = client.tracking_uri.removeprefix("sqlite:///")
    location = (Path(store).parent / "artifacts").as_uri()
    experiment = client.create_experiment(f"fmnist-{pipeline}-test", artifact_location=location)
    return client.create_run(experiment, run_name=f"sweep {pipeline}",
                             tags={"fmnist.sweep": "true", "fmnist.pipeline": pipeline}).info.run_id


def make_child(client, parent: str, pipeline: str, params: dict, metrics: dict, status: str = "FINISHED") -> str:
    experiment = client.get_run(parent).info.experiment_id
    run_id = client.create_run(experiment, run_name=" ".join(f"{k}={v}" for k, v in params.items()),
                               tags={"mlflow.parentRunId": parent, "fmnist.pipeline": pipeline,
                                     "fmnist.config_hash": str(sorted(params.items()))}).info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.set_terminated(run_id, status)
    return run_id


def test_report_marks_failed_points(store, tmp_path):
    client = mlflow.MlflowClient(store)
    parent = make_sweep(client, "knn")
    for k in (1, 3):
        for alpha in (2, 4):
            failed = (k, alpha) == (3, 4)
            metrics = {} if failed else {"accuracy": 0.5 + k / 100 + alpha / 1000, "time/knn_s": alpha / 10}
            make_child(client, parent, "knn", {"knn.k": k, "pca.alpha": alpha}, metrics,
                       status="FAILED" if failed else "FINISHED")
    page = build_report(client, parent, tmp_path, log_artifacts=False).read_text()
    assert "1 of 4 runs did not finish" in page
    grid = pd.read_csv(tmp_path / "knn_accuracy_grid.csv").set_index("k \\ alpha")
    assert pd.isna(grid.loc[3, "4"])
    assert grid.loc[3, "2"] == pytest.approx(0.532)
    assert (tmp_path / "knn_quality.png").is_file()


def test_report_other_pipelines(store, tmp_path):
    client = mlflow.MlflowClient(store)

    autoencoder = make_sweep(client, "autoencoder")
    expected = {}
    for depth in (1, 3):
        for latent in (2, 8):
            metrics = {"accuracy": 0.7 + latent / 100 + depth / 1000, "time/reduce_s": 10.0 * depth, "time/knn_s": 0.5}
            make_child(client, autoencoder, "autoencoder",
                       {"autoencoder.depth": depth, "autoencoder.latent_dim": latent}, metrics)
            expected[(depth, latent)] = metrics
    make_child(client, autoencoder, "autoencoder", {"autoencoder.depth": 5, "autoencoder.latent_dim": 2}, {},
               status="FAILED")
    out = tmp_path / "autoencoder"
    page = build_report(client, autoencoder, out, log_artifacts=False).read_text()
    table = pd.read_csv(out / "autoencoder_table.csv")
    assert len(table) == 4
    for row in table.itertuples():
        metrics = expected[(int(row.depth), int(row._3))]
        assert row.accuracy == metrics["accuracy"]
        assert row._4 == metrics["time/reduce_s"]
    assert (out / "autoencoder_accuracy.png").is_file()
    assert "1 of 5 runs did not finish" in page
    assert "no finished PCA + kNN run with pca.alpha=8" in page

    classifier = make_sweep(client, "classifier")
    for name in ("simple", "cnn"):
        run_id = make_child(client, classifier, "classifier", {"classifier.name": name}, {"accuracy": 0.9})
        for epoch in range(3):
            for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
                client.log_metric(run_id, key, 0.1 * epoch, step=epoch)
    out = tmp_path / "classifier"
    build_report(client, classifier, out, log_artifacts=False)
    table = pd.read_csv(out / "classifier_table.csv")
    assert sorted(table["model"]) == ["cnn", "simple"]
    assert set(table["epochs"]) == {3}
    assert (out / "classifier_curves.png").is_file()

    embedding = make_sweep(client, "embedding")
    scatter = tmp_path / "scatter.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure(figsize=(2, 2)).savefig(scatter)
    for method in ("umap", "tsne"):
        run_id = make_child(client, embedding, "embedding", {"embedding.method": method},
                            {"accuracy": 0.8, "time/reduce_fit_s": 12.0, "time/knn_s": 0.2})
        client.log_artifact(run_id, str(scatter))
    out = tmp_path / "embedding"
    page = build_report(client, embedding, out, log_artifacts=False).read_text()
    assert len(list(out.glob("embedding_*_scatter.png"))) == 2
    assert "class='gallery'" in page
    assert "umap, accuracy 0.8000, knn 0.2 s, reduce_fit 12 s" in page
