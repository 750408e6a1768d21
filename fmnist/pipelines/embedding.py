"""Pipeline ``embedding``: a UMAP or t-SNE embedding, then kNN with knn.k neighbours in it.

The reducer (``embedding.method``) fits on the training images and places the evaluation
images with ``transform``. A seeded (``embedding.deterministic=true``) embedding is cached
like the PCA pipeline's fits (see :mod:`fmnist.reuse`), so a sweep over ``knn.k`` embeds once;
each run still logs the times measured when the embedding was computed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from fmnist import reuse
from fmnist.classify.knn import KNNClassifier
from fmnist.classify.metrics import log_confusion, scores
from fmnist.data import CLASS_NAMES, Split
from fmnist.pipelines.common import load_data, log_data, want_png
from fmnist.reduce.embedding import REDUCERS
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)

METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE"}


def make_reducer(cfg: DictConfig):
    """Build the reducer that ``embedding.method`` names, with its section's parameters."""
    method = cfg.embedding.method
    params = OmegaConf.to_container(cfg[method], resolve=True)
    return REDUCERS[method](
        n_components=cfg.embedding.n_components,
        seed=cfg.embedding.seed,
        deterministic=cfg.embedding.deterministic,
        threads=cfg.threads,
        **params,
    )


def embed(split: Split, cfg: DictConfig, reducer, folder: Path | None) -> tuple[dict, bool]:
    """Return the train and eval embeddings with their timings, and whether they were reused."""
    x_train = split.x_train.astype(np.float32) / 255.0
    x_eval = split.x_eval.astype(np.float32) / 255.0

    def compute():
        # CPU seconds (all threads of this process) next to wall seconds, because wall times
        # on shared cores depend on what else runs.
        cpu_start = time.process_time()
        compile_s = reducer.warm_up(x_train, split.n_train)
        compile_cpu_s = time.process_time() - cpu_start

        start, cpu_start = time.perf_counter(), time.process_time()
        reducer.fit(x_train)
        fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        log.info("Fitted %s on %d images in %.1f s", cfg.embedding.method, split.n_train, fit_s)

        start, cpu_start = time.perf_counter(), time.process_time()
        embedded_eval = reducer.transform(x_eval)
        transform_s, transform_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        return {
            "train": np.asarray(reducer.train_embedding_, dtype=np.float64),
            "eval": np.asarray(embedded_eval, dtype=np.float64),
            "compile_s": np.array(compile_s),
            "compile_cpu_s": np.array(compile_cpu_s),
            "fit_s": np.array(fit_s),
            "fit_cpu_s": np.array(fit_cpu_s),
            "transform_s": np.array(transform_s),
            "transform_cpu_s": np.array(transform_cpu_s),
        }

    if not cfg.embedding.deterministic:
        return compute(), False
    method = cfg.embedding.method
    params = tuple(sorted(OmegaConf.to_container(cfg[method], resolve=True).items()))
    key = ("embedding", split.digest, method, cfg.embedding.n_components, cfg.embedding.seed, params)
    return reuse.cached(key, compute, folder)


def scatter_figure(points: np.ndarray, labels: np.ndarray, title: str):
    """Draw the first two embedding components coloured by class, with a legend of class names.

    A one-component embedding is drawn against the class index.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 7))
    colours = plt.get_cmap("tab10")
    for label, name in enumerate(CLASS_NAMES):
        chosen = labels == label
        x = points[chosen, 0]
        y = points[chosen, 1] if points.shape[1] > 1 else np.full(chosen.sum(), label)
        axes.scatter(x, y, s=3, alpha=0.6, color=colours(label), label=name, linewidths=0)
    axes.set_xlabel("component 1")
    axes.set_ylabel("component 2" if points.shape[1] > 1 else "class")
    axes.set_title(title)
    axes.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
    return figure


def describe(cfg: DictConfig) -> str:
    """Return a short label such as ``UMAP n_neighbors=15 min_dist=0.1 metric=euclidean, 2D``."""
    method = cfg.embedding.method
    params = " ".join(f"{key}={value}" for key, value in cfg[method].items())
    return f"{METHOD_NAMES[method]} {params}, {cfg.embedding.n_components}D"


def run(cfg: DictConfig, run: JobRun) -> dict[str, float]:
    """Embed, classify the evaluation images with kNN in the embedding, and log the results."""
    wall_start = time.perf_counter()
    split = load_data(cfg)
    log_data(run, split)
    folder = reuse.cache_folder(cfg.cache)

    reducer = make_reducer(cfg)
    threads = reducer.effective_threads
    log.info("%s on %d training images with %d thread(s)", describe(cfg), split.n_train, threads)
    if cfg.embedding.method == "umap" and cfg.embedding.deterministic:
        log.info("UMAP runs on one thread because it is seeded; embedding.deterministic=false "
                 "uses `threads` threads (all cores when null) without a seed")
    embedded, reused = embed(split, cfg, reducer, folder)

    start, cpu_start = time.perf_counter(), time.process_time()
    classifier = KNNClassifier(cfg.knn.k, cfg.knn.metric, threads=cfg.threads).fit(embedded["train"], split.y_train)
    predictions = classifier.predict(embedded["eval"])
    knn_s, knn_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start

    metrics = scores(split.y_eval, predictions)
    fit_s, transform_s = float(embedded["fit_s"]), float(embedded["transform_s"])
    metrics.update({
        "time/reduce_fit_s": fit_s,
        "time/reduce_fit_cpu_s": float(embedded["fit_cpu_s"]),
        "time/reduce_transform_s": transform_s,
        "time/reduce_transform_cpu_s": float(embedded["transform_cpu_s"]),
        "time/reduce_s": fit_s + transform_s,
        "time/knn_s": knn_s,
        "time/knn_cpu_s": knn_cpu_s,
        "time/total_s": fit_s + transform_s + knn_s,
        "time/wall_s": time.perf_counter() - wall_start,
        "embedding_threads": threads,
    })
    if cfg.embedding.method == "umap":
        metrics["time/compile_s"] = float(embedded["compile_s"])
        metrics["time/compile_cpu_s"] = float(embedded["compile_cpu_s"])
    run.log_metrics(metrics)
    run.set_tags({
        # Both reducers place the evaluation images with transform, never refitting on them.
        "fmnist.embedding_fit_on": "train",
        "fmnist.embedding_reused": reused,
    })

    title = f"{describe(cfg)}: evaluation images, kNN k={cfg.knn.k} accuracy {metrics['accuracy']:.4f}"
    run.log_figure(scatter_figure(embedded["eval"], split.y_eval, title), "embedding_scatter.png")
    log_confusion(run, split.y_eval, predictions, title, png=want_png(cfg))
    log.info("%s, k=%d %s: accuracy %.4f, fit %.1f s, transform %.1f s, kNN %.2f s", describe(cfg),
             cfg.knn.k, cfg.knn.metric, metrics["accuracy"], fit_s, transform_s, knn_s)
    return metrics
