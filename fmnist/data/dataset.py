"""Fashion-MNIST as train and evaluation arrays under one of the two protocols."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from fmnist.data.idx import OFFICIAL_FILES, load_official
from fmnist.data.locate import find_file, resolve_root

log = logging.getLogger(__name__)

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
PROTOCOLS = ("holdout", "official")


@dataclass(frozen=True, eq=False)
class Split:
    """Training and evaluation images (uint8, flattened to 784 pixels) with their labels.

    Under ``holdout`` the evaluation part is a stratified 20% of the official training set;
    under ``official`` it is the official 10,000-image test set.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    protocol: str
    digest: str  # identifies the files, the protocol and the split settings
    root: Path

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_eval(self) -> int:
        return len(self.y_eval)


@functools.lru_cache(maxsize=2)
def load_raw(root: Path, verify: bool = True) -> dict[str, np.ndarray | str]:
    """Load the four official arrays from ``root`` and the SHA-256 of each file."""
    arrays: dict[str, np.ndarray | str] = {}
    for key, spec in OFFICIAL_FILES.items():
        path = find_file(root, spec.name)
        array, digest = load_official(path, spec, verify=verify)
        arrays[key] = array
        arrays[f"{key}_sha256"] = digest
    return arrays


def load_split(
    root: str | None = None,
    protocol: str = "holdout",
    eval_fraction: float = 0.2,
    seed: int = 0,
    subset: int | None = None,
    verify: bool = True,
    download: bool = True,
    mirror: str = "",
) -> Split:
    """Return the split for ``protocol``, cached per process.

    Parameters
    ----------
    root, download, mirror : see :func:`fmnist.data.locate.resolve_root`.
    protocol : {"holdout", "official"}
    eval_fraction : float
        Share of the official training set held out for evaluation under ``holdout``.
    seed : int
        Seed of the stratified split and of the subset.
    subset : int, optional
        Keep a stratified sample of this many training images, and the same share of the
        evaluation images.
    verify : bool
        Check the SHA-256 of every file against the official value.
    """
    folder = resolve_root(root, download, mirror)
    return _load_split(folder, protocol, eval_fraction, seed, subset, verify)


@functools.lru_cache(maxsize=4)
def _load_split(
    folder: Path, protocol: str, eval_fraction: float, seed: int, subset: int | None, verify: bool
) -> Split:
    raw = load_raw(folder, verify)
    x_all = raw["train_images"].reshape(-1, 784)
    y_all = raw["train_labels"]
    if protocol == "holdout":
        x_train, x_eval, y_train, y_eval = train_test_split(
            x_all, y_all, test_size=eval_fraction, stratify=y_all, random_state=seed
        )
    else:
        x_train, y_train = x_all, y_all
        x_eval, y_eval = raw["test_images"].reshape(-1, 784), raw["test_labels"]
    if subset is not None and subset < len(y_train):
        eval_size = max(10, round(subset * len(y_eval) / len(y_train)))
        x_train, y_train = _stratified_sample(x_train, y_train, subset, seed)
        x_eval, y_eval = _stratified_sample(x_eval, y_eval, eval_size, seed)

    identity = "|".join(
        [raw[f"{key}_sha256"] for key in OFFICIAL_FILES]
        + [protocol, str(eval_fraction), str(seed), str(subset)]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    log.info(
        "Fashion-MNIST from %s, protocol %s: %d train / %d eval images",
        folder, protocol, len(y_train), len(y_eval),
    )
    return Split(
        np.ascontiguousarray(x_train),
        np.ascontiguousarray(y_train),
        np.ascontiguousarray(x_eval),
        np.ascontiguousarray(y_eval),
        protocol,
        digest,
        folder,
    )


def _stratified_sample(x: np.ndarray, y: np.ndarray, size: int, seed: int):
    x_part, _, y_part, _ = train_test_split(x, y, train_size=size, stratify=y, random_state=seed)
    return x_part, y_part
