"""Steps every pipeline shares: loading the configured split and describing it in the run."""

from __future__ import annotations

import functools
import warnings

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from fmnist.data import Split, load_split
from fmnist.track.run import TAG_DATA, JobRun


def load_data(cfg: DictConfig) -> Split:
    data = cfg.data
    return load_split(
        root=data.root,
        protocol=data.protocol,
        eval_fraction=data.eval_fraction,
        seed=data.seed,
        subset=data.subset,
        verify=data.verify,
        download=data.download,
        mirror=data.mirror,
    )


@functools.lru_cache(maxsize=4)
def _dataset(split: Split):
    import mlflow.data

    with warnings.catch_warnings():
        # MLflow warns that a local folder matches two equivalent source types.
        warnings.simplefilter("ignore", UserWarning)
        return mlflow.data.from_numpy(
            split.x_train, targets=split.y_train,
            name=f"fashion-mnist-{split.protocol}-{split.digest}", source=str(split.root),
        )


def log_data(run: JobRun, split: Split) -> None:
    """Tag the run with the split's digest and log the training set as the run's input."""
    run.set_tags({TAG_DATA: split.digest, "fmnist.n_train": split.n_train, "fmnist.n_eval": split.n_eval})
    run.log_dataset(_dataset(split), "train")


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN"


def want_png(cfg: DictConfig) -> bool:
    """Tell whether this job draws its own figures (per tracking.confusion_png)."""
    setting = cfg.tracking.confusion_png
    return setting == "always" or (setting == "auto" and not in_multirun())
