"""Exact k-nearest-neighbour search (faiss, refined in float64) and majority votes.

faiss searches in float32. Its candidate lists are over-fetched by ``margin`` neighbours and
re-ranked with float64 distances, so the neighbours returned are those that scikit-learn's
brute-force ``KNeighborsClassifier`` finds, except where the k-th and (k+1)-th distances tie.
A query whose float32 candidate list may have missed a true neighbour is searched again
exactly with numpy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faiss
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

log = logging.getLogger(__name__)

METRICS = ("l1", "l2")
_FAISS_METRIC = {"l1": faiss.METRIC_L1, "l2": faiss.METRIC_L2}


@dataclass(frozen=True)
class Neighbours:
    """Sorted neighbour lists: ``indices[i, j]`` is the j-th nearest training row of query i.

    ``distances`` are float64 L1 distances, or squared L2 distances for ``l2``.
    """

    indices: np.ndarray
    distances: np.ndarray
    exact_fallbacks: int  # queries re-searched exactly because float32 ranking was unsure


def _exact_distances(train: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    diff = queries[:, None, :] - train[None, :, :]
    if metric == "l1":
        return np.abs(diff).sum(axis=2)
    return np.einsum("ijk,ijk->ij", diff, diff)


def search(
    train: np.ndarray,
    queries: np.ndarray,
    k: int,
    metric: str = "l1",
    margin: int = 16,
    threads: int | None = None,
) -> Neighbours:
    """Find the ``k`` nearest training rows of every query.

    Parameters
    ----------
    train, queries : ndarray of shape (n, d)
        Float64 features; faiss receives float32 copies.
    k : int
        Number of neighbours, 1 <= k <= len(train).
    metric : {"l1", "l2"}
    margin : int
        Extra float32 candidates to re-rank in float64.
    threads : int, optional
        OpenMP threads for faiss; by default faiss's own setting.
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not supported; use one of {METRICS}")
    if not 1 <= k <= len(train):
        raise ValueError(f"k={k} must be between 1 and the number of training rows ({len(train)})")
    train = np.ascontiguousarray(train, dtype=np.float64)
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    if threads is not None:
        faiss.omp_set_num_threads(threads)

    fetch = min(len(train), k + margin)
    index = faiss.IndexFlat(train.shape[1], _FAISS_METRIC[metric])
    index.add(train.astype(np.float32))
    approx, candidates = index.search(queries.astype(np.float32), fetch)

    # Re-rank the candidates with float64 distances; ties keep the lower training index.
    gathered = train[candidates]  # (n, fetch, d)
    diff = gathered - queries[:, None, :]
    exact = np.abs(diff).sum(axis=2) if metric == "l1" else np.einsum("ijk,ijk->ij", diff, diff)
    order = np.lexsort((candidates, exact), axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)
    exact = np.take_along_axis(exact, order, axis=1)

    # A true neighbour can be missing from the candidates only if float32 rounding moved it
    # past the last candidate; those queries are searched again exactly.
    fallbacks = 0
    if fetch < len(train):
        tolerance = _float32_tolerance(train, queries, approx[:, -1], metric)
        unsure = np.flatnonzero(approx[:, -1] - tolerance <= exact[:, k - 1])
        fallbacks = len(unsure)
        for row in unsure:
            full = _exact_distances(train, queries[row : row + 1], metric)[0]
            best = np.lexsort((np.arange(len(train)), full))[:fetch]
            candidates[row], exact[row] = best, full[best]
        if fallbacks:
            log.debug("%d of %d queries re-searched exactly", fallbacks, len(queries))
    return Neighbours(candidates[:, :k], exact[:, :k], fallbacks)


def _float32_tolerance(train, queries, last, metric):
    """Bound on how far faiss's float32 distance can be from the float64 one."""
    eps = 4 * np.finfo(np.float32).eps * train.shape[1]
    if metric == "l2":
        scale = (queries**2).sum(axis=1) + (train**2).sum(axis=1).max()
    else:
        scale = np.abs(queries).sum(axis=1) + np.abs(train).sum(axis=1).max()
    return eps * (scale + np.abs(last))


def vote(neighbour_labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Return the majority class among the first ``k`` neighbours of every query.

    Equal counts go to the lowest class label, as in scikit-learn's uniform-weight vote.
    """
    counts = np.zeros((len(neighbour_labels), n_classes), dtype=np.int32)
    rows = np.arange(len(neighbour_labels))
    for column in range(k):
        counts[rows, neighbour_labels[:, column]] += 1
    return counts.argmax(axis=1)


class KNNClassifier(ClassifierMixin, BaseEstimator):
    """Uniform-vote kNN classifier on :func:`search`, for features from any reducer.

    Parameters
    ----------
    n_neighbors : int, default=15
    metric : {"l1", "l2"}, default="l1"
    threads : int, optional
        OpenMP threads for faiss.
    """

    def __init__(self, n_neighbors: int = 15, metric: str = "l1", threads: int | None = None):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.threads = threads

    def fit(self, X, y):
        if self.metric not in METRICS:
            raise ValueError(f"metric={self.metric!r} is not supported; use one of {METRICS}")
        if not 1 <= self.n_neighbors <= len(X):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be between 1 and the number of "
                f"training rows ({len(X)})"
            )
        self.classes_, self._y = np.unique(np.asarray(y), return_inverse=True)
        self._X = np.ascontiguousarray(X, dtype=np.float64)
        return self

    def kneighbors(self, X) -> Neighbours:
        return search(self._X, X, self.n_neighbors, self.metric, threads=self.threads)

    def predict(self, X):
        neighbours = self.kneighbors(X)
        votes = vote(self._y[neighbours.indices], self.n_neighbors, len(self.classes_))
        return self.classes_[votes]
