"""The sweep engine's predictions equal scikit-learn's, except at k-th neighbour distance ties."""

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from fmnist import reuse
from fmnist.classify.knn import vote
from fmnist.data import load_split
from fmnist.pipelines.knn import neighbours, projections

ALPHAS = (1, 2, 8, 9, 15, 49)
KS = (1, 2, 15, 49)


@pytest.fixture(scope="module")
def split():
    return load_split(subset=4000)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_sweep_engine_matches_scikit_learn(split, metric):
    # As in a sweep: one PCA fit at the largest alpha, one search per alpha at the largest k.
    reuse.set_plan({"pca.alpha": list(ALPHAS), "knn.k": list(KS)})
    x_train, x_eval = split.x_train / 255.0, split.x_eval / 255.0
    sklearn_metric = "manhattan" if metric == "l1" else "euclidean"
    mismatches = ties = 0
    try:
        for alpha in ALPHAS:
            cfg = OmegaConf.create({"pca": {"alpha": alpha, "svd_solver": "full"}, "seed": 0, "threads": None,
                                    "knn": {"k": KS[0], "metric": metric}})
            projected, _ = projections(split, cfg, None)
            found, _ = neighbours(split, projected, cfg, None)
            pca = PCA(n_components=alpha, svd_solver="full").fit(x_train)
            train, evaluation = pca.transform(x_train), pca.transform(x_eval)
            for k in KS:
                ours = vote(split.y_train[found["indices"][:, :k]], k, 10)
                reference = KNeighborsClassifier(n_neighbors=k, metric=sklearn_metric, algorithm="brute")
                expected = reference.fit(train, split.y_train).predict(evaluation)
                differ = np.flatnonzero(ours != expected)
                mismatches += len(differ)
                if len(differ):
                    distances, _ = reference.kneighbors(evaluation[differ], n_neighbors=k + 1)
                    kth, next_one = distances[:, k - 1], distances[:, k]
                    tied = np.isclose(kth, next_one, rtol=1e-9, atol=1e-12)
                    ties += int(tied.sum())
                    assert tied.all(), f"alpha={alpha} k={k}: {int((~tied).sum())} differences without a tie"
    finally:
        reuse.set_plan({})
    print(f"{metric}: {mismatches} predictions differ, all at k-th/(k+1)-th distance ties")
    assert mismatches == ties
