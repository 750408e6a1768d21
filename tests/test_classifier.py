"""The classifier pipeline through the real CLI on a slice of the real data, and its networks."""

import mlflow
import torch

from fmnist.classify.nets import CNNClassifier, MLPClassifier
from tests.conftest import REPO, run_cli

SUBSET = 1000
CURVES = ("train_loss", "train_acc", "val_loss", "val_acc")
# Makes the modules below importable by the CLI subprocess, which runs in tmp_path.
TEST_ENV = {"PYTHONPATH": str(REPO)}


class CrashingMLP(MLPClassifier):
    """An MLP whose training fails in its second epoch."""

    def training_step(self, batch, batch_idx):
        if self.current_epoch == 1:
            raise RuntimeError("simulated crash in epoch 1")
        return super().training_step(batch, batch_idx)


class InterruptedMLP(MLPClassifier):
    """An MLP whose training is stopped as by Ctrl+C in its second epoch."""

    def training_step(self, batch, batch_idx):
        if self.current_epoch == 1:
            raise KeyboardInterrupt
        return super().training_step(batch, batch_idx)


def classifier_runs(store):
    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("fmnist-classifier")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], max_results=100)


def test_network_shapes_and_sizes():
    images = torch.rand(3, 784)
    deep = MLPClassifier(hidden_sizes=[300, 200, 100])
    cnn = CNNClassifier(channels=[32, 64], hidden_sizes=[128])
    assert deep(images).shape == (3, 10)
    assert cnn(images).shape == (3, 10)
    # 784*300+300 + 300*200+200 + 200*100+100 + 100*10+10
    assert deep.n_parameters == 316_810
    # conv 1*32*9+32, BN 64, conv 32*64*9+64, BN 128, dense 64*7*7*128+128, 128*10+10
    assert cnn.n_parameters == 421_834


def test_sweep_trains_each_architecture(tmp_path, store):
    result = run_cli(["-m", "pipeline=classifier", "classifier=simple,deep,cnn", f"data.subset={SUBSET}",
                      "trainer.max_epochs=1", "threads=1"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3/3 done, 0 failed" in result.stdout

    runs = classifier_runs(store)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    assert len(children) == 3
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.params["classifier.name"] for r in children) == ["cnn", "deep", "simple"]

    client = mlflow.MlflowClient(store)
    for child in children:
        name = child.data.params["classifier.name"]
        assert child.info.status == "FINISHED", name
        for key in CURVES:
            history = client.get_metric_history(child.info.run_id, key)
            assert [m.step for m in history] == [0], (name, key)
        metrics = child.data.metrics
        assert 0.3 < metrics["accuracy"] <= 1.0, name
        assert 0.0 < metrics["f1_macro"] <= 1.0, name
        assert metrics["best_epoch"] == 0, name
        assert metrics["epochs"] == 1, name
        assert metrics["n_params"] > 0, name
        assert metrics["time/predict_s"] > 0, name
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"confusion_matrix.csv", "confusion_matrix.png", "learning_curves.png", "model"} <= artifacts, name
        model_files = {a.path for a in client.list_artifacts(child.info.run_id, "model")}
        assert "model/MLmodel" in model_files, name
        assert child.data.tags["fmnist.tested_weights"] == "best (epoch 0)", name


def test_crash_mid_training_leaves_run_failed(tmp_path, store):
    result = run_cli(["pipeline=classifier", f"data.subset={SUBSET}", "trainer.max_epochs=3",
                      "trainer.early_stopping.enabled=false",
                      "classifier._target_=tests.test_classifier.CrashingMLP"], tmp_path, store, env=TEST_ENV)
    assert result.returncode != 0
    assert "simulated crash in epoch 1" in result.stderr

    runs = classifier_runs(store)
    assert len(runs) == 1
    assert runs[0].info.status == "FAILED"
    client = mlflow.MlflowClient(store)
    traceback_file = client.download_artifacts(runs[0].info.run_id, "traceback.txt", str(tmp_path))
    assert "simulated crash in epoch 1" in open(traceback_file).read()
    # The epoch finished before the crash stays in the run.
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "val_acc")] == [0]


def test_interrupt_mid_training_leaves_run_killed(tmp_path, store):
    result = run_cli(["pipeline=classifier", f"data.subset={SUBSET}", "trainer.max_epochs=3",
                      "classifier._target_=tests.test_classifier.InterruptedMLP"], tmp_path, store, env=TEST_ENV)
    assert result.returncode != 0

    runs = classifier_runs(store)
    assert len(runs) == 1
    assert runs[0].info.status == "KILLED"


def test_validation_too_small_rejected_before_run(tmp_path, store):
    result = run_cli(["pipeline=classifier", "data.subset=50", "classifier.val_fraction=0.1"], tmp_path, store)
    assert result.returncode == 2
    assert "classifier.val_fraction=0.1 is invalid" in result.stderr + result.stdout
    assert classifier_runs(store) == []
