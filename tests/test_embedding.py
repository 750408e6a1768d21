"""Pipeline ``embedding``: UMAP and t-SNE on a slice of the real data, through the real CLI."""

import os

import mlflow
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from fmnist.config import ConfigError, validate
from fmnist.data import load_split
from fmnist.reduce.embedding import TSNEEmbedding, UMAPEmbedding
from tests.conftest import REPO, run_cli, runs_of

# A slice small enough that this file ran in 70 to 135 s on two shared cores.
SUBSET = 300
# One thread, because openTSNE with two threads ran about ten times slower than with one while
# other processes held the two cores.
EMBEDDING = ["pipeline=embedding", f"data.subset={SUBSET}", "cache.enabled=false", "threads=1"]
TIMES = ("time/reduce_fit_s", "time/reduce_fit_cpu_s", "time/reduce_transform_s",
         "time/reduce_transform_cpu_s", "time/knn_s", "time/knn_cpu_s", "time/total_s")


def artifacts_of(store, run):
    return {a.path for a in mlflow.MlflowClient(store).list_artifacts(run.info.run_id)}


def test_umap_sweep_logs_every_point(tmp_path, store):
    # The sweep the documentation gives, on a slice.
    result = run_cli(["-m", *EMBEDDING, "embedding.method=umap", "umap.n_neighbors=5,15,50",
                      "embedding.n_components=2,10"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6/6 done, 0 failed" in result.stdout

    children = [r for r in runs_of(store) if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 6
    points = {(r.data.params["umap.n_neighbors"], r.data.params["embedding.n_components"]) for r in children}
    assert points == {(n, d) for n in ("5", "15", "50") for d in ("2", "10")}
    for child in children:
        assert child.info.status == "FINISHED"
        assert 0.3 < child.data.metrics["accuracy"] <= 1.0
        assert "f1_macro" in child.data.metrics
        for key in (*TIMES, "time/compile_s", "time/compile_cpu_s"):
            assert child.data.metrics[key] >= 0, key
        assert child.data.metrics["embedding_threads"] == 1
        assert child.data.tags["fmnist.embedding_fit_on"] == "train"
        # Only the chosen method's section is part of the run.
        assert not any(key.startswith("tsne.") for key in child.data.params)
        assert "embedding_scatter.png" in artifacts_of(store, child)


def test_tsne_run_logs_metrics_and_scatter(tmp_path, store):
    result = run_cli([*EMBEDDING, "embedding.method=tsne", "tsne.perplexity=20"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]

    runs = runs_of(store)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["tsne.perplexity"] == "20.0"
    assert 0.3 < run.data.metrics["accuracy"] <= 1.0
    for key in TIMES:
        assert run.data.metrics[key] >= 0, key
    assert "time/compile_s" not in run.data.metrics
    assert not any(key.startswith("umap.") for key in run.data.params)
    assert {"embedding_scatter.png", "confusion_matrix.png"} <= artifacts_of(store, run)


@pytest.mark.parametrize("overrides, message", [
    (["embedding.method=tsne", "data.subset=60"], "tsne.perplexity=30.0 is invalid"),
    (["embedding.method=tsne", "tsne.perplexity=0"], "tsne.perplexity=0.0 is invalid"),
    (["embedding.method=tsne", "tsne.learning_rate=-5"], "tsne.learning_rate=-5 is invalid"),
    (["embedding.method=tsne", "embedding.n_components=4"], "embedding.n_components=4 is invalid"),
    (["embedding.n_components=0"], "embedding.n_components=0 is invalid"),
    (["umap.n_neighbors=1"], "umap.n_neighbors=1 is invalid"),
    (["umap.n_neighbors=100", "data.subset=100"], "umap.n_neighbors=100 is invalid"),
    (["umap.metric=l1"], "umap.metric='l1' is invalid"),
    (["umap.min_dist=1.5"], "umap.min_dist=1.5 is invalid"),
    (["embedding.method=pca"], "embedding.method='pca' is invalid"),
])
def test_invalid_values_rejected(overrides, message):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["pipeline=embedding", *overrides])
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    assert message in str(error.value)


def test_bad_sweep_value_starts_no_job(tmp_path, store):
    result = run_cli(["-m", *EMBEDDING, "embedding.n_components=2,0"], tmp_path, store)
    assert result.returncode == 2
    assert "embedding.n_components=0 is invalid" in result.stdout + result.stderr
    assert runs_of(store) == []


def test_perplexity_too_large_fails_before_fit(tmp_path, store):
    result = run_cli(["pipeline=embedding", "embedding.method=tsne", "data.subset=60"], tmp_path, store)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "tsne.perplexity=30.0 is invalid" in output
    assert "raise data.subset" in output
    assert runs_of(store) == []


@pytest.fixture(scope="module")
def images():
    split = load_split(subset=SUBSET)
    return split.x_train.astype(np.float32) / 255.0, split.x_eval.astype(np.float32) / 255.0


@pytest.mark.parametrize("reducer_class, threads", [(UMAPEmbedding, 2), (TSNEEmbedding, 1)])
def test_seeded_reducer_repeats_itself(images, reducer_class, threads):
    x_train, x_eval = images
    results = []
    for _ in range(2):
        reducer = reducer_class(n_components=2, seed=3, deterministic=True, threads=threads).fit(x_train)
        results.append((reducer.train_embedding_, reducer.transform(x_eval)))
    assert results[0][0].shape == (len(x_train), 2)
    assert results[0][1].shape == (len(x_eval), 2)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_effective_threads_per_method():
    assert UMAPEmbedding(deterministic=True, threads=2).effective_threads == 1
    assert UMAPEmbedding(deterministic=False, threads=1).effective_threads == 1
    # numba rejects more threads than cores, so the count is capped.
    assert UMAPEmbedding(deterministic=False, threads=1000).effective_threads == len(os.sched_getaffinity(0))
    assert TSNEEmbedding(deterministic=True, threads=2).effective_threads == 2


def test_knn_sweep_embeds_once(tmp_path, store):
    result = run_cli(["-m", "pipeline=embedding", f"data.subset={SUBSET}", "threads=1", "knn.k=5,15",
                      f"cache.dir={tmp_path / 'cache'}"], tmp_path, store)
    assert result.returncode == 0, result.stderr[-3000:]

    children = sorted((r for r in runs_of(store) if "mlflow.parentRunId" in r.data.tags),
                      key=lambda r: r.info.start_time)
    assert len(children) == 2
    assert children[0].data.tags["fmnist.embedding_reused"] == "False"
    assert children[1].data.tags["fmnist.embedding_reused"] == "True"
    # The reused run logs the times measured when the embedding was computed.
    first, second = (child.data.metrics["time/reduce_fit_s"] for child in children)
    assert first == second
