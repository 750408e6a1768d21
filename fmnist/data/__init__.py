"""Loading, verifying and splitting the official Fashion-MNIST files."""

from fmnist.data.dataset import CLASS_NAMES, PROTOCOLS, Split, load_split
from fmnist.data.idx import IDXError
from fmnist.data.locate import DataNotFoundError

__all__ = ["CLASS_NAMES", "PROTOCOLS", "Split", "load_split", "IDXError", "DataNotFoundError"]
