"""Exact k-nearest-neighbour search (faiss, refined in float64) and majority votes.

faiss searches in float32. Its candidate lists are over-fetched by ``margin`` neighbours and
re-ranked with float64 distances, so the neighbours returned are those that scikit-learn's
brute-force ``KNeighborsClassifier`` finds, except where the k-th and (k+1)-th distances tie.
A query whose float32 candidate list may have missed a true neighbour is searched again
exactly with numpy. In up to KDTREE_MAX_DIM dimensions a float64 k-d tree finds the candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faiss
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KDTree

log = logging.getLogger(__name__)

METRICS = ("l1", "l2")
# Up to this many features the exact k-d tree replaces faiss (see search).
KDTREE_MAX_DIM = 8
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
    if train.shape[1] <= KDTREE_MAX_DIM:
        # In a few dimensions float32 L2 distances (|q|^2 + |x|^2 - 2 q.x) lose most of their
        # digits to cancellation, while a k-d tree searches exactly in float64 and fast.
        tree = KDTree(train, metric="manhattan" if metric == "l1" else "euclidean")
        candidates = tree.query(queries, k=fetch, return_distance=False)
        approx = None
    else:
        index = faiss.IndexFlat(train.shape[1], _FAISS_METRIC[metric])
        index.add(train.astype(np.float32))
        approx, candidates = index.search(queries.astype(np.float32), fetch)

    candidates, exact = _rerank(train, queries, candidates, metric)

    # A true neighbour can be missing from faiss's candidates only if float32 rounding moved
    # it past the last candidate; those queries are searched again exactly.
    fallbacks = 0
    if approx is not None and fetch < len(train):
        tolerance = _float32_tolerance(queries, approx[:, -1], metric)
        unsure = np.flatnonzero(approx[:, -1] - tolerance <= exact[:, k - 1])
        fallbacks = len(unsure)
        for row in unsure:
            full = _exact_distances(train, queries[row : row + 1], metric)[0]
            best = np.lexsort((np.arange(len(train)), full))[:fetch]
            candidates[row], exact[row] = best, full[best]
        if fallbacks:
            log.debug("%d of %d queries re-searched exactly", fallbacks, len(queries))
    return Neighbours(candidates[:, :k], exact[:, :k], fallbacks)


def _rerank(train, queries, candidates, metric, chunk=1024):
    """Sort candidates by float64 distance, ties by training index (chunked to stay in cache)."""
    exact = np.empty(candidates.shape, dtype=np.float64)
    for start in range(0, len(queries), chunk):
        rows = slice(start, start + chunk)
        diff = train[candidates[rows]] - queries[rows, None, :]
        exact[rows] = np.abs(diff).sum(axis=2) if metric == "l1" else np.einsum("ijk,ijk->ij", diff, diff)
    order = np.lexsort((candidates, exact), axis=1)
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(exact, order, axis=1)


def _float32_tolerance(queries, last, metric):
    """Bound how far faiss's float32 distance can be from the float64 one, per query.

    Only training points within the float64 k-th distance matter, so their norms are bounded
    by the query's norm plus that distance. ``last`` (faiss's last candidate distance) is an
    upper bound for that distance. The factor 4 * d * eps covers rounding of inputs and the sums.
    """
    eps = 4 * np.finfo(np.float32).eps * queries.shape[1]
    last = np.maximum(last, 0.0)
    if metric == "l2":
        norm = np.sqrt((queries**2).sum(axis=1))
        scale = norm**2 + (norm + np.sqrt(last)) ** 2
    else:
        scale = 2 * np.abs(queries).sum(axis=1) + 2 * last
    return eps * (scale + last)


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
