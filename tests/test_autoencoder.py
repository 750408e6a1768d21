"""The autoencoder pipeline: layer-size rules, config checks and real training through the CLI."""

from pathlib import Path

import mlflow
import pytest
import torch
from hydra import compose, initialize_config_dir

from fmnist.config import ConfigError, check_autoencoder
from fmnist.reduce.autoencoder import DenseAutoencoder, encoder_widths, layer_sizes
from tests.conftest import REPO, run_cli, runs_of

CONF_DIR = str(Path(REPO) / "conf")


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=["pipeline=autoencoder", *overrides])


def test_default_batch_size_is_32():
    # With batches of 256 the codes' kNN accuracy stayed well below known GPU results.
    assert compose_train([]).autoencoder.batch_size == 32


@pytest.mark.parametrize("depth", [1, 3, 5, 7, 9, 11, 13])
@pytest.mark.parametrize("latent_dim", [5, 15, 100])
def test_depth_gives_promised_layers(depth, latent_dim):
    sizes = layer_sizes(latent_dim, depth=depth)
    hidden = sizes[1:-1]
    assert len(hidden) == depth
    assert sizes[0] == sizes[-1] == 784
    assert hidden[len(hidden) // 2] == latent_dim
    assert sizes == sizes[::-1]
    encoder = sizes[: len(sizes) // 2 + 1]
    assert all(a >= b for a, b in zip(encoder, encoder[1:]))


def test_depth_widths_shrink_geometrically():
    assert layer_sizes(15, depth=5) == [784, 210, 56, 15, 56, 210, 784]
    assert encoder_widths(5, depth=1) == [5]


def test_widths_mirror_around_code():
    assert layer_sizes(15, widths=[300, 40]) == [784, 300, 40, 15, 40, 300, 784]
    # autoencoder.widths takes precedence over autoencoder.depth.
    assert layer_sizes(8, depth=13, widths=[64]) == [784, 64, 8, 64, 784]


def test_module_follows_layer_sizes():
    model = DenseAutoencoder(layer_sizes(15, depth=3), "ReLU")
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 108), (108, 15), (15, 108), (108, 784)]
    assert model.latent_dim == 15


@pytest.mark.parametrize("widths, count", [("high", 400), ("mid", 300), ("low", 200)])
def test_width_presets_compose(widths, count):
    cfg = compose_train([f"autoencoder/widths={widths}"])
    encoder = encoder_widths(cfg.autoencoder.latent_dim, cfg.autoencoder.depth, list(cfg.autoencoder.widths))
    assert encoder[0] == count
    assert encoder[-1] == 15
    assert len(layer_sizes(15, widths=list(cfg.autoencoder.widths))) - 2 == 19
    assert cfg.autoencoder.depth is None


@pytest.mark.parametrize("overrides, key", [
    (["autoencoder.latent_dim=785"], "autoencoder.latent_dim"),
    (["autoencoder.latent_dim=0"], "autoencoder.latent_dim"),
    (["autoencoder.widths=[]"], "autoencoder.widths"),
    (["autoencoder.widths=[64,0]"], "autoencoder.widths"),
    (["autoencoder.widths=[64,-3]"], "autoencoder.widths"),
    (["autoencoder.depth=4"], "autoencoder.depth"),
    (["autoencoder.depth=0"], "autoencoder.depth"),
    (["autoencoder.depth=null"], "autoencoder.depth"),
    (["autoencoder.activation=swish"], "autoencoder.activation"),
    (["autoencoder.learning_rate=0"], "autoencoder.learning_rate"),
    (["autoencoder.val_fraction=1.0"], "autoencoder.val_fraction"),
])
def test_invalid_shape_names_key(overrides, key):
    cfg = compose_train(overrides)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_autoencoder(cfg)


def test_layer_rules_raise_naming_key():
    with pytest.raises(ValueError, match=r"autoencoder\.latent_dim"):
        layer_sizes(800, depth=3)
    with pytest.raises(ValueError, match=r"autoencoder\.widths"):
        layer_sizes(15, widths=[])
    with pytest.raises(ValueError, match=r"autoencoder\.widths"):
        layer_sizes(15, widths=[10, 0])
    with pytest.raises(ValueError, match=r"autoencoder\.depth"):
        layer_sizes(15, depth=2)


def test_cli_rejects_latent_before_training(tmp_path, store):
    result = run_cli(["pipeline=autoencoder", "autoencoder.latent_dim=785"], tmp_path, store)
    assert result.returncode == 2
    assert "autoencoder.latent_dim=785 is invalid" in result.stdout + result.stderr
    assert runs_of(store) == []


def test_sweep_rejects_even_depth_first(tmp_path, store):
    result = run_cli(["-m", "pipeline=autoencoder", "autoencoder.depth=3,4"], tmp_path, store)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "No job started" in output
    assert "autoencoder.depth=4 is invalid" in output
    assert runs_of(store) == []


def test_tiny_autoencoder_logs_one_run(tmp_path, store):
    args = ["pipeline=autoencoder", "data.subset=2000", "autoencoder.latent_dim=8", "autoencoder.depth=3",
            "trainer.max_epochs=2", "threads=1"]
    result = run_cli(args, tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]

    runs = runs_of(store)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for key in ("accuracy", "f1_macro", "reconstruction_mse", "n_params", "epochs", "time/train_s",
                "time/epoch_s", "time/encode_s", "time/reduce_s", "time/knn_s", "train_loss", "val_loss"):
        assert key in metrics, key
    assert metrics["accuracy"] > 0.3  # chance is 0.1 with ten balanced classes
    assert 0.0 < metrics["reconstruction_mse"] < 0.2
    assert metrics["n_params"] == DenseAutoencoder(layer_sizes(8, depth=3)).n_parameters()
    assert run.data.tags["fmnist.ae_layer_sizes"] == "784 79 8 79 784"
    assert run.data.params["autoencoder.latent_dim"] == "8"

    client = mlflow.MlflowClient(store)
    for key in ("train_loss", "val_loss"):
        steps = [point.step for point in client.get_metric_history(run.info.run_id, key)]
        assert steps == [0, 1], key
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "reconstructions.png", "confusion_matrix.csv"} <= artifacts
    assert [a.path for a in client.list_artifacts(run.info.run_id, "model")] == ["model/autoencoder.ckpt"]
    assert not (tmp_path / "lightning_logs").exists()


def test_width_presets_sweep(tmp_path, store):
    args = ["-m", "pipeline=autoencoder", "autoencoder/widths=high,low", "data.subset=600",
            "trainer.max_epochs=1", "threads=1"]
    result = run_cli(args, tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2/2 done, 0 failed" in result.stdout

    children = [r for r in runs_of(store) if "mlflow.parentRunId" in r.data.tags]
    sizes = sorted(r.data.tags["fmnist.ae_layer_sizes"].split()[1] for r in children)
    assert sizes == ["200", "400"]
    assert all(r.data.tags["fmnist.ae_hidden_layers"] == "19" for r in children)
