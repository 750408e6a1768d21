"""PCA projections that serve every number of components up to the largest fitted."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from fmnist.reuse import timed


def fit_pca(x_train: np.ndarray, n_components: int, svd_solver: str, seed: int) -> tuple[PCA, float]:
    """Fit scikit-learn's PCA and return it with the fit time in seconds.

    With ``svd_solver="full"`` the first alpha components of this fit equal an alpha-component
    fit (to about 1e-12), so one fit at the largest alpha serves every smaller alpha.
    """
    pca = PCA(n_components=n_components, svd_solver=svd_solver, random_state=seed)
    _, seconds = timed(pca.fit, x_train)
    return pca, seconds

