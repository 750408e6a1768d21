"""Pipeline ``classifier``: a neural classifier trained with Lightning, with learning curves.

The validation set for early stopping and the best checkpoint is a stratified
``classifier.val_fraction`` of the training part, so the evaluation part, on which the test
metrics are reported, never steers training. Under ``data.protocol=holdout`` that gives
43,200 / 4,800 training / validation images and 12,000 test images; under ``official``,
54,000 / 6,000 and the official 10,000.
"""

from __future__ import annotations

import logging
import signal
import time
import warnings
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from mlflow.entities import Metric
from omegaconf import DictConfig, OmegaConf
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

import pytorch_lightning as pl
from fmnist.classify.metrics import log_confusion, scores
from fmnist.classify.nets import ImageClassifier
from fmnist.pipelines.common import load_data, log_data
from fmnist.runtime import apply_threads
from fmnist.track.lightning import best_checkpoint, make_trainer
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)

# Keys of the classifier section that this pipeline reads; the others go to the module.
PIPELINE_KEYS = ("name", "batch_size", "val_fraction", "restore_best")
CURVE_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")
PREDICT_BATCH = 4096


def build_module(section: DictConfig) -> ImageClassifier:
    """Instantiate the LightningModule named by ``classifier._target_``.

    Null keys are left out, so a class gets its own default for them (the MLPs take no
    ``channels``).
    """
    values: dict[str, Any] = OmegaConf.to_container(section, resolve=True)
    arguments = {key: value for key, value in values.items() if key not in PIPELINE_KEYS and value is not None}
    return instantiate(arguments, _convert_="all")


def to_tensors(images: np.ndarray, labels: np.ndarray) -> TensorDataset:
    """Scale uint8 pixels to float32 in [0, 1] and pair them with int64 labels."""
    return TensorDataset(torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64)))


def fit(trainer: pl.Trainer, module: ImageClassifier, train: DataLoader, val: DataLoader) -> None:
    """Run ``trainer.fit`` and turn Lightning's Ctrl+C handling back into KeyboardInterrupt.

    Lightning 2.6 catches KeyboardInterrupt, ignores SIGINT from then on and calls
    ``sys.exit(1)``. Without this, the run would be closed FAILED instead of KILLED, and
    Ctrl+C could no longer stop the rest of a sweep.
    """
    try:
        trainer.fit(module, train, val)
    except SystemExit:
        if not trainer.interrupted:
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt from None


def predict(module: ImageClassifier, images: torch.Tensor) -> np.ndarray:
    """Return the predicted class of every image, computed in batches of PREDICT_BATCH."""
    module.eval()
    predictions = []
    with torch.inference_mode():
        for batch in torch.split(images, PREDICT_BATCH):
            predictions.append(module(batch.to(module.device)).argmax(dim=1).cpu())
    return torch.cat(predictions).numpy()


def curves(run: JobRun) -> dict[str, list[Metric]]:
    """Read the per-epoch curves back from the run, ordered by epoch."""
    return {key: sorted(run.client.get_metric_history(run.run_id, key), key=lambda m: m.step) for key in CURVE_KEYS}


def learning_curve_figure(history: dict[str, list[Metric]], best_epoch: int, title: str):
    """Draw loss and accuracy per epoch, training against validation, with the best epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(11, 4))
    for axes, quantity, label in ((loss_axes, "loss", "cross-entropy loss"), (acc_axes, "acc", "accuracy")):
        for stage, style in (("train", "o-"), ("val", "s-")):
            points = history[f"{stage}_{quantity}"]
            axes.plot([m.step for m in points], [m.value for m in points], style,
                      label="training" if stage == "train" else "validation")
        axes.axvline(best_epoch, color="grey", linestyle=":", label=f"best validation accuracy (epoch {best_epoch})")
        axes.set_xlabel("epoch (from 0, as the MLflow step)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def run(cfg: DictConfig, run: JobRun) -> dict[str, float]:
    """Train the classifier, test it on the evaluation part, and log curves, metrics, figures and the model."""
    wall_start = time.perf_counter()
    settings = cfg.classifier
    # fmnist.train applied the thread count before torch was imported, so apply it to torch now.
    apply_threads(cfg.threads)
    pl.seed_everything(cfg.seed, verbose=False)
    module = build_module(settings)
    split = load_data(cfg)
    log_data(run, split)

    x_fit, x_val, y_fit, y_val = train_test_split(
        split.x_train, split.y_train, test_size=settings.val_fraction, stratify=split.y_train, random_state=cfg.data.seed,
    )
    run.set_tags({"fmnist.n_fit": len(y_fit), "fmnist.n_val": len(y_val)})
    log.info("%s: %d training, %d validation, %d test images", settings.name, len(y_fit), len(y_val), split.n_eval)

    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(to_tensors(x_fit, y_fit), batch_size=settings.batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(to_tensors(x_val, y_val), batch_size=PREDICT_BATCH)
    trainer = make_trainer(cfg, run, monitor="val_acc", mode="max")

    start = time.perf_counter()
    with warnings.catch_warnings():
        # In-memory tensors need no loader worker processes.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        fit(trainer, module, train_loader, val_loader)
    train_s = time.perf_counter() - start

    history = curves(run)
    val_acc = history["val_acc"]
    epochs = len(val_acc)
    best = max(val_acc, key=lambda m: m.value) if val_acc else None
    best_epoch = best.step if best else epochs - 1
    checkpoint = best_checkpoint(trainer)
    restored = bool(settings.restore_best and checkpoint)
    if restored:
        module = type(module).load_from_checkpoint(checkpoint, map_location=module.device)
    elif settings.restore_best:
        log.warning("No checkpoint was saved, so the weights of the last epoch are tested")

    test_images = torch.from_numpy(split.x_eval.astype(np.float32) / 255.0)
    start = time.perf_counter()
    predictions = predict(module, test_images)
    predict_s = time.perf_counter() - start

    metrics = scores(split.y_eval, predictions)
    metrics.update({
        "best_epoch": best_epoch,
        "best_val_acc": best.value if best else float("nan"),
        "epochs": epochs,
        "n_params": module.n_parameters,
        "time/train_s": train_s,
        "time/epoch_s": train_s / max(epochs, 1),
        "time/predict_s": predict_s,
        "time/total_s": train_s + predict_s,
        "time/wall_s": time.perf_counter() - wall_start,
    })
    run.log_metrics(metrics)
    run.set_tags({"fmnist.tested_weights": f"best (epoch {best_epoch})" if restored else "last epoch"})

    title = f"{settings.name}: test accuracy {metrics['accuracy']:.4f}"
    # A run trains for minutes, so it always draws its figures unless tracking.confusion_png=never.
    log_confusion(run, split.y_eval, predictions, title, png=cfg.tracking.confusion_png != "never")
    run.log_figure(learning_curve_figure(history, best_epoch, title), "learning_curves.png")
    save_model(module, test_images[:5].numpy(), run)
    log.info("%s: test accuracy %.4f after %d epochs (best epoch %d), %.1f s per epoch",
             settings.name, metrics["accuracy"], epochs, best_epoch, metrics["time/epoch_s"])
    return metrics


def save_model(module: ImageClassifier, example: np.ndarray, run: JobRun) -> None:
    """Stage the module as an MLflow PyTorch model under ``model/``.

    MLflow 3 saves it in the pt2 format (``torch.export``, traced on ``example`` with a free
    batch size), so ``mlflow.pytorch.load_model`` and ``mlflow.pyfunc.load_model`` need no
    fmnist code to load it.
    """
    import mlflow.pytorch
    import pytorch_lightning

    # Listing the requirements skips MLflow's inference, which loads the model in a subprocess.
    requirements = [f"torch=={torch.__version__}", f"pytorch-lightning=={pytorch_lightning.__version__}"]
    mlflow.pytorch.save_model(module.cpu().eval(), str(run.artifact_path("model")), input_example=example,
                              pip_requirements=requirements)
