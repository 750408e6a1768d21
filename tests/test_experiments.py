"""Preset sweeps in conf/experiment compose into valid configs with their sweep parameters."""

import pytest
from hydra import compose, initialize_config_dir

from fmnist.config import validate
from tests.conftest import REPO

PRESETS = {
    "knn_grid": ("knn", {"knn.k": "range(1,50,2)", "pca.alpha": "range(1,50,2)"}),
    "autoencoder_depth_latent": ("autoencoder", {"autoencoder.latent_dim": "5,15,25,50,75,100",
                                                 "autoencoder.depth": "1,3,5,7,9,11,13"}),
    "autoencoder_widths": ("autoencoder", {"autoencoder/widths": "high,mid,low"}),
    "classifiers": ("classifier", {"classifier": "simple,deep,cnn"}),
    "umap_neighbours": ("embedding", {"umap.n_neighbors": "5,15,50", "embedding.n_components": "2,10"}),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_experiment_preset_composes(name):
    pipeline, params = PRESETS[name]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={name}"], return_hydra_config=True)
    assert cfg.pipeline.name == pipeline
    assert {key: str(value) for key, value in cfg.hydra.sweeper.params.items()} == params
    validate(cfg)


def test_experiment_grid_runs_625_jobs(tmp_path, store):
    from tests.conftest import run_cli

    result = run_cli(["-m", "experiment=knn_grid", "data.subset=500", "report.auto=false"], tmp_path, store)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "625/625 done, 0 failed" in result.stdout
