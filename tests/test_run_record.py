"""A job's run and its local record: what reaches the store, and the config files it writes."""

from __future__ import annotations

import json

import mlflow
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fmnist.config import validate
from fmnist.config_yaml import to_yaml
from fmnist.track.record import RECORD_NAME, RunRecord, send
from fmnist.track.run import TAG_PIPELINE, Tracker
from tests.conftest import REPO


def composed(*overrides: str, hydra_node: bool = True):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=hydra_node)
    validate(cfg)
    return cfg


@pytest.mark.parametrize("experiment", ["knn_grid", "autoencoder_widths", "classifiers", "umap_neighbours"])
def test_config_yaml_matches_omegaconf(experiment):
    cfg = composed(f"experiment={experiment}")
    # The hydra node too: enums, nested lists and long help texts.
    assert to_yaml(cfg) == OmegaConf.to_yaml(cfg)


def test_config_yaml_quotes_number_strings():
    values = {"float_like": "1e3", "bool_like": "yes", "null_like": "null", "int_like": "0x1F",
              "text": "Pullover ✓ 中文", "lines": "a\nb\n", "long": "word " * 40, "colon": "a: b",
              "list": [1, 2.5, None, True, "on", "", " padded "], "ref": "${text}"}
    cfg = OmegaConf.create(values)
    text = to_yaml(cfg)
    assert text == OmegaConf.to_yaml(cfg)
    assert OmegaConf.create(text) == cfg
    assert OmegaConf.create(to_yaml(cfg, resolve=True)).ref == values["text"]


def test_run_sends_changed_tags(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = composed(f"tracking.uri={store}", hydra_node=False)
    tracker = Tracker(cfg)
    with tracker.start_run() as run:
        run.set_tags({TAG_PIPELINE: "changed after creation", "fmnist.extra": "1"})
        run.log_text("hello", "note.txt")
        folder = run.folder
    record = json.loads((folder / RECORD_NAME).read_text())
    assert record["status"] == "FINISHED"
    assert record["terminated"]
    assert record["sent_tags"] == record["tags"]
    assert record["artifact_uri"].endswith(f"{record['run_id']}/artifacts")

    stored = mlflow.MlflowClient(store).get_run(record["run_id"])
    assert stored.data.tags[TAG_PIPELINE] == "changed after creation"
    assert stored.data.tags["fmnist.extra"] == "1"
    assert stored.data.tags["fmnist.config_hash"] == tracker.config_hash
    names = {a.path for a in mlflow.MlflowClient(store).list_artifacts(record["run_id"])}
    assert names == {"config.yaml", "note.txt"}


def test_old_record_resends_everything(tmp_path, store):
    # Records written before artifact_uri and sent_tags existed lack both fields.
    client = mlflow.MlflowClient(store)
    experiment_id = client.create_experiment("old-records")
    run_id = client.create_run(experiment_id).info.run_id
    record = RunRecord(store, "old-records", None, tags={"fmnist.pipeline": "knn"}, params={"knn.k": "3"},
                       unsent_metrics=[["accuracy", 0.5, 0, 0]], run_id=run_id, status="FINISHED")
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "note.txt").write_text("hello")

    send(record, tmp_path, client, experiment_id)

    stored = client.get_run(run_id)
    assert stored.data.tags["fmnist.pipeline"] == "knn"
    assert stored.data.params["knn.k"] == "3"
    assert stored.data.metrics["accuracy"] == 0.5
    assert stored.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(run_id)] == ["note.txt"]
    assert record.complete
