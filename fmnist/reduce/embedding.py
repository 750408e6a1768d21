"""UMAP and t-SNE (openTSNE) behind one scikit-learn fit/transform interface.

Both reducers fit on the training images only and place new images with ``transform``
(UMAP's own ``transform``, openTSNE's ``TSNEEmbedding.transform``), so the evaluation
images never take part in a fit. :data:`REDUCERS` maps ``embedding.method`` to the class.

``deterministic=True`` passes the seed to the library as ``random_state``. UMAP 0.5 then
ignores ``n_jobs`` and runs on one thread. openTSNE 1.0 keeps its ``threads`` threads. Its
results repeat with one thread (tests/test_embedding.py). They also repeated with two threads
on 3,000 images in a manual check, which no test enforces.
``deterministic=False`` passes no seed, UMAP runs on ``threads`` threads (all cores when
None), and results differ from run to run.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

log = logging.getLogger(__name__)


def numba_cache_dir() -> Path:
    """Return the folder where numba stores compiled UMAP functions between processes."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist" / "numba"


# numba reads NUMBA_CACHE_DIR once, when umap or pynndescent first imports it, so this module
# sets the variable at import time. A value set by the user wins.
os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))

# Rows of the training set used by UMAP's warm-up fit, which compiles numba's functions.
WARM_UP_ROWS = 500

# UMAP switches from exact to approximate (NN-descent) neighbours at this many rows. The
# warm-up forces the approximate path when the real fit takes it, so that it compiles too.
UMAP_APPROXIMATE_FROM = 4096


def _all_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class UMAPEmbedding(TransformerMixin, BaseEstimator):
    """UMAP (umap-learn) with a separately timed numba warm-up.

    Parameters
    ----------
    n_components : int, default=2
    n_neighbors : int, default=15
        Size of the local neighbourhood, 2 to n_samples - 1.
    min_dist : float, default=0.1
        Minimum distance between embedded points, 0 to 1 (UMAP's ``spread`` is 1).
    metric : str, default="euclidean"
        Distance in the input space, any name umap-learn accepts.
    seed : int, default=0
    deterministic : bool, default=True
        Pass ``seed`` as ``random_state`` (UMAP then runs on one thread); False runs on
        ``threads`` threads with results that differ from run to run.
    threads : int, optional
        Threads when not deterministic; None uses every core.
    """

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean",
                 seed=0, deterministic=True, threads=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.seed = seed
        self.deterministic = deterministic
        self.threads = threads

    @property
    def effective_threads(self) -> int:
        if self.deterministic:
            return 1
        # numba's thread pool has one thread per core by default (NUMBA_NUM_THREADS) and
        # rejects larger counts.
        return min(self.threads or _all_cores(), _all_cores())

    def _umap(self, **overrides):
        import umap

        settings = {
            "n_components": self.n_components,
            "n_neighbors": self.n_neighbors,
            "min_dist": self.min_dist,
            "metric": self.metric,
            "random_state": self.seed if self.deterministic else None,
            "n_jobs": 1 if self.deterministic else self.effective_threads,
        }
        settings.update(overrides)
        return umap.UMAP(**settings)

    def warm_up(self, X, n_fit_rows: int) -> float:
        """Compile numba's functions with a small fit and transform; return the seconds taken.

        ``n_fit_rows`` is the size of the real fit, which decides whether UMAP takes the
        approximate-neighbour path that the warm-up must compile as well. The time includes
        the small fit itself.
        """
        import numba

        if not self.deterministic:
            numba.set_num_threads(self.effective_threads)
        rows = X[:WARM_UP_ROWS]
        start = time.perf_counter()
        model = self._umap(
            n_neighbors=min(self.n_neighbors, len(rows) - 1),
            n_epochs=10,
            force_approximation_algorithm=n_fit_rows >= UMAP_APPROXIMATE_FROM,
        )
        model.fit(rows)
        model.transform(rows[:50])
        return time.perf_counter() - start

    def fit(self, X, y=None):
        self.model_ = self._umap()
        self.model_.fit(X)
        return self

    def transform(self, X):
        return self.model_.transform(X)

    @property
    def train_embedding_(self) -> np.ndarray:
        return self.model_.embedding_


class TSNEEmbedding(TransformerMixin, BaseEstimator):
    """t-SNE (openTSNE) that places new points into a fitted embedding.

    Parameters
    ----------
    n_components : int, default=2
        1 to 3. Three components use Barnes-Hut gradients, which like scikit-learn's TSNE
        support fewer than four components.
    perplexity : float, default=30
        Effective number of neighbours; each point uses 3 x perplexity neighbours, so it
        must be below (n_samples - 1) / 3.
    learning_rate : float or "auto", default="auto"
        "auto" is openTSNE's n_samples / exaggeration (12 in the early phase, then 1).
    seed : int, default=0
    deterministic : bool, default=True
        Pass ``seed`` as ``random_state``; False draws a new random state each fit.
    threads : int, optional
        Threads for the neighbour search and the gradients; None uses every core.
    """

    def __init__(self, n_components=2, perplexity=30.0, learning_rate="auto", seed=0,
                 deterministic=True, threads=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.learning_rate = learning_rate
        self.seed = seed
        self.deterministic = deterministic
        self.threads = threads

    @property
    def effective_threads(self) -> int:
        return self.threads or _all_cores()

    @property
    def gradient_method(self) -> str:
        # openTSNE's FFT interpolation exists for one and two dimensions only; "auto" picks
        # Barnes-Hut below 10,000 points and FFT from there on.
        return "auto" if self.n_components <= 2 else "bh"

    def warm_up(self, X, n_fit_rows: int) -> float:
        """Return 0: openTSNE is compiled ahead of time (Cython), so nothing needs warming up."""
        return 0.0

    def fit(self, X, y=None):
        from openTSNE import TSNE

        tsne = TSNE(
            n_components=self.n_components,
            perplexity=self.perplexity,
            learning_rate=self.learning_rate,
            negative_gradient_method=self.gradient_method,
            random_state=self.seed if self.deterministic else None,
            n_jobs=self.effective_threads,
        )
        self.embedding_ = tsne.fit(np.asarray(X, dtype=np.float64))
        return self

    def transform(self, X):
        placed = self.embedding_.transform(np.asarray(X, dtype=np.float64))
        return np.asarray(placed)

    @property
    def train_embedding_(self) -> np.ndarray:
        return np.asarray(self.embedding_)


# Reducer class per embedding.method. The config section of the same name contains its parameters.
REDUCERS: dict[str, type] = {"umap": UMAPEmbedding, "tsne": TSNEEmbedding}
