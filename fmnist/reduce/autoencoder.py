"""Dense autoencoder for 784-pixel images: the layer-size rules and the LightningModule.

The encoder maps the 784 pixels (scaled to [0, 1]) through hidden layers to a linear code
layer of ``latent_dim`` units. The decoder mirrors the encoder back to 784 sigmoid outputs.
Training minimizes the mean squared reconstruction error with Adam.
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

N_PIXELS = 784


def encoder_widths(latent_dim: int, depth: int | None = None, widths: list[int] | None = None) -> list[int]:
    """Return the encoder's layer widths after the input, ending with the code layer.

    With ``widths`` the encoder is ``widths + [latent_dim]``. Otherwise ``depth`` (odd) counts
    every hidden layer, the code layer included, so the encoder has ``(depth - 1) / 2`` layers
    before the code whose widths shrink geometrically from 784 towards ``latent_dim``:
    ``round(784 * (latent_dim / 784) ** (i / m))`` for ``i = 1 .. m - 1``, ``m = (depth + 1) / 2``.

    Raises
    ------
    ValueError
        If the shape is impossible; the message names the config key.
    """
    if not 1 <= latent_dim <= N_PIXELS:
        raise ValueError(f"autoencoder.latent_dim={latent_dim} is invalid: must be an integer in [1, {N_PIXELS}]")
    if widths is not None:
        widths = [int(w) for w in widths]
        if not widths:
            raise ValueError("autoencoder.widths=[] is invalid: list at least one width, or set it to null")
        if any(w < 1 for w in widths):
            raise ValueError(f"autoencoder.widths={widths} is invalid: every width must be a positive integer")
        return widths + [latent_dim]
    if depth is None or depth < 1 or depth % 2 == 0:
        raise ValueError(f"autoencoder.depth={depth} is invalid: must be an odd integer >= 1")
    steps = (depth + 1) // 2
    ratio = latent_dim / N_PIXELS
    hidden = [max(1, round(N_PIXELS * ratio ** (i / steps))) for i in range(1, steps)]
    return hidden + [latent_dim]


def layer_sizes(latent_dim: int, depth: int | None = None, widths: list[int] | None = None) -> list[int]:
    """Return every layer's size from input to output, e.g. ``[784, 210, 56, 15, 56, 210, 784]``."""
    encoder = encoder_widths(latent_dim, depth, widths)
    return [N_PIXELS] + encoder + encoder[-2::-1] + [N_PIXELS]


def _stack(sizes: list[int], activation: type[nn.Module], last: nn.Module | None) -> nn.Sequential:
    """Chain Linear layers over ``sizes`` with ``activation`` between them and ``last`` at the end."""
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(activation())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class DenseAutoencoder(pl.LightningModule):
    """Mirrored dense autoencoder with a linear code layer and a sigmoid output.

    Parameters
    ----------
    sizes : list of int
        Layer sizes from input to output, as :func:`layer_sizes` returns them.
    activation : str
        Name of a ``torch.nn`` activation class (e.g. ``"ReLU"``) used after every hidden
        layer except the code layer.
    learning_rate : float
        Adam learning rate.
    """

    def __init__(self, sizes: list[int], activation: str = "ReLU", learning_rate: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        activation_class = getattr(nn, activation)
        code_index = len(sizes) // 2
        self.encoder = _stack(sizes[: code_index + 1], activation_class, last=None)
        self.decoder = _stack(sizes[code_index:], activation_class, last=nn.Sigmoid())
        self.learning_rate = learning_rate
        self.loss = nn.MSELoss()

    @property
    def latent_dim(self) -> int:
        return self.hparams.sizes[len(self.hparams.sizes) // 2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def _step(self, batch) -> torch.Tensor:
        (x,) = batch
        return self.loss(self(x), x)

    def training_step(self, batch, batch_idx):
        loss = self._step(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._step(batch), on_step=False, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def _map(self, module: nn.Module, x: np.ndarray, batch_size: int) -> np.ndarray:
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        parts = []
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32, device=device)
            parts.append(module(batch).cpu().numpy())
        self.train(was_training)
        return np.concatenate(parts) if parts else np.empty((0, self.latent_dim), dtype=np.float32)

    def encode(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Return the codes of ``x`` (float pixels in [0, 1], shape (n, 784)), shape (n, latent_dim)."""
        return self._map(self.encoder, x, batch_size)

    def reconstruct(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Return the reconstructions of ``x`` (float pixels in [0, 1]), shape (n, 784)."""
        return self._map(self, x, batch_size)
