"""Lightning training inside a job's MLflow run: one point per epoch, epoch as the step.

Lightning's own MLflow logger steps metrics by optimizer step and opens runs of its own. A
callback that writes ``trainer.callback_metrics`` into the job's run at the end of every
epoch instead keeps exactly one run per job, with epoch-indexed curves.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint

from fmnist.pipelines.common import in_multirun
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)


class EpochMetricsToRun(Callback):
    """Log every epoch-level metric Lightning collected into ``run``, with step = epoch."""

    def __init__(self, run: JobRun):
        self.run = run

    def _log(self, trainer: pl.Trainer, prefix_filter: tuple[str, ...]) -> None:
        if trainer.sanity_checking:
            return
        for key, value in trainer.callback_metrics.items():
            if key.startswith(prefix_filter):
                self.run.log_metric_now(key, float(value), step=trainer.current_epoch)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._log(trainer, ("train_",))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._log(trainer, ("val_",))


def output_dir() -> Path:
    """Return the job's Hydra output folder, or the current folder outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path.cwd()


def make_trainer(cfg: DictConfig, run: JobRun, monitor: str = "val_loss", mode: str = "min") -> pl.Trainer:
    """Build a Trainer from the ``trainer`` section, logging into ``run``.

    Checkpoints go to the job's output folder (never the current folder), the best one by
    ``monitor`` is kept, and early stopping follows ``trainer.early_stopping``. The progress
    bar shows on a terminal outside multiruns.
    """
    settings = cfg.trainer
    callbacks: list[Callback] = [EpochMetricsToRun(run)]
    checkpoint = ModelCheckpoint(dirpath=output_dir() / "checkpoints", monitor=monitor, mode=mode, save_top_k=1)
    callbacks.append(checkpoint)
    if settings.early_stopping.enabled:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=settings.early_stopping.patience,
                                       min_delta=settings.early_stopping.min_delta))
    quiet = in_multirun() or not sys.stdout.isatty()
    if quiet:
        logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    return pl.Trainer(
        max_epochs=settings.max_epochs,
        accelerator=settings.accelerator,
        devices=settings.devices,
        precision=settings.precision,
        deterministic=settings.deterministic,
        logger=False,
        callbacks=callbacks,
        default_root_dir=str(output_dir()),
        enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
    )


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    """Return the path of the best checkpoint kept by :func:`make_trainer`, if any."""
    for callback in trainer.callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.best_model_path:
            return callback.best_model_path
    return None
