"""Pipeline ``knn``: PCA with pca.alpha components, then kNN with knn.k neighbours.

Within a sweep, the PCA fit and the neighbour lists are computed once and reused by every
job (see :mod:`fmnist.reuse`). Each run still logs what its point costs alone, measured when
the shared result was computed, and tags which parts it reused.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from fmnist import reuse
from fmnist.classify.knn import search, vote
from fmnist.classify.metrics import log_confusion, scores
from fmnist.data import CLASS_NAMES, Split
from fmnist.pipelines.common import load_data, log_data, want_png
from fmnist.reduce.pca import fit_pca
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)


def projections(split: Split, cfg: DictConfig, folder: Path | None) -> tuple[dict, bool]:
    """Return the train and eval projections on pca.alpha components, with their timings."""
    alpha = cfg.pca.alpha
    fit_components = max(alpha, reuse.plan_max("pca.alpha", alpha))
    fit_components = min(fit_components, split.n_train, 784)
    solver, seed = cfg.pca.svd_solver, cfg.seed

    def fit():
        x_train = split.x_train / 255.0
        pca, fit_s = fit_pca(x_train, fit_components, solver, seed)
        return {"mean": pca.mean_, "components": pca.components_, "fit_s": np.array(fit_s)}

    model, fit_reused = reuse.cached(("pca", split.digest, fit_components, solver, seed), fit, folder)

    def center():
        return {"train": split.x_train / 255.0 - model["mean"], "eval": split.x_eval / 255.0 - model["mean"]}

    # Centering is shared by every alpha; the projection on alpha components is timed per alpha.
    centered, _ = reuse.cached(("pca-centered", split.digest, fit_components, solver, seed), center, None)

    def transform():
        start = time.perf_counter()
        train = centered["train"] @ model["components"][:alpha].T
        evaluation = centered["eval"] @ model["components"][:alpha].T
        return {"train": train, "eval": evaluation, "transform_s": np.array(time.perf_counter() - start)}

    projected, _ = reuse.cached(("pca-proj", split.digest, fit_components, solver, seed, alpha), transform, None)
    return {**projected, "fit_s": model["fit_s"], "fit_components": fit_components}, fit_reused


def neighbours(split: Split, projected: dict, cfg: DictConfig, folder: Path | None) -> tuple[dict, bool]:
    """Return sorted neighbour lists at the sweep's largest k for this alpha and metric."""
    k_search = min(max(cfg.knn.k, reuse.plan_max("knn.k", cfg.knn.k)), split.n_train)
    key = ("neighbours", split.digest, projected["fit_components"], cfg.pca.svd_solver, cfg.seed,
           cfg.pca.alpha, cfg.knn.metric, k_search)

    def compute():
        start = time.perf_counter()
        found = search(projected["train"], projected["eval"], k_search, cfg.knn.metric, threads=cfg.threads)
        return {
            "indices": found.indices.astype(np.int32),
            "search_s": np.array(time.perf_counter() - start),
            "fallbacks": np.array(found.exact_fallbacks),
            "k_search": np.array(k_search),
        }

    return reuse.cached(key, compute, folder)


def run(cfg: DictConfig, run: JobRun) -> dict[str, float]:
    """Run one (k, alpha, metric) point and log its metrics, times and confusion matrix."""
    wall_start = time.perf_counter()
    split = load_data(cfg)
    log_data(run, split)
    folder = reuse.cache_folder(cfg.cache)

    projected, pca_reused = projections(split, cfg, folder)
    found, search_reused = neighbours(split, projected, cfg, folder)

    start = time.perf_counter()
    predictions = vote(split.y_train[found["indices"][:, : cfg.knn.k]], cfg.knn.k, len(CLASS_NAMES))
    vote_s = time.perf_counter() - start

    metrics = scores(split.y_eval, predictions)
    reduce_s = float(projected["fit_s"] + projected["transform_s"])
    knn_s = float(found["search_s"]) + vote_s
    metrics.update({
        "time/reduce_fit_s": float(projected["fit_s"]),
        "time/reduce_transform_s": float(projected["transform_s"]),
        "time/reduce_s": reduce_s,
        "time/search_s": float(found["search_s"]),
        "time/vote_s": vote_s,
        "time/knn_s": knn_s,
        "time/total_s": reduce_s + knn_s,
        "time/wall_s": time.perf_counter() - wall_start,
    })
    run.log_metrics(metrics)
    run.set_tags({
        "fmnist.pca_fit_components": projected["fit_components"],
        "fmnist.pca_reused": pca_reused,
        "fmnist.search_k": int(found["k_search"]),
        "fmnist.search_reused": search_reused,
        "fmnist.exact_fallbacks": int(found["fallbacks"]),
    })
    title = f"PCA {cfg.pca.alpha} + kNN k={cfg.knn.k} ({cfg.knn.metric}), accuracy {metrics['accuracy']:.4f}"
    log_confusion(run, split.y_eval, predictions, title, png=want_png(cfg))
    log.info("k=%d alpha=%d %s: accuracy %.4f", cfg.knn.k, cfg.pca.alpha, cfg.knn.metric, metrics["accuracy"])
    return metrics
