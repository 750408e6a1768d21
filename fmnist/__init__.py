"""Hydra + MLflow experiment system for Fashion-MNIST."""

__version__ = "0.1.0"
