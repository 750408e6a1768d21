"""Pipeline ``autoencoder``: train a dense autoencoder, encode both parts, classify the codes with kNN.

The autoencoder trains on the training part minus a held-out ``autoencoder.val_fraction`` that
gives ``val_loss`` for early stopping and checkpointing. The best checkpoint then encodes the
whole training part and the evaluation part, and :class:`KNNClassifier` with ``knn.k`` and
``knn.metric`` classifies the evaluation codes.
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, TensorDataset

from fmnist.classify.knn import KNNClassifier
from fmnist.classify.metrics import log_confusion, scores
from fmnist.config import ACTIVATIONS
from fmnist.data import CLASS_NAMES, Split
from fmnist.pipelines.common import load_data, log_data, want_png
from fmnist.reduce.autoencoder import DenseAutoencoder, layer_sizes
from fmnist.runtime import apply_threads
from fmnist.track.lightning import best_checkpoint, make_trainer
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)


def split_for_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return shuffled (fit, validation) row indices with at least one row on each side."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * fraction)), n - 1)
    return order[n_val:], order[:n_val]


def loaders(x: np.ndarray, batch_size: int, fraction: float, seed: int) -> tuple[DataLoader, DataLoader]:
    """Return the training loader (shuffled, seeded) and the validation loader over ``x``."""
    fit_rows, val_rows = split_for_validation(len(x), fraction, seed)
    tensor = torch.from_numpy(x)
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(tensor[fit_rows]), batch_size=batch_size, shuffle=True, generator=generator)
    val = DataLoader(TensorDataset(tensor[val_rows]), batch_size=max(batch_size, 1024))
    return train, val


def reconstruction_figure(originals: np.ndarray, reconstructed: np.ndarray, labels: np.ndarray, title: str):
    """Draw each original image (top row) above its reconstruction (bottom row), titled by class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(originals), figsize=(1.2 * len(originals), 2.8), squeeze=False)
    for column, (original, reconstruction) in enumerate(zip(originals, reconstructed)):
        for row, image in enumerate((original, reconstruction)):
            axes[row, column].imshow(image.reshape(28, 28), cmap="gray", vmin=0.0, vmax=1.0)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[0, column].set_title(CLASS_NAMES[labels[column]], fontsize=7)
    axes[0, 0].set_ylabel("original", fontsize=8)
    axes[1, 0].set_ylabel("reconstructed", fontsize=8)
    figure.suptitle(title, fontsize=9)
    return figure


def first_row_per_class(split: Split) -> list[int]:
    """Return the first evaluation row of each class present, in class order."""
    return [int(np.flatnonzero(split.y_eval == label)[0]) for label in range(len(CLASS_NAMES))
            if np.any(split.y_eval == label)]


def train_autoencoder(cfg: DictConfig, run: JobRun, x_train: np.ndarray) -> tuple[DenseAutoencoder, pl.Trainer]:
    """Train the configured autoencoder on ``x_train`` and return the best checkpoint's model."""
    settings = cfg.autoencoder
    widths = list(settings.widths) if settings.widths is not None else None
    sizes = layer_sizes(settings.latent_dim, settings.depth, widths)
    if widths is not None and settings.depth is not None:
        log.warning("autoencoder.depth=%s is ignored because autoencoder.widths is set", settings.depth)

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    model = DenseAutoencoder(sizes, ACTIVATIONS[settings.activation], settings.learning_rate)
    train_loader, val_loader = loaders(x_train, settings.batch_size, settings.val_fraction, cfg.seed)
    trainer = make_trainer(cfg, run, monitor="val_loss", mode="min")
    with warnings.catch_warnings():
        # In-memory tensors need no loader worker processes.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        # pytorch-lightning 2.6 calls a torch 2.13 pytree API that warns it is deprecated.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
        trainer.fit(model, train_loader, val_loader)

    # The best checkpoint is loaded onto the CPU, so encoding runs there even after GPU training.
    checkpoint = best_checkpoint(trainer)
    if checkpoint:
        model = DenseAutoencoder.load_from_checkpoint(checkpoint, map_location="cpu")
        shutil.copy(checkpoint, run.artifact_path("model/autoencoder.ckpt"))
    return model.cpu(), trainer


def run(cfg: DictConfig, run: JobRun) -> dict[str, float]:
    """Run one autoencoder + kNN point and log its metrics, times, figures and checkpoint."""
    wall_start = time.perf_counter()
    # torch may be imported only now, after fmnist.train applied the thread limit, so apply
    # it again for torch.
    apply_threads(cfg.threads)
    split = load_data(cfg)
    log_data(run, split)
    x_train = split.x_train.astype(np.float32) / 255.0
    x_eval = split.x_eval.astype(np.float32) / 255.0

    start = time.perf_counter()
    model, trainer = train_autoencoder(cfg, run, x_train)
    train_s = time.perf_counter() - start
    epochs = max(1, trainer.current_epoch)

    start = time.perf_counter()
    codes_train = model.encode(x_train)
    codes_eval = model.encode(x_eval)
    encode_s = time.perf_counter() - start
    reconstructed = model.reconstruct(x_eval)
    reconstruction_mse = float(np.mean((reconstructed - x_eval) ** 2))

    start = time.perf_counter()
    classifier = KNNClassifier(n_neighbors=cfg.knn.k, metric=cfg.knn.metric, threads=cfg.threads)
    predictions = classifier.fit(codes_train, split.y_train).predict(codes_eval)
    knn_s = time.perf_counter() - start

    metrics = scores(split.y_eval, predictions)
    metrics.update({
        "reconstruction_mse": reconstruction_mse,
        "n_params": float(model.n_parameters()),
        "epochs": float(epochs),
        "time/train_s": train_s,
        "time/epoch_s": train_s / epochs,
        "time/encode_s": encode_s,
        "time/reduce_s": train_s + encode_s,
        "time/knn_s": knn_s,
        "time/total_s": train_s + encode_s + knn_s,
        "time/wall_s": time.perf_counter() - wall_start,
    })
    run.log_metrics(metrics)
    sizes = model.hparams.sizes
    run.set_tags({"fmnist.ae_layer_sizes": " ".join(map(str, sizes)), "fmnist.ae_hidden_layers": len(sizes) - 2})

    shape = "-".join(map(str, sizes[: len(sizes) // 2 + 1]))
    title = f"Autoencoder {shape} + kNN k={cfg.knn.k} ({cfg.knn.metric}), accuracy {metrics['accuracy']:.4f}"
    rows = first_row_per_class(split)
    run.log_figure(reconstruction_figure(x_eval[rows], reconstructed[rows], split.y_eval[rows], title), "reconstructions.png")
    log_confusion(run, split.y_eval, predictions, title, png=want_png(cfg))
    log.info("autoencoder %s, %d epochs: reconstruction MSE %.5f, kNN accuracy %.4f",
             shape, epochs, reconstruction_mse, metrics["accuracy"])
    return metrics
