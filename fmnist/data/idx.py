"""Reader for the IDX files that Fashion-MNIST ships in (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class IDXError(ValueError):
    """An IDX file is missing, truncated, corrupt or not the expected file."""


# IDX magic: two zero bytes, a type code, then the number of dimensions.
_UBYTE = 0x08


@dataclass(frozen=True)
class IDXFile:
    """The expected layout and content of one official Fashion-MNIST file."""

    name: str
    shape: tuple[int, ...]
    sha256: str  # of the decompressed bytes


# SHA-256 of the decompressed official files (zalandoresearch/fashion-mnist, data/fashion).
# Checksums of the .gz files are not used because redistributors recompress them.
OFFICIAL_FILES = {
    "train_images": IDXFile(
        "train-images-idx3-ubyte",
        (60000, 28, 28),
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": IDXFile(
        "train-labels-idx1-ubyte",
        (60000,),
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": IDXFile(
        "t10k-images-idx3-ubyte",
        (10000, 28, 28),
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": IDXFile(
        "t10k-labels-idx1-ubyte",
        (10000,),
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


def read_bytes(path: Path) -> bytes:
    """Read a file, decompressing it when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise IDXError(f"{path}: cannot be read ({error}); delete it or fix data.root") from error


def parse_idx(raw: bytes, path: Path, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Parse IDX bytes into an unsigned-byte array.

    Parameters
    ----------
    raw : bytes
        The decompressed file content.
    path : Path
        The file the bytes came from, named in every error.
    expected_shape : tuple of int, optional
        When given, the header must declare exactly this shape.

    Raises
    ------
    IDXError
        On a wrong magic number, an unexpected shape or a size that does not match the header.
    """
    if len(raw) < 4:
        raise IDXError(f"{path}: file is {len(raw)} bytes, too short for an IDX header")
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code != _UBYTE or ndim == 0:
        raise IDXError(
            f"{path}: wrong magic number 0x{raw[:4].hex()} "
            f"(expected 0x000008{len(expected_shape or ()):02x} for unsigned-byte IDX data)"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXError(f"{path}: truncated header ({len(raw)} of {header_size} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if expected_shape is not None and shape != tuple(expected_shape):
        raise IDXError(f"{path}: header declares shape {shape}, expected {tuple(expected_shape)}")
    payload = len(raw) - header_size
    expected_payload = int(np.prod(shape))
    if payload != expected_payload:
        state = "truncated" if payload < expected_payload else "has trailing bytes"
        raise IDXError(
            f"{path}: {state}: {payload} data bytes, the header's shape {shape} needs {expected_payload}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def load_official(path: Path, spec: IDXFile, verify: bool = True) -> tuple[np.ndarray, str]:
    """Load one official file, check its layout and, with ``verify``, its SHA-256.

    Returns the array and the SHA-256 of the decompressed bytes.
    """
    raw = read_bytes(path)
    array = parse_idx(raw, path, spec.shape)
    digest = hashlib.sha256(raw).hexdigest()
    if verify and digest != spec.sha256:
        raise IDXError(
            f"{path}: SHA-256 of the decompressed bytes is {digest}, expected {spec.sha256}; "
            "the file is corrupt or not the official Fashion-MNIST file. Delete it to download "
            "it again, or set data.verify=false to use modified data on purpose."
        )
    return array, digest
