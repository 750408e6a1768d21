"""The explore pipeline on the real files, and its label order tests on known orders."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from fmnist.pipelines.explore import runs_test, transition_test
from tests.conftest import run_cli


def test_runs_test_detects_sorted_labels():
    labels = np.repeat(np.arange(10), 600)
    result = runs_test(labels, np.random.default_rng(0), permutations=200)
    assert result["runs"] == 10
    assert result["runs_p_value"] < 0.01
    assert transition_test(labels)["transition_p_value"] < 0.01


def test_runs_test_accepts_shuffled_labels():
    rng = np.random.default_rng(1)
    labels = rng.permutation(np.repeat(np.arange(10), 600))
    result = runs_test(labels, rng, permutations=200)
    assert result["runs_p_value"] > 0.01
    assert abs(result["runs_z"]) < 3


def test_explore_run_on_real_files(tmp_path, data_root, store):
    result = run_cli(["pipeline=explore", f"data.root={data_root}"], tmp_path, store)
    assert result.returncode == 0, result.stdout + result.stderr

    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("fmnist-explore")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["n_train"] == 60000
    assert metrics["n_test"] == 10000
    assert 0 < metrics["order/train/runs_p_value"] <= 1
    assert 0 < metrics["order/test/transition_p_value"] <= 1
    assert 0 < metrics["pixel/train/mean"] < 255

    names = {item.path for item in client.list_artifacts(run.info.run_id)}
    for name in ("class_counts.csv", "class_counts.png", "label_order_tests.csv", "mean_images.png",
                 "samples.png", "pixel_intensity.png", "pixel_statistics.csv"):
        assert name in names

    folder = client.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts"))
    counts = pd.read_csv(f"{folder}/class_counts.csv")
    assert list(counts["train"]) == [6000] * 10
    assert list(counts["test"]) == [1000] * 10
    pixels = pd.read_csv(f"{folder}/pixel_statistics.csv")
    overall = pixels[(pixels["file"] == "train") & (pixels["class"] == "all")].iloc[0]
    assert overall["mean"] == metrics["pixel/train/mean"]
