"""Find the Fashion-MNIST files on disk, downloading them into a user cache when missing."""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from fmnist.data.idx import OFFICIAL_FILES, IDXError, load_official

log = logging.getLogger(__name__)

ENV_VAR = "FMNIST_DATA"
# Debian's dataset-fashion-mnist package installs the four .gz files here.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
# The mirror named in the Fashion-MNIST README.
OFFICIAL_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


class DataNotFoundError(FileNotFoundError):
    """The Fashion-MNIST files are in none of the places searched and cannot be downloaded."""


def cache_dir() -> Path:
    """Return the per-user cache folder (``$XDG_CACHE_HOME/fmnist`` or ``~/.cache/fmnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist"


def find_file(folder: Path, name: str) -> Path | None:
    """Return ``folder/name.gz`` or ``folder/name``, whichever exists first, else None."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def complete(folder: Path) -> bool:
    """Tell whether ``folder`` contains all four official files."""
    return all(find_file(folder, spec.name) for spec in OFFICIAL_FILES.values())


def missing_names(folder: Path) -> list[str]:
    return [spec.name for spec in OFFICIAL_FILES.values() if find_file(folder, spec.name) is None]


def resolve_root(root: str | None, download: bool, mirror: str) -> Path:
    """Return the folder to read the data from.

    The search order is ``root`` (the ``data.root`` setting), the ``FMNIST_DATA`` environment
    variable, Debian's ``/usr/share/datasets/fashion-mnist``, then the user cache, which is
    filled from ``mirror`` when ``download`` is true. An explicit ``root`` or ``FMNIST_DATA``
    that lacks files is an error rather than a reason to look elsewhere.
    """
    for setting, value in (("data.root", root), (ENV_VAR, os.environ.get(ENV_VAR))):
        if value:
            folder = Path(value).expanduser()
            if complete(folder):
                return folder
            raise DataNotFoundError(
                f"{setting}={value}: missing {', '.join(missing_names(folder))} (.gz or plain). "
                f"Put the four official IDX files there, or unset {setting} to use "
                f"{SYSTEM_DIR} or the download cache."
            )
    if complete(SYSTEM_DIR):
        return SYSTEM_DIR
    cache = cache_dir()
    if complete(cache):
        return cache
    if not download:
        raise DataNotFoundError(
            f"Fashion-MNIST not found in {SYSTEM_DIR} or {cache}, and data.download=false. "
            "Install Debian's dataset-fashion-mnist package, set data.root or FMNIST_DATA, "
            "or set data.download=true."
        )
    download_official(cache, mirror)
    return cache


def download_official(folder: Path, mirror: str) -> None:
    """Download the missing official ``.gz`` files from ``mirror`` into ``folder``.

    Each file is written to a temporary name, checked (layout and SHA-256), then renamed, so
    an interrupted download never leaves a partial file under the final name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for spec in OFFICIAL_FILES.values():
        if find_file(folder, spec.name):
            continue
        url = mirror.rstrip("/") + f"/{spec.name}.gz"
        target = folder / f"{spec.name}.gz"
        log.info("Downloading %s to %s", url, target)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{spec.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                _fetch(url, out)
            try:
                load_official(Path(temporary), spec)
            except IDXError as error:
                raise IDXError(f"download from {url} is not the official file: {error}") from error
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


def _fetch(url: str, out) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as error:
        raise DataNotFoundError(
            f"download of {url} failed ({error}). Check data.mirror and the network, or install "
            "Debian's dataset-fashion-mnist package, or copy the four files into a folder and "
            "set data.root."
        ) from error
