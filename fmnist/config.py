"""Structured config: the types and keys of every section, and the checks run before any work.

The YAML files under ``conf/`` contain the values and their comments. The dataclasses here
give each key its type, so Hydra rejects unknown keys and wrongly typed values. The range checks in
:func:`validate` run before any data is loaded, both for a single run and, in a multirun, for
every job of the sweep before the first one starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig


class ConfigError(ValueError):
    """A config value is out of its accepted range or inconsistent with another value."""


@dataclass
class PipelineConfig:
    name: str = MISSING
    # The pipeline's function, called as fn(cfg, run) by hydra.utils.instantiate.
    fn: Any = MISSING
    # Top-level sections whose values define a run of this pipeline: logged as params and
    # hashed into the run's identity.
    sections: list[str] = MISSING


@dataclass
class DataConfig:
    root: Optional[str] = None
    protocol: str = "holdout"
    eval_fraction: float = 0.2
    seed: int = 0
    subset: Optional[int] = None
    verify: bool = True
    download: bool = True
    mirror: str = MISSING


@dataclass
class PCAConfig:
    alpha: int = 15
    svd_solver: str = "full"


@dataclass
class KNNConfig:
    k: int = 15
    metric: str = "l1"


@dataclass
class EmbeddingConfig:
    method: str = "umap"
    n_components: int = 2
    seed: int = 0
    deterministic: bool = True


@dataclass
class UMAPConfig:
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"


@dataclass
class TSNEConfig:
    perplexity: float = 30.0
    # A positive number or "auto" (openTSNE's choice), so the type is left open.
    learning_rate: Any = "auto"


@dataclass
class AutoencoderConfig:
    latent_dim: int = 15
    depth: Optional[int] = 5
    widths: Optional[list[int]] = None
    activation: str = "relu"
    learning_rate: float = 1e-3
    batch_size: int = 32
    val_fraction: float = 0.1


@dataclass
class ClassifierConfig:
    # The LightningModule class. Its constructor gets the keys below that are not null,
    # except name, batch_size, val_fraction and restore_best, which the pipeline reads.
    _target_: str = "fmnist.classify.nets.MLPClassifier"
    name: str = "simple"
    hidden_sizes: list[int] = field(default_factory=lambda: [128])
    channels: Optional[list[int]] = None
    dropout: float = 0.0
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: int = 128
    val_fraction: float = 0.1
    restore_best: bool = True


@dataclass
class TrackingConfig:
    uri: Optional[str] = None
    experiment: Optional[str] = None
    run_name: Optional[str] = None
    parent_run_id: Optional[str] = None
    server_timeout_s: float = 5.0
    http_max_retries: int = 2
    http_timeout_s: float = 30.0
    confusion_png: str = "auto"
    skip_finished: bool = True


@dataclass
class ReportConfig:
    # Write the comparison report when a sweep ends and log it to the sweep's parent run.
    auto: bool = True


@dataclass
class CacheConfig:
    dir: Optional[str] = None
    max_bytes: int = 4_000_000_000
    enabled: bool = True


@dataclass
class EarlyStoppingConfig:
    enabled: bool = True
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class TrainerConfig:
    max_epochs: int = 20
    accelerator: str = "auto"
    devices: Any = "auto"
    precision: str = "32-true"
    deterministic: bool = False
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class TrainConfig:
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    data: DataConfig = field(default_factory=DataConfig)
    pca: PCAConfig = field(default_factory=PCAConfig)
    knn: KNNConfig = field(default_factory=KNNConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    umap: UMAPConfig = field(default_factory=UMAPConfig)
    tsne: TSNEConfig = field(default_factory=TSNEConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    threads: Optional[int] = None
    seed: int = 0


ConfigStore.instance().store(name="train_schema", node=TrainConfig)


# --- range checks -----------------------------------------------------------------------

def require(condition: bool, key: str, value: Any, accepted: str) -> None:
    """Raise :class:`ConfigError` naming ``key``, ``value`` and the accepted values."""
    if not condition:
        raise ConfigError(f"{key}={value!r} is invalid: {accepted}.")


def train_size(data: DataConfig | DictConfig) -> int:
    """Return the number of training images the data settings give, without loading them."""
    full = 60000 if data.protocol == "official" else 60000 - math.ceil(60000 * data.eval_fraction)
    return min(full, data.subset) if data.subset is not None else full


def check_data(cfg: DictConfig) -> None:
    data = cfg.data
    require(data.protocol in ("holdout", "official"), "data.protocol", data.protocol,
            "accepted values are holdout (80/20 split of the training set) and official")
    require(0.0 < data.eval_fraction < 1.0, "data.eval_fraction", data.eval_fraction,
            "must be between 0 and 1 (exclusive)")
    if data.subset is not None:
        require(20 <= data.subset <= 60000, "data.subset", data.subset,
                "must be null (all images) or an integer in [20, 60000]")
    if data.root:
        from fmnist.data.locate import missing_names

        missing = missing_names(Path(data.root).expanduser())
        require(not missing, "data.root", data.root,
                f"the folder lacks {', '.join(missing)} (.gz or plain); put the four official "
                "IDX files there, or remove data.root to search the default places")


def check_pca(cfg: DictConfig) -> None:
    require(1 <= cfg.pca.alpha <= 784, "pca.alpha", cfg.pca.alpha,
            "must be an integer in [1, 784] (the number of pixels)")
    require(cfg.pca.alpha <= train_size(cfg.data), "pca.alpha", cfg.pca.alpha,
            f"must not exceed the training set size ({train_size(cfg.data)})")
    require(cfg.pca.svd_solver in ("full", "covariance_eigh", "randomized"), "pca.svd_solver",
            cfg.pca.svd_solver, "accepted values are full, covariance_eigh and randomized")


def check_knn(cfg: DictConfig) -> None:
    n_train = train_size(cfg.data)
    require(1 <= cfg.knn.k <= n_train, "knn.k", cfg.knn.k,
            f"must be an integer in [1, {n_train}] (the training set size)")
    require(cfg.knn.metric in ("l1", "l2"), "knn.metric", cfg.knn.metric,
            "accepted values are l1 (sum of absolute differences) and l2 (Euclidean)")


# Input-space distances accepted for umap.metric (a subset of umap-learn 0.5's named metrics).
UMAP_METRICS = ("euclidean", "manhattan", "chebyshev", "minkowski", "cosine", "correlation",
                "canberra", "braycurtis")


def check_embedding(cfg: DictConfig) -> None:
    embedding = cfg.embedding
    require(embedding.method in ("umap", "tsne"), "embedding.method", embedding.method,
            "accepted values are umap and tsne")
    require(1 <= embedding.n_components <= 784, "embedding.n_components", embedding.n_components,
            "must be an integer in [1, 784] (the number of pixels)")
    require(embedding.seed >= 0, "embedding.seed", embedding.seed, "must be an integer >= 0")


def check_umap(cfg: DictConfig) -> None:
    n_train = train_size(cfg.data)
    require(2 <= cfg.umap.n_neighbors < n_train, "umap.n_neighbors", cfg.umap.n_neighbors,
            f"must be an integer in [2, {n_train - 1}] (below the training set size, {n_train})")
    require(0.0 <= cfg.umap.min_dist <= 1.0, "umap.min_dist", cfg.umap.min_dist,
            "must be in [0, 1] (UMAP's spread is 1)")
    require(cfg.umap.metric in UMAP_METRICS, "umap.metric", cfg.umap.metric,
            f"accepted values are {', '.join(UMAP_METRICS)}")
    require(cfg.embedding.n_components < n_train - 1, "embedding.n_components", cfg.embedding.n_components,
            f"must be below {n_train - 1} for UMAP's spectral initialisation on {n_train} training images")


def check_tsne(cfg: DictConfig) -> None:
    n_train = train_size(cfg.data)
    # Each point's affinities use 3 x perplexity neighbours, which must exist.
    limit = (n_train - 1) / 3
    require(0 < cfg.tsne.perplexity < limit, "tsne.perplexity", cfg.tsne.perplexity,
            f"must be in (0, {limit:.1f}) for {n_train} training images, because t-SNE uses "
            "3 x perplexity neighbours per point: lower it or raise data.subset")
    rate = cfg.tsne.learning_rate
    require(rate == "auto" or (isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0),
            "tsne.learning_rate", rate, "must be auto or a number > 0")
    require(cfg.embedding.n_components <= 3, "embedding.n_components", cfg.embedding.n_components,
            "must be 1, 2 or 3 for t-SNE (Barnes-Hut gradients support fewer than 4 components)")


# Accepted autoencoder.activation names and their torch.nn classes.
ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU",
               "silu": "SiLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def check_autoencoder(cfg: DictConfig) -> None:
    ae = cfg.autoencoder
    require(1 <= ae.latent_dim <= 784, "autoencoder.latent_dim", ae.latent_dim,
            "must be an integer in [1, 784] (the number of input pixels)")
    if ae.widths is None:
        require(ae.depth is not None, "autoencoder.depth", ae.depth,
                "set autoencoder.depth (an odd number of hidden layers) or autoencoder.widths")
        require(ae.depth >= 1 and ae.depth % 2 == 1, "autoencoder.depth", ae.depth,
                "must be an odd integer >= 1: (depth - 1) / 2 encoder layers, the code layer "
                "and the mirrored decoder layers")
    else:
        widths = list(ae.widths)
        require(len(widths) > 0, "autoencoder.widths", widths,
                "must list at least one encoder width, or be null to build the shape from autoencoder.depth")
        require(all(w >= 1 for w in widths), "autoencoder.widths", widths,
                "every width must be a positive integer")
    require(ae.activation in ACTIVATIONS, "autoencoder.activation", ae.activation,
            f"accepted values are {', '.join(ACTIVATIONS)}")
    require(ae.learning_rate > 0, "autoencoder.learning_rate", ae.learning_rate, "must be > 0")
    require(ae.batch_size >= 1, "autoencoder.batch_size", ae.batch_size, "must be an integer >= 1")
    require(0.0 < ae.val_fraction < 1.0, "autoencoder.val_fraction", ae.val_fraction,
            "must be between 0 and 1 (exclusive)")


def check_classifier(cfg: DictConfig) -> None:
    clf = cfg.classifier
    require(len(clf.hidden_sizes) > 0 or clf.channels, "classifier.hidden_sizes", list(clf.hidden_sizes),
            "list at least one hidden layer size, e.g. [128]")
    require(all(size >= 1 for size in clf.hidden_sizes), "classifier.hidden_sizes", list(clf.hidden_sizes),
            "every size must be a positive integer")
    if clf.channels is not None:
        channels = list(clf.channels)
        require(1 <= len(channels) <= 4, "classifier.channels", channels,
                "list 1 to 4 convolution blocks (each halves the 28 x 28 image)")
        require(all(c >= 1 for c in channels), "classifier.channels", channels,
                "every channel count must be a positive integer")
    require(0.0 <= clf.dropout < 1.0, "classifier.dropout", clf.dropout, "must be in [0, 1)")
    require(clf.learning_rate > 0, "classifier.learning_rate", clf.learning_rate, "must be > 0")
    require(clf.lr_schedule in ("constant", "cosine"), "classifier.lr_schedule", clf.lr_schedule,
            "accepted values are constant and cosine (decay to 0 over trainer.max_epochs)")
    require(clf.batch_size >= 1, "classifier.batch_size", clf.batch_size, "must be an integer >= 1")
    require(0.0 < clf.val_fraction < 1.0, "classifier.val_fraction", clf.val_fraction,
            "must be between 0 and 1 (exclusive)")
    # The stratified split needs at least one image per class on both sides.
    n_train = train_size(cfg.data)
    n_val = math.ceil(n_train * clf.val_fraction)
    require(10 <= n_val <= n_train - 10, "classifier.val_fraction", clf.val_fraction,
            f"gives {n_val} validation images of {n_train}; both the validation and the training "
            "part need at least 10 images (one per class): raise data.subset or change the fraction")


def check_common(cfg: DictConfig) -> None:
    if cfg.threads is not None:
        require(cfg.threads >= 1, "threads", cfg.threads, "must be null (library default) or >= 1")
    require(cfg.tracking.server_timeout_s > 0, "tracking.server_timeout_s",
            cfg.tracking.server_timeout_s, "must be a positive number of seconds")
    require(cfg.tracking.http_max_retries >= 0, "tracking.http_max_retries",
            cfg.tracking.http_max_retries, "must be >= 0")
    require(cfg.tracking.confusion_png in ("auto", "always", "never"), "tracking.confusion_png",
            cfg.tracking.confusion_png, "accepted values are auto, always and never")


def check_trainer(cfg: DictConfig) -> None:
    require(cfg.trainer.max_epochs >= 1, "trainer.max_epochs", cfg.trainer.max_epochs, "must be >= 1")
    require(cfg.trainer.early_stopping.patience >= 1, "trainer.early_stopping.patience",
            cfg.trainer.early_stopping.patience, "must be >= 1")


# Checks per section; a pipeline's sections decide which run.
SECTION_CHECKS: dict[str, Callable[[DictConfig], None]] = {
    "data": check_data,
    "pca": check_pca,
    "knn": check_knn,
    "embedding": check_embedding,
    "umap": check_umap,
    "tsne": check_tsne,
    "autoencoder": check_autoencoder,
    "classifier": check_classifier,
    "trainer": check_trainer,
}


def validate(cfg: DictConfig) -> None:
    """Check every value the selected pipeline uses; raise :class:`ConfigError` on the first bad one."""
    check_common(cfg)
    for section in cfg.pipeline.sections:
        check = SECTION_CHECKS.get(section)
        if check is not None:
            check(cfg)
