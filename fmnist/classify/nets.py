"""Neural classifiers of Fashion-MNIST as LightningModules: dense MLPs and a small CNN.

Every module takes images as float tensors of shape (n, 784) scaled to [0, 1], returns
logits for the 10 classes, trains with Adam on the cross-entropy, and logs ``train_loss``,
``train_acc``, ``val_loss`` and ``val_acc`` once per epoch. The pipeline builds them with
``hydra.utils.instantiate`` from the ``classifier`` config section.
"""

from __future__ import annotations

from typing import Sequence

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

N_PIXELS = 28 * 28
N_CLASSES = 10


def dense_layers(n_inputs: int, hidden_sizes: Sequence[int], dropout: float) -> list[nn.Module]:
    """Build Linear + ReLU (+ Dropout) per hidden size, then the Linear output layer."""
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, N_CLASSES))
    return layers


class ImageClassifier(pl.LightningModule):
    """Training, validation and prediction steps shared by every architecture.

    Subclasses set ``self.net``, a module that maps a (n, 784) batch to (n, 10) logits.
    """

    def __init__(self, learning_rate: float, lr_schedule: str = "constant"):
        super().__init__()
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.net: nn.Module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        # Epoch means weighted by batch size, so a short last batch counts for what it holds.
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=len(labels))
        self.log(f"{stage}_acc", accuracy, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(images).argmax(dim=1)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.learning_rate)
        if self.lr_schedule == "constant":
            return optimizer
        # Cosine decay to 0 over the epoch budget, stepped once per epoch.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.trainer.max_epochs))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class MLPClassifier(ImageClassifier):
    """Dense network: 784 inputs, one Linear + ReLU layer per hidden size, 10 logits.

    Parameters
    ----------
    hidden_sizes
        Units per hidden layer, e.g. ``[128]`` or ``[300, 200, 100]``.
    dropout
        Dropout probability after every hidden layer; 0 adds no dropout layers.
    learning_rate
        Adam learning rate.
    lr_schedule
        ``constant``, or ``cosine``: decay to 0 over ``trainer.max_epochs``.
    """

    def __init__(self, hidden_sizes: Sequence[int] = (128,), dropout: float = 0.0, learning_rate: float = 1e-3,
                 lr_schedule: str = "constant"):
        super().__init__(learning_rate, lr_schedule)
        self.save_hyperparameters()
        self.net = nn.Sequential(*dense_layers(N_PIXELS, list(hidden_sizes), dropout))


class CNNClassifier(ImageClassifier):
    """Convolutional network: conv blocks, then a dense head.

    Each entry of ``channels`` adds a block Conv2d(3 x 3, padding 1) + BatchNorm2d + ReLU +
    MaxPool2d(2), so the 28 x 28 image shrinks to 14 x 14, then 7 x 7, and so on. The feature
    maps are flattened and passed through Linear + ReLU layers of ``hidden_sizes`` units
    (with ``dropout``) to the 10 logits.

    Parameters
    ----------
    channels
        Output channels per convolution block, e.g. ``[32, 64]``; at most 4 blocks, because
        a fifth would pool a 1 x 1 map.
    hidden_sizes
        Units per dense hidden layer after the convolutions.
    dropout
        Dropout probability after every dense hidden layer.
    learning_rate
        Adam learning rate.
    lr_schedule
        ``constant``, or ``cosine``: decay to 0 over ``trainer.max_epochs``.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), hidden_sizes: Sequence[int] = (128,),
                 dropout: float = 0.25, learning_rate: float = 1e-3, lr_schedule: str = "constant"):
        super().__init__(learning_rate, lr_schedule)
        self.save_hyperparameters()
        if not 1 <= len(channels) <= 4:
            raise ValueError(f"channels={list(channels)} is invalid: list 1 to 4 output channel counts, e.g. [32, 64]")
        blocks: list[nn.Module] = [nn.Unflatten(1, (1, 28, 28))]
        side, width = 28, 1
        for out_channels in channels:
            blocks += [nn.Conv2d(width, out_channels, kernel_size=3, padding=1), nn.BatchNorm2d(out_channels),
                       nn.ReLU(), nn.MaxPool2d(2)]
            side, width = side // 2, out_channels
        blocks.append(nn.Flatten())
        self.net = nn.Sequential(*blocks, *dense_layers(width * side * side, list(hidden_sizes), dropout))
